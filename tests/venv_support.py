"""Virtual environments for tests that install a plugin for real, as a user would, without the network.

The venv sees this environment's packages (Aloft, its dependencies, pytest) after its own,
and pip installs the plugin into it with ``--no-deps`` and, when setuptools and wheel are at
hand, ``--no-build-isolation``: nothing is fetched.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path
from typing import Any

from aloft.testing import unavailable


def run(*command: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=180, **kwargs)


def see_this_environment(python: Path) -> None:
    """Let the venv at ``python`` import this environment's packages, after its own.

    ``system_site_packages`` would show it the base interpreter's packages, not those of
    the environment running the tests (tox's, say), where Aloft is installed. A ``.pth``
    line that calls ``site.addsitedir`` also runs this environment's own ``.pth`` files,
    so editable installs resolve there as they do here.
    """
    own = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    lines = "".join(f"import site; site.addsitedir({path!r})\n" for path in ours)
    Path(own, "aloft-test-parent-environment.pth").write_text(lines)


def environment_with(folder: Path, *distributions: Path, editable: bool = False) -> Path:
    """The Python of a new venv in ``folder`` that sees this environment's packages, with
    ``distributions`` (source folders) installed by pip."""
    try:
        venv.create(folder, with_pip=False)
    except (OSError, subprocess.CalledProcessError) as error:
        unavailable(f"cannot create a virtual environment: {error}")
    python = folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    see_this_environment(python)
    if run(python, "-m", "pip", "--version").returncode != 0:
        unavailable("pip is not installed, so a plugin cannot be installed")
    # With setuptools and wheel at hand pip builds offline; otherwise it fetches them from its index.
    offline = run(python, "-c", "import setuptools, wheel").returncode == 0
    for distribution in distributions:
        installed = run(
            python,
            "-m",
            "pip",
            "install",
            "--no-deps",
            *(["--no-build-isolation"] if offline else []),
            *(["-e"] if editable else []),
            distribution,
        )
        output = installed.stdout + installed.stderr
        if installed.returncode != 0 and not offline and "No matching distribution found" in output:
            unavailable("pip cannot build a plugin: install wheel here, or let pip reach an index with setuptools")
        assert installed.returncode == 0, output
    return python
