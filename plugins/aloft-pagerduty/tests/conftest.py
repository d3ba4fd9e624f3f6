def pytest_configure(config):
    # Aloft's fixtures, as `pytest_plugins = ["aloft.testing"]` would load them; pytest allows
    # that only in a top-level conftest, which this one is not when the core's tests run too.
    config.pluginmanager.import_plugin("aloft.testing")
