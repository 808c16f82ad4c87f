"""The public API of ``registry`` is exactly what ``registry.__all__`` says."""

from __future__ import annotations

import subprocess
import sys
import types

import registry


def test_all_names_are_exactly_the_public_members() -> None:
    public = {
        name
        for name in dir(registry)
        if not name.startswith("_") and not isinstance(getattr(registry, name), types.ModuleType)
    }
    assert public == set(registry.__all__) - {"__version__"}
    assert len(registry.__all__) == len(set(registry.__all__))


def test_documented_entry_points_are_reachable_from_the_package() -> None:
    assert callable(registry.rank)
    assert registry.rank.__module__ == "registry.ranker.api"
    assert registry.train_esm.__module__ == "registry.train.pipeline"
    assert registry.Catalog.__module__ == "registry.catalog.catalog"
    assert issubclass(registry.UsageError, registry.EsmRegistryError)
    assert issubclass(registry.UsageError, ValueError)


def test_rank_stays_the_function_after_its_package_is_imported() -> None:
    code = (
        "import registry.ranker.scoring, registry.ranker, registry\n"
        "from registry.ranker import Ranking\n"
        "assert callable(registry.rank), registry.rank\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = (
        "import sys, registry\n"
        "registry.validate_text, registry.EsmMetadata\n"
        "heavy = {'numpy', 'torch', 'transformers', 'datasets', 'pandas', 'pyarrow'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
