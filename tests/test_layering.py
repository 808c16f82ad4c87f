"""The layers of the package: training and ranking stand on embedding and labelled data.

Read from the source with ``ast`` (every import, also those inside functions and under
``TYPE_CHECKING``), so a forbidden import fails here even when no test runs that code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "registry"

#: layer -> layers it must never import.
FORBIDDEN = {
    "registry.train": ("registry.ranker",),
    "registry.ranker": ("registry.train",),
    "registry.embedding": ("registry.train", "registry.ranker"),
    "registry.labelled": ("registry.train", "registry.ranker"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _resolve(path.read_text(encoding="utf-8"), package)


def _resolve(source: str, package: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            names.add(target)
            # ``from registry import rank`` imports a module too.
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def _files(layer: str) -> list[Path]:
    path = PACKAGE.parent.joinpath(*layer.split("."))
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


def _within(name: str, layer: str) -> bool:
    return name == layer or name.startswith(layer + ".")


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_do_not_import_what_they_must_not(layer: str) -> None:
    files = _files(layer)
    assert files, layer
    broken = [
        f"{_module_name(path)} imports {name}"
        for path in files
        for name in sorted(_imports(path))
        if any(_within(name, forbidden) for forbidden in FORBIDDEN[layer])
    ]
    assert not broken, broken


@pytest.mark.parametrize("layer", ["registry.train", "registry.ranker"])
def test_training_and_ranking_stand_on_embedding_and_labelled_data(layer: str) -> None:
    used = set().union(*(_imports(path) for path in _files(layer)))
    assert any(_within(name, "registry.embedding") for name in used)
    assert any(_within(name, "registry.labelled") for name in used)


def test_the_checker_resolves_relative_and_lazy_imports() -> None:
    source = (
        "from ..ranker import api\n"
        "from . import fit\n"
        "def f():\n"
        "    import registry.ranker.target\n"
        "    from registry import train\n"
    )
    names = _resolve(source, "registry.train")
    assert {"registry.ranker", "registry.ranker.api", "registry.train.fit"} <= names
    assert {"registry.ranker.target", "registry.train"} <= names
    assert "registry.labelled" in _imports(PACKAGE / "train" / "data.py")
