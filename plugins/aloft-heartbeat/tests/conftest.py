from typing import Any

import pytest
from flask.testing import FlaskClient
from heartbeat_support import create_heartbeat


def pytest_configure(config: pytest.Config) -> None:
    # Aloft's fixtures, as `pytest_plugins = ["aloft.testing"]` would load them; pytest allows
    # that only in a top-level conftest, which this one is not when the core's tests run too.
    config.pluginmanager.import_plugin("aloft.testing")


@pytest.fixture
def heartbeat(client: FlaskClient, auth_headers: dict[str, str]) -> dict[str, Any]:
    """A heartbeat monitor created through the API, as a user would."""
    return create_heartbeat(client, auth_headers)
