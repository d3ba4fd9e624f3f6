pytest_plugins = ["aloft.testing"]
