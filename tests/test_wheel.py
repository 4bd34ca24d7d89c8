"""Packaging checks: pyproject declares every runtime dependency, and the built wheel installs and imports.

``pip install .`` (or from a git URL) only works if ``[project].dependencies`` names every third-party
distribution that ``ferviz/`` imports. The ranges there are compatible ranges; ``requirements.txt`` stays
the exact lock the tests ran with, so each of its pins must fall inside the matching range.

Everything here is offline: the wheel is built with ``--no-build-isolation --no-index`` and installed with
``--no-deps --no-index`` into a clean venv that sees the third-party packages of the environment running
the tests (a ``.pth`` file naming its site-packages folders: the system's, or those of the venv the README's
``python -m venv .venv`` made), so the only thing under test is ferviz itself coming from the wheel rather
than from the editable source checkout.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ferviz"


def _pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _declared() -> list[Requirement]:
    """The ``[project].dependencies`` of pyproject.toml, parsed."""
    return [Requirement(line) for line in _pyproject()["project"]["dependencies"]]


def _pins() -> dict[str, Version]:
    """The exact ``name==version`` pins of requirements.txt, by canonical name."""
    pins = {}
    for raw in (ROOT / "requirements.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier  # one exact pin per line
        assert spec.operator == "==", f"requirements.txt should pin exactly: {raw!r}"
        pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module name -> the ferviz files (relative) importing it, stdlib and ferviz left out.

    Every absolute import counts, including ones inside functions or ``try`` blocks: a lazy import still
    fails at run time if its distribution is missing.
    """
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".", 1)[0]
                if top != "ferviz" and top not in sys.stdlib_module_names and top != "__future__":
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_import_is_declared_and_versions_fit():
    """Imports map to declared distributions; installed versions and requirements.txt pins fit the ranges."""
    declared = {canonicalize_name(req.name): req for req in _declared()}
    module_dists = md.packages_distributions()

    imported_dists: set[str] = set()
    problems = []
    for module, files in sorted(_third_party_imports().items()):
        dists = {canonicalize_name(d) for d in module_dists.get(module, [])}
        if not dists:
            problems.append(f"{module} (imported by {sorted(files)}) "
                            "is not provided by any installed distribution")
        elif not dists & declared.keys():
            problems.append(f"{module} (imported by {sorted(files)}) comes from {sorted(dists)}, "
                            "none of which is in [project].dependencies")
        imported_dists |= dists & declared.keys()
    assert not problems, "\n".join(problems)
    unused = sorted(declared.keys() - imported_dists)
    assert not unused, f"declared but never imported by ferviz/: {unused}"

    for name, req in declared.items():
        assert req.marker is None and not req.extras, f"unexpected marker/extras in {req}"
        installed = Version(md.version(name))
        assert req.specifier.contains(installed, prereleases=True), (
            f"installed {name} {installed} is outside {req}")

    pins = _pins()
    undeclared = sorted(pins.keys() - declared.keys())
    assert not undeclared, f"pinned in requirements.txt but not declared in pyproject: {undeclared}"
    for name, version in pins.items():
        req = declared[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"requirements.txt pins {name}=={version}, outside {req}")


def _package_files() -> set[str]:
    """Every file of the source package a wheel should carry (``ferviz/...`` posix paths), caches left out."""
    return {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in {".pyc", ".pyo"}}


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd} -> rc {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def _site_folders() -> list[str]:
    """The site-packages folders the running interpreter imports third-party packages from (a venv's, or the
    system's when no venv is active; both when the venv includes the system's)."""
    return [p for p in dict.fromkeys(sys.path)
            if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]


@pytest.mark.slow
def test_wheel_installs_and_imports_in_clean_venv(tmp_path):
    """Build the wheel offline, install it into a fresh venv, and import ferviz from it (not the checkout)."""
    pytest.importorskip("venv", reason="the venv module is unavailable: cannot make a clean environment")
    setuptools = pytest.importorskip("setuptools", reason="setuptools is not installed: no offline build")
    build_requires = [Requirement(r) for r in _pyproject()["build-system"]["requires"]]
    for req in build_requires:
        if canonicalize_name(req.name) == "setuptools" and not req.specifier.contains(setuptools.__version__):
            pytest.skip(f"installed setuptools {setuptools.__version__} does not satisfy {req}: "
                        "no offline --no-build-isolation build")

    # No index, no user site, no PYTHONPATH leaking the checkout into the child interpreters.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}}
    env.update(PYTHONNOUSERSITE="1", PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")

    # Build from a snapshot so the in-tree build leaves no build/ or *.egg-info behind in the checkout.
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", src)
    shutil.copy2(ROOT / "README.md", src)  # [project].readme
    shutil.copytree(PACKAGE, src / "ferviz", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", str(dist), str(src)], cwd=tmp_path, env=env)
    (wheel,) = dist.glob("ferviz-*.whl")

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = zf.read(metadata_name).decode()
    missing = sorted(_package_files() - names)
    assert not missing, f"files of ferviz/ missing from the wheel (declare them as package data): {missing}"
    requires = [Requirement(line.split(":", 1)[1].strip()) for line in metadata.splitlines()
                if line.startswith("Requires-Dist:")]
    assert [str(r) for r in requires] == [str(r) for r in _declared()]

    # The venv sees the third-party packages of the interpreter running the tests but gets ferviz only from
    # the wheel. (--system-site-packages would show the *base* interpreter's packages, not those of a venv
    # the tests run in.) --without-pip: the environment's pip, visible through the .pth file, installs into
    # the venv.
    venv_dir = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv_dir)], cwd=tmp_path, env=env)
    bindir = venv_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    venv_site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          cwd=tmp_path, env=env).stdout.strip())
    # plain folder lines: the .pth files inside them (the checkout's editable ferviz) are not processed
    (venv_site / "_outer_environment.pth").write_text("\n".join(_site_folders()) + "\n")
    # --ignore-installed: the editable ferviz of the system site-packages is neither "satisfying" nor touched.
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", str(wheel)],
         cwd=tmp_path, env=env)

    code = ("import ferviz, ferviz.cli, ferviz.model.network, ferviz.pipeline.inference\n"
            "print(ferviz.__file__)\n"
            "print(ferviz.pipeline.inference.__file__)")
    out = _run([str(python), "-c", code], cwd=tmp_path, env=env).stdout.split()
    for file in out:
        path = Path(file).resolve()
        assert path.is_relative_to(venv_dir.resolve()), f"{file} is not from the venv's wheel install"
        assert not path.is_relative_to(ROOT), f"{file} comes from the source checkout"

    result = _run([str(bindir / "ferviz"), "variants"], cwd=tmp_path, env=env)
    assert "dcnn_bilstm_dam" in result.stdout
