"""Data flows one way: a module imports (at module level) nothing from a
higher layer. Convenience methods may import higher layers lazily inside a
function (e.g. `TopActivations.plot`), which this check allows."""

import ast
import pathlib

import keras_zfnet

ORDER = [
    {"utils", "version", "ops"},
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
