"""Each module of Aloft imports first, before any other of Aloft's: no import cycle hides behind test order."""

import pkgutil
import subprocess
import sys

import aloft

MODULES = sorted(
    module.name for module in pkgutil.walk_packages(aloft.__path__, "aloft.") if module.name != "aloft.__main__"
)
# One interpreter: before each import every module of Aloft is forgotten (libraries stay loaded, for speed).
PROGRAM = """
import importlib, sys, traceback
for name in sys.argv[1:]:
    for loaded in [module for module in sys.modules if module == "aloft" or module.startswith("aloft.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as error:
        print(f"{name}: {type(error).__name__}: {error}")
"""


def test_each_module_imports_first():
    result = subprocess.run([sys.executable, "-c", PROGRAM, *MODULES], capture_output=True, text=True, timeout=300)
    assert len(MODULES) > 40
    assert (result.returncode, result.stdout.strip()) == (0, ""), result.stdout + result.stderr
