"""Package-level rules: the core never imports Streamlit; registries are keyed by the shared strings."""

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import ferviz


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(ferviz.__path__, "ferviz."):
        if not info.name.startswith("ferviz.ui") and info.name != "ferviz.__main__":
            names.append(info.name)
    return names


def test_core_never_imports_streamlit():
    code = ("import sys, importlib\n"
            f"for name in {core_modules()!r}:\n"
            "    importlib.import_module(name)\n"
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_every_core_module_imports():
    for name in core_modules():
        importlib.import_module(name)


def test_ruff_is_clean():
    """Lint is part of the suite, so CI (which runs exactly the README's test command) enforces it."""
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "ferviz", "pages", "app.py", "tests",
                             "bench"], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
