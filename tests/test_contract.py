"""Published contracts: the JSON Schema, the example files, the public API, Hub interop."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

import registry
from registry.card import render_card
from registry.metadata import EsmMetadata, load_metadata
from registry.schema import SCHEMA_FILENAME, metadata_schema, metadata_schema_text


def test_checked_in_schema_matches_the_models(repo_root: Path) -> None:
    checked_in = (repo_root / "metadata" / SCHEMA_FILENAME).read_text(encoding="utf-8")
    assert checked_in == metadata_schema_text(), (
        "metadata/esm-metadata.schema.json is stale; regenerate it with "
        "`esm-registry schema -o metadata/esm-metadata.schema.json`"
    )


@pytest.mark.parametrize("name", ["amz20-dumbbell.yaml", "minimal.yaml"])
def test_examples_satisfy_the_json_schema(repo_root: Path, name: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    path = repo_root / "metadata" / "examples" / name
    data = load_metadata(path).model_dump(mode="json")
    jsonschema.validate(data, metadata_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**data, "embedding_dim": 0}, metadata_schema())


def test_every_module_all_is_accurate() -> None:
    for name in [
        "registry",
        "registry.metadata",
        "registry.card",
        "registry.errors",
        "registry.architectures",
        "registry.schema",
        "registry.cli",
        "registry.cli.card",
        "registry.cli.publish",
        "registry.cli.catalog",
        "registry.cli.rank",
        "registry.cli.train",
        "registry.esm",
        "registry.catalog",
        "registry.ranker",
        "registry.train",
        "registry.data",
        "registry.embedding",
        "registry.labelled",
        "registry.stores",
        "registry.publish",
    ]:
        module = importlib.import_module(name)
        exported = module.__all__
        assert len(exported) == len(set(exported)), name
        for attr in exported:
            assert hasattr(module, attr), f"{name}.{attr}"


def test_errors_subclass_the_builtin_that_fits() -> None:
    assert issubclass(registry.MetadataError, ValueError)
    assert issubclass(registry.CardError, ValueError)
    assert issubclass(registry.MetadataError, registry.EsmRegistryError)


def test_huggingface_hub_reads_our_cards(tmp_path: Path, repo_root: Path) -> None:
    meta = load_metadata(repo_root / "metadata/examples/amz20-dumbbell.yaml")
    path = tmp_path / "README.md"
    path.write_text(render_card(meta), encoding="utf-8")
    card = ModelCard.load(path)
    assert card.data.base_model == "bert-base-multilingual-uncased"
    assert card.data.datasets == ["kuroneko5943/amz20"]
    assert card.data.tags == ["embedding_space_map", "BaseLM:bert-base-multilingual-uncased"]
    assert card.data.license == "apache-2.0"
    assert card.data.language == ["en"]
    embedded = card.data.to_dict()["esm_metadata"]
    assert EsmMetadata.model_validate(embedded) == meta
    # And the Hub library's own validation of card data accepts it.
    card.validate  # noqa: B018 - attribute exists; remote validation is not called offline
    json.dumps(card.data.to_dict())
