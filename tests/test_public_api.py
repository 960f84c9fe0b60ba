"""The public API is what the README says it is: every `jaxshadow.…` name it shows resolves,
every package's `__all__` resolves, and the README's Python snippet runs."""

import importlib
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
NEEDS_TF = ("jaxshadow.data.builders",)  # tensorflow-datasets builders: the [tf] extra


def _resolve(dotted):
    """The object a dotted name refers to: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as e:
            if e.name and not ".".join(parts[:cut]).startswith(e.name):
                raise  # a dependency is missing, not the name
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def _readme_names():
    names = set(re.findall(r"\bjaxshadow(?:\.[A-Za-z_][A-Za-z0-9_]*)+", README))
    return sorted(n for n in names if not n.endswith((".py", ".md", ".png", ".json")))


def test_the_readme_names_the_public_api():
    names = _readme_names()
    for expected in ("jaxshadow.data.istd_plus_correct", "jaxshadow.data.synthetic.render",
                     "jaxshadow.export.load_exported", "jaxshadow.metrics"):
        assert expected in names


@pytest.mark.parametrize("name", _readme_names())
def test_every_name_the_readme_shows_resolves(name):
    if name.startswith(NEEDS_TF) and importlib.util.find_spec("tensorflow_datasets") is None:
        pytest.skip(f"{name} needs tensorflow-datasets (pip install -e '.[tf]')")
    assert _resolve(name) is not None


@pytest.mark.parametrize("package", ["jaxshadow", "jaxshadow.models", "jaxshadow.data",
                                     "jaxshadow.metrics"])
def test_every_exported_name_resolves(package):
    module = importlib.import_module(package)
    assert module.__all__, package
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"


def test_the_readme_python_snippet_runs():
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks, "the README shows no Python snippet"
    for code in blocks:
        namespace = {}
        exec(compile(code, "README.md", "exec"), namespace)
    outputs, errors = namespace["outputs"], namespace["errors"]
    assert outputs["shadow_free"].shape == namespace["images"].shape
    assert set(errors) == {"shadow", "non_shadow", "all"}
    assert all(np.isfinite(float(v)) for v in errors.values())
