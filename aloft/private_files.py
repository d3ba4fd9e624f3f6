"""Files only the account Aloft runs as may read: the data directory (0700), the SQLite database
with its ``-wal`` and ``-shm`` files, and the generated secret key (0600).

The database holds API-key hashes and channel settings, the secret key unlocks both; another
account on the machine has no business reading them, whatever its umask left. SQLite creates
``-wal`` and ``-shm`` (and a rollback ``-journal``) with the mode of the database file, so the
database file is created 0600 before SQLite first opens it. Files an older Aloft left
readable to others are narrowed when Aloft starts.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

PRIVATE_DIRECTORY_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
#: The files SQLite keeps beside a database, named by suffix.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_directory(path: Path) -> None:
    """Create the directory ``path`` (0700) unless it exists; missing parents are created as usual."""
    path.mkdir(mode=PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)


def create_private_file(path: Path) -> int:
    """Create ``path`` (0600) and open it for writing; FileExistsError when it exists."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)


def narrow_to_owner(path: Path) -> None:
    """Take away every permission others have on ``path`` (a file Aloft owns), if it exists."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    if status.st_uid == os.getuid() and stat.S_IMODE(status.st_mode) & 0o077:
        path.chmod(stat.S_IMODE(status.st_mode) & ~0o077)


def private_sqlite_database(database_url: str) -> None:
    """Make a SQLite database file private before SQLite opens it: create it 0600, or narrow it
    and its companions when they exist.

    Other databases, in-memory ones and a directory that does not exist are left alone: the
    data directory is made only by commands that start an installation
    (:meth:`aloft.config.Settings.with_secret_key`), and the database's own checks say what is
    wrong with any other directory.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    path = Path(url.database).expanduser().resolve()
    if path.parent.is_dir():
        private_sqlite_file(path)


def private_sqlite_file(path: Path) -> None:
    """Create the SQLite file ``path`` 0600 in an existing directory, or narrow it and its companions."""
    with contextlib.suppress(FileExistsError):
        os.close(create_private_file(path))
    for file in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
        narrow_to_owner(file)
