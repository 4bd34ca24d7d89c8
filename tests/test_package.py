"""Package-level rules: the core never imports Streamlit; registries are keyed by the shared strings."""

import importlib
import pkgutil
import re
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


LAYERS = ("data", "model", "train", "pipeline", "results", "serve", "explain", "figures", "ui")


def test_import_ferviz_is_light():
    """``import ferviz`` (and reading a layer's docstring) imports neither torch, pandas nor Streamlit."""
    code = ("import sys, ferviz, ferviz.data, ferviz.model, ferviz.results\n"
            "print(sorted(m for m in ('torch', 'pandas', 'streamlit', 'cv2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_layer_package_says_what_it_holds_and_its_exports_resolve():
    for layer in LAYERS:
        package = importlib.import_module(f"ferviz.{layer}")
        assert package.__doc__, layer
        first = package.__doc__.splitlines()[0]  # a sentence on what it holds, then the list of its modules
        assert len(first.split()) >= 8 and "placeholder" not in package.__doc__.lower(), layer
        for name in getattr(package, "__all__", ()):
            assert getattr(package, name) is not None, f"ferviz.{layer}.{name}"
    from ferviz.data import load_dataset
    from ferviz.data.datasets import load_dataset as defined

    assert load_dataset is defined


def test_public_api_loads_predicts_and_evaluates(tiny_checkpoint, tiny_npz):
    import numpy as np
    from skimage import data

    model = ferviz.load_model(tiny_checkpoint)
    assert ferviz.DEFAULT_MODEL.name.endswith(".pt") and "DEFAULT_MODEL" in dir(ferviz)
    pred = ferviz.predict(model, data.astronaut())  # an RGB picture: faces detected first
    assert len(pred.faces) == 1 and abs(sum(pred.faces[0].probs.values()) - 1) < 1e-4
    crop = ferviz.predict(str(tiny_checkpoint), np.full((48, 48), 128, np.uint8))  # a path loads the model
    assert len(crop.faces) == 1 and crop.faces[0].label in model.labels
    ds = ferviz.load_dataset(tiny_npz)
    assert len(ds) == 84
    result = ferviz.evaluate(model, tiny_npz, split="PublicTest")
    assert result.report.n == 28 and result.report.meta["split"] == "PublicTest"
    assert ferviz.evaluate(model, ds).report.n == 84


def test_the_design_map_names_every_package_and_only_existing_ones():
    """docs/DESIGN.md opens with a map of the layers: it must match the tree."""
    root = Path(__file__).resolve().parent.parent
    text = (root / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    start = text.index("## Map")
    section = text[start:text.index("\n## ", start + 1)]
    named = set(re.findall(r"`ferviz/(\w+)/`", section))
    packages = {p.name for p in (root / "ferviz").iterdir() if (p / "__init__.py").is_file()}
    assert named == packages, f"missing from the map: {packages - named}; named but absent: {named - packages}"
    assert text.index("## Map") < text.index("## 1.")  # the document opens with it



def test_no_icon_needs_a_font_from_the_internet():
    """No icons on pages or messages: a ``:material/...:`` page icon becomes the tab icon, fetched from Google's
    servers, and emoji show as empty boxes where no emoji font is installed. The tab icon is the one exception."""
    root = Path(__file__).resolve().parent.parent
    icon = re.compile(r":material/[a-z_]+:|(?<!page_)\bicon=")
    sources = [root / "app.py", *(root / "ferviz").rglob("*.py"), *(root / "pages").rglob("*.py")]
    offenders = [f"{path.relative_to(root)}:{n}" for path in sources
                 for n, line in enumerate(path.read_text().splitlines(), 1) if icon.search(line)]
    assert not offenders, offenders


def module_imports() -> dict[str, set[str]]:
    """Each ferviz module (not a package's ``__init__``) -> the ferviz modules it imports anywhere in its
    body, lazy imports inside functions included (``from ferviz.a import b`` names module ``ferviz.a.b`` when
    there is one, else ``ferviz.a``)."""
    import ast

    root = Path(ferviz.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        if path.name == "__init__.py":
            continue
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                          for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name and modules[m].name != "__init__.py"}
    return graph


def test_no_two_modules_import_each_other_even_lazily():
    graph = module_imports()
    assert "ferviz.model.faceapi" in graph["ferviz.model.checkpoint"]  # the walk sees lazy imports
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(graph[name]):
            assert state.get(nxt) != 1, "import circle: " + " -> ".join(path[path.index(nxt):] + [name, nxt])
            if nxt not in state:
                visit(nxt, path + [name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
