"""Package-level rules: the core never imports Streamlit; registries are keyed by the shared strings."""

import importlib
import pkgutil
import subprocess
import sys

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
