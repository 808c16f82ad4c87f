"""Metadata models: validation rules, config.json conversion, error messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from pydantic import ValidationError

from registry.errors import MetadataError
from registry.metadata import (
    CONFIG_FIELDS,
    EsmMetadata,
    from_config,
    load_metadata,
    to_config,
)

from strategies import metadata

# What hfselect 0.2.1 writes: its ESMConfig fields plus transformers' PretrainedConfig keys.
HFSELECT_CONFIG: dict[str, Any] = {
    "base_model_name": "bert-base-multilingual-uncased",
    "task_id": "kuroneko5943/amz20",
    "task_subset": "Dumbbell",
    "text_column": "sentence",
    "label_column": "label",
    "task_split": "train",
    "num_examples": 701,
    "seed": None,
    "language": None,
    "esm_architecture": "linear",
    "esm_embedding_dim": 768,
    "lm_num_epochs": 3,
    "lm_batch_size": 32,
    "lm_learning_rate": 2e-05,
    "lm_weight_decay": 0.01,
    "lm_optimizer": "AdamW",
    "esm_num_epochs": 10,
    "esm_batch_size": 32,
    "esm_learning_rate": 0.001,
    "esm_weight_decay": 0.01,
    "esm_optimizer": "AdamW",
    "developers": "David Schulte",
    "version": "0.2.1",
    "transformers_version": "4.48.0",
    "return_dict": True,
    "output_hidden_states": False,
    "architectures": None,
    "id2label": {"0": "LABEL_0", "1": "LABEL_1"},
}


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"base_model": "bert-base-uncased", "task": {"task_id": "org/data"}}
    data.update(changes)
    return data


def error_text(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        EsmMetadata.model_validate(data)
    return str(info.value)


def test_minimal_metadata_gets_defaults() -> None:
    meta = EsmMetadata.model_validate(minimal())
    assert meta.architecture == "linear"
    assert meta.license == "apache-2.0"
    assert meta.language == []
    assert meta.tags == ["embedding_space_map", "BaseLM:bert-base-uncased"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"base_model": "not a repo"}, "is not a Hub repo id"),
        ({"base_model": "a/b/c"}, "is not a Hub repo id"),
        ({"base_model": "org/model--x"}, "is not a Hub repo id"),
        ({"task": {"task_id": "bad id!"}}, "is not a Hub repo id"),
        ({"task": {"task_id": "org/d", "num_examples": 0}}, "greater than 0"),
        ({"task": {"task_id": "org/d", "seed": -1}}, "greater than or equal to 0"),
        ({"lm_training": {"learning_rate": 0.0}}, "greater than 0"),
        ({"esm_training": {"learning_rate": -1e-3}}, "greater than 0"),
        ({"esm_training": {"batch_size": 0}}, "greater than 0"),
        ({"esm_training": {"weight_decay": -0.1}}, "greater than or equal to 0"),
        ({"embedding_dim": 0}, "greater than 0"),
        ({"language": ["English"]}, "is not a language code"),
        ({"language": ["en", "en"]}, "twice"),
        ({"architecture": "mlp"}, "unknown ESM architecture 'mlp'; known architectures: 'linear'"),
        ({"license": "Apache 2.0"}, "is not a Hub license identifier"),
        ({"developers": "two\nlines"}, "single line"),
        ({"task": {"task_id": "org/d", "text_column": "a,b"}}, "contains ','"),
        ({"summary": "bell\x07"}, "control character"),
        ({"evaluation": {"esm_mse": float("nan")}}, "finite"),
        ({"extra": {"task_id": "x"}}, "metadata fields"),
        ({"task_idd": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_values_are_rejected_with_a_helpful_message(
    changes: dict[str, Any], expected: str
) -> None:
    assert expected in error_text(minimal(**changes))


def test_strict_types_refuse_silent_coercion() -> None:
    assert "valid integer" in error_text(minimal(embedding_dim="768"))
    assert "not true/false" in error_text(minimal(embedding_dim=True))


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("esm_embedding_dim", True, "not true/false"),
        ("num_examples", False, "not true/false"),
        ("lm_learning_rate", True, "not true/false"),
        ("num_examples", 1e30, "less than or equal|maximum size"),
        ("esm_embedding_dim", 2**63, "less than or equal"),
        ("seed", 2**64, "less than or equal"),
        ("lm_batch_size", 10**12, "less than or equal"),
        ("esm_mse", 1e300, "less than or equal"),
        ("task_split", "x" * 2000, "characters long"),
        ("transformers_nan", float("nan"), "NaN"),
        ("deep", {"a": [1e400]}, "NaN or an infinite"),
        ("huge", "x" * 200_000, "as JSON"),
    ],
)
def test_configs_from_strangers_are_bounded(key: str, value: Any, expected: str) -> None:
    config = {**HFSELECT_CONFIG, key: value}
    with pytest.raises(MetadataError, match=expected):
        from_config(config)


def test_blank_optional_values_mean_unknown() -> None:
    meta = EsmMetadata.model_validate(minimal(developers="  ", summary=""))
    assert meta.developers is None
    assert meta.summary is None


def test_single_line_values_are_stripped() -> None:
    meta = EsmMetadata.model_validate(minimal(developers="  Ada  "))
    assert meta.developers == "Ada"


def test_hfselect_config_round_trips_without_losing_keys() -> None:
    meta = from_config(HFSELECT_CONFIG)
    assert meta.base_model == "bert-base-multilingual-uncased"
    assert meta.task.subset == "Dumbbell"
    assert meta.embedding_dim == 768
    assert meta.lm_training.learning_rate == 2e-05
    assert meta.extra["transformers_version"] == "4.48.0"
    assert meta.extra["id2label"] == {"0": "LABEL_0", "1": "LABEL_1"}
    config = to_config(meta)
    for key, value in HFSELECT_CONFIG.items():
        assert config[key] == value, key
    assert json.loads(json.dumps(config)) == config


def test_config_conversion_handles_tuples_and_language_strings() -> None:
    meta = from_config(
        {**HFSELECT_CONFIG, "text_column": ("premise", "hypothesis"), "language": "en"}
    )
    assert meta.task.text_column == ["premise", "hypothesis"]
    assert meta.language == ["en"]
    config = to_config(meta)
    assert config["text_column"] == ["premise", "hypothesis"]
    assert config["language"] == "en"


def test_config_values_are_coerced_leniently() -> None:
    meta = from_config({**HFSELECT_CONFIG, "num_examples": "701", "esm_embedding_dim": 768.0})
    assert meta.task.num_examples == 701
    assert meta.embedding_dim == 768


def test_invalid_config_names_the_config_keys() -> None:
    with pytest.raises(MetadataError) as info:
        from_config({"base_model_name": "x y", "lm_learning_rate": -1})
    message = str(info.value)
    assert "base_model_name:" in message
    assert "lm_learning_rate:" in message
    assert "task_id: is required but missing" in message
    assert isinstance(info.value, ValueError)


def test_every_config_key_maps_to_a_metadata_field() -> None:
    meta = EsmMetadata.model_validate(minimal())
    for path in CONFIG_FIELDS.values():
        value: Any = meta
        for part in path:
            value = getattr(value, part)  # raises if the table names a missing field


@given(metadata)
def test_config_round_trip_is_lossless(meta: EsmMetadata) -> None:
    config = json.loads(json.dumps(to_config(meta)))
    assert from_config(config) == meta


@given(metadata)
def test_model_dump_round_trip_is_lossless(meta: EsmMetadata) -> None:
    assert EsmMetadata.model_validate(meta.model_dump()) == meta
    assert EsmMetadata.model_validate_json(meta.model_dump_json()) == meta


def test_load_metadata_reads_yaml_json_and_esm_folders(tmp_path: Any, repo_root: Any) -> None:
    complete = load_metadata(repo_root / "metadata/examples/amz20-dumbbell.yaml")
    assert complete.embedding_dim == 768
    (tmp_path / "config.json").write_text(json.dumps(HFSELECT_CONFIG))
    assert load_metadata(tmp_path).task.task_id == "kuroneko5943/amz20"
    (tmp_path / "meta.json").write_text(json.dumps(minimal()))
    assert load_metadata(tmp_path / "meta.json").base_model == "bert-base-uncased"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[1, 2]", "must hold a mapping"),
        ("a: [", "cannot be parsed"),
        ("a: &x [1]\nb: *x\n", "aliases"),
        ("base_model: x\ntask: {task_id: y}\nbogus: 1\n", "bogus"),
    ],
)
def test_load_metadata_errors(tmp_path: Any, content: str, expected: str) -> None:
    path = tmp_path / "meta.yaml"
    path.write_text(content)
    with pytest.raises(MetadataError, match=expected):
        load_metadata(path)


def test_load_metadata_missing_file(tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError):
        load_metadata(tmp_path / "nope.yaml")
    with pytest.raises(FileNotFoundError):
        load_metadata(tmp_path)  # a folder without config.json
