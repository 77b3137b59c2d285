"""Data flows one way: a module imports (at module level) nothing from a
higher layer. Convenience methods may import higher layers lazily inside a
function (e.g. `TopActivations.plot`), which this check allows."""

import ast
import pathlib

import keras_zfnet

ORDER = [
    {"utils", "version", "backend", "ops"},
    {"layers", "constraints"},
    {"applications"},
    {"datasets"},
    {"deconv"},
    {"training"},
    {"analysis"},
    {"plotting"},
    {"callbacks"},
    {"cli"},
]
RANK = {name: rank for rank, names in enumerate(ORDER) for name in names}
ROOT = pathlib.Path(keras_zfnet.__file__).parent


def _subpackage(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "keras_zfnet" else None


def test_no_module_imports_a_higher_layer_at_module_level():
    problems = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if len(relative.parts) == 1:
            continue  # the package __init__ re-exports everything
        own = relative.parts[0].removesuffix(".py")
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                target = _subpackage(name)
                if target is None or target == own:
                    continue
                assert target in RANK, f"{target} has no layer in ORDER"
                if RANK[target] > RANK[own]:
                    problems.append(f"{relative} imports {name}")
    assert not problems, problems


def _imports(path, anywhere):
    """`(module names, private names)` imported by a file: module level,
    or anywhere (inside functions too)."""
    tree = ast.parse(path.read_text())
    nodes = ast.walk(tree) if anywhere else tree.body
    names, private = [], []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{a.name}" for a in node.names)
            private.extend(f"{node.module}.{a.name}" for a in node.names
                           if a.name.startswith("_"))
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names, private


def _module_name(path):
    relative = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


# Packages held to the strict rules below (the others follow as the house
# issue moves their lazy convenience imports).
STRICT = ("deconv", "backend", "ops", "utils", "layers")


def test_strict_packages_import_nothing_higher_even_inside_functions():
    problems = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        own = relative.parts[0].removesuffix(".py")
        if len(relative.parts) == 1 and own == "__init__" or own not in STRICT:
            continue
        names, private = _imports(path, anywhere=True)
        for name in names:
            target = _subpackage(name)
            if target is None or target == own or target not in RANK:
                continue
            if RANK[target] > RANK[own]:
                problems.append(f"{relative} imports {name}")
        for name in private:
            module = name.rsplit(".", 1)[0]
            if module.startswith("keras_zfnet.") and module != _module_name(
                    path):
                problems.append(f"{relative} imports private {name}")
    assert not problems, problems


def _circle(packages, anywhere):
    """The first import circle among the modules of `packages` (each
    package on its own), as a list of modules, or None."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    edges = {}
    for module, path in modules.items():
        if _subpackage(module) not in packages:
            continue
        names, _ = _imports(path, anywhere=anywhere)
        edges[module] = {n for n in names if n in modules and n != module
                         and _subpackage(n) == _subpackage(module)
                         and not module.startswith(n + ".")}
    state = {}

    def visit(module, stack):
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                return stack + [target]
            if target not in state:
                found = visit(target, stack + [target])
                if found:
                    return found
        state[module] = "done"
        return None

    for module in sorted(edges):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return None


def test_no_import_circle_within_strict_packages():
    found = _circle(STRICT, anywhere=True)
    assert found is None, "import circle: " + " -> ".join(found or [])


# Result data flows analysis -> plotting: the renderers take arrays and
# result data, and import nothing (not even inside a function) from the
# packages that compute them or from the ones above plotting.
RENDERERS = "plotting"
NOT_FOR_RENDERERS = ("analysis", "deconv", "callbacks", "cli")


def _all_imports(path):
    """Every module a file names in an import, anywhere in it: absolute and
    relative `import` / `from ... import` statements, and
    `importlib.import_module` / `__import__` calls with a literal name."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[:len(package) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names.append(base)
            names.extend(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__")):
            names.append(node.args[0].value)
    return names


def _renderer_problems(root):
    problems = []
    for path in sorted(root.rglob("*.py")):
        for name in _all_imports(path):
            if _subpackage(name) in NOT_FOR_RENDERERS:
                problems.append(f"{path.relative_to(ROOT)} imports {name}")
    return problems


def test_plotting_imports_nothing_from_analysis_deconv_or_above():
    problems = _renderer_problems(ROOT / RENDERERS)
    assert not problems, problems


def test_no_import_circle_within_analysis_or_plotting():
    found = _circle(("analysis", "plotting"), anywhere=False)
    assert found is None, "import circle: " + " -> ".join(found or [])


def test_the_renderer_check_catches_every_import_form(monkeypatch):
    """The plotting rule is not vacuous: a module-level, a lazy, a relative
    and an `importlib` import of analysis / deconv are all found."""
    source = ROOT / RENDERERS / "browser" / "tiles.py"
    text = source.read_text() + (
        "\nfrom keras_zfnet.analysis.top_result import crop_boxes\n"
        "def f():\n"
        "    from keras_zfnet.deconv import model_graph\n"
        "    from ...analysis import data_stream\n"
        "    import importlib\n"
        "    importlib.import_module('keras_zfnet.cli.main')\n")
    monkeypatch.setattr(pathlib.Path, "read_text",
                        lambda self, *a, **k: text if self == source
                        else _READ(self, *a, **k))
    problems = _renderer_problems(ROOT / RENDERERS)
    for name in ("keras_zfnet.analysis.top_result",
                 "keras_zfnet.deconv.model_graph",
                 "keras_zfnet.analysis.data_stream", "keras_zfnet.cli.main"):
        assert f"plotting/browser/tiles.py imports {name}" in problems


_READ = pathlib.Path.read_text


def test_the_layering_check_catches_a_circle(tmp_path):
    """The circle check is not vacuous: two modules importing each other
    inside functions are found."""
    import pytest

    a = tmp_path / "a.py"
    a.write_text("def f():\n    from pkg import b\n")
    names, _ = _imports(a, anywhere=True)
    assert "pkg.b" in names
    names, _ = _imports(a, anywhere=False)
    assert "pkg.b" not in names
    del pytest


def test_import_is_light():
    import subprocess
    import sys

    # (TensorFlow itself may import matplotlib; our renderers must not be
    # loaded, nor tensorflow_datasets.)
    code = ("import sys, keras_zfnet; "
            "print('keras_zfnet.plotting' in sys.modules, "
            "'tensorflow_datasets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["False", "False"]
