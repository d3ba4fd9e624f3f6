from collections.abc import Iterator

import pytest


def pytest_configure(config):
    # Aloft's fixtures, as `pytest_plugins = ["aloft.testing"]` would load them; pytest allows
    # that only in a top-level conftest, which this one is not when the core's tests run too.
    config.pluginmanager.import_plugin("aloft.testing")


@pytest.fixture(params=["starttls", "tls"])
def smtp(request, trusted_ca) -> Iterator:
    """A local SMTP server with a certificate the client trusts, in each TLS mode."""
    from aloft.testing import SmtpServer  # imported late: pytest must rewrite aloft.testing's asserts first

    server = SmtpServer(trusted_ca, mode=request.param)
    yield server
    server.stop()


@pytest.fixture
def aloft_settings(tmp_path, aloft_database_url):
    """The app's settings carry an SMTP relay (a port nothing listens on; tests that send start their own)."""
    from aloft.testing import make_settings

    return make_settings(
        tmp_path / "data",
        aloft_database_url,
        ALOFT_SMTP_HOST="127.0.0.1",
        ALOFT_SMTP_PORT="2",
        ALOFT_SMTP_FROM="aloft@example.com",
    )
