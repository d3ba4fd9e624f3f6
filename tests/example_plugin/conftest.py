"""Aloft's own, not part of the example: where aloft-json-field is not installed (as in
Aloft's test run), its tests are skipped here; tests/test_example_plugin.py installs the
example into a virtual environment and runs them there."""

import importlib.metadata
from pathlib import Path

import pytest

TESTS = Path(__file__).parent / "tests"
NOT_INSTALLED = (
    "aloft-json-field is not installed here; tests/test_example_plugin.py installs it into a "
    "virtual environment and runs these tests there"
)


class NotInstalled(pytest.Collector):
    # Not a pytest.Directory: collecting one would load the conftest.py inside, whose
    # pytest_plugins pytest refuses below the top level.
    def collect(self):
        pytest.skip(NOT_INSTALLED)


def installed() -> bool:
    try:
        importlib.metadata.distribution("aloft-json-field")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if path == TESTS and not installed():
        return NotInstalled.from_parent(parent, name=path.name, path=path)
    return None
