"""The data directory, the SQLite database with its -wal and -shm, and the secret key are private to Aloft's account."""

import os
import stat
from collections.abc import Iterator

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from aloft.app import create_app
from aloft.config import ConfigError
from aloft.extensions import db


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The usual umask (022), which leaves new files readable to everyone unless Aloft says otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_first_start_creates_everything_readable_by_its_owner_only(tmp_path, permissive_umask):
    data_dir = tmp_path / "aloft-data"
    app = create_app({"ALOFT_DATA_DIR": str(data_dir)})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:  # WAL mode: a connection keeps -wal and -shm in place
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            modes = {path.name: mode(path) for path in data_dir.iterdir()}
        db.engine.dispose()
    assert mode(data_dir) == 0o700
    assert modes == {"aloft.db": 0o600, "aloft.db-wal": 0o600, "aloft.db-shm": 0o600, "secret_key": 0o600}


def test_files_an_older_aloft_left_readable_are_narrowed_at_start(tmp_path, permissive_umask):
    data_dir = tmp_path / "aloft-data"
    data_dir.mkdir()
    for name in ("aloft.db", "aloft.db-wal", "secret_key"):
        (data_dir / name).write_text("" if name != "secret_key" else "s" * 32)
        (data_dir / name).chmod(0o644)
    create_app({"ALOFT_DATA_DIR": str(data_dir)})
    assert {path.name: mode(path) for path in data_dir.iterdir()} == {
        "aloft.db": 0o600,
        "aloft.db-wal": 0o600,
        "secret_key": 0o600,
    }


def test_a_database_file_elsewhere_is_created_private_too(tmp_path, permissive_umask):
    create_app({"ALOFT_DATA_DIR": str(tmp_path / "data"), "ALOFT_DATABASE_URL": f"sqlite:///{tmp_path / 'my.db'}"})
    assert mode(tmp_path / "my.db") == 0o600


def test_a_database_that_cannot_be_created_is_an_error_naming_the_setting(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"^ALOFT_DATA_DIR: cannot create "):
        create_app({"ALOFT_DATA_DIR": str(blocker / "data"), "ALOFT_SECRET_KEY": "k" * 20})


def test_the_rate_limit_counts_are_readable_by_their_owner_only(tmp_path, permissive_umask):
    data_dir = tmp_path / "aloft-data"
    app = create_app({"ALOFT_DATA_DIR": str(data_dir)})
    with app.app_context():
        upgrade()
    # A request without a key is counted per client IP: the counts' file is made then.
    assert app.test_client().get("/api/v1/status").status_code == 401
    assert {path.name: mode(path) for path in data_dir.iterdir() if path.name.startswith("ratelimits.db")} == {
        "ratelimits.db": 0o600,
        "ratelimits.db-wal": 0o600,
        "ratelimits.db-shm": 0o600,
    }
