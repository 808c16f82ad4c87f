"""Tiny ESMs for publisher and store tests (D=8 by default, deterministic per index)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy

from registry.esm import Esm
from registry.metadata import EsmMetadata

__all__ = [
    "LEGACY_CONFIG",
    "legacy_config_bytes",
    "legacy_weights",
    "make_esm",
    "make_metadata",
    "write_esm_dir",
]

#: The config.json hfselect wrote next to tests/data/legacy_card_amz20_dumbbell.md (D=8 here,
#: so that the test weights stay tiny), with a transformers key that must survive.
LEGACY_CONFIG: dict[str, Any] = {
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
    "esm_embedding_dim": 8,
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
    "version": "0.1.0",
    "transformers_version": "4.45.2",
}


def make_metadata(index: int = 0, **overrides: Any) -> EsmMetadata:
    data: dict[str, Any] = {
        "base_model": "bert-base-uncased",
        "task": {
            "task_id": f"org/task{index}",
            "subset": "default",
            "text_column": "text",
            "label_column": "label",
            "split": "train",
            "num_examples": 100 + index,
        },
        "language": ["en"],
        "developers": "Test Suite",
    }
    data.update(overrides)
    return EsmMetadata.model_validate(data)


def make_esm(index: int = 0, dim: int = 8, **overrides: Any) -> Esm:
    rng = np.random.default_rng(index)
    weight = rng.normal(size=(dim, dim)).astype(np.float32)
    bias = rng.normal(size=dim).astype(np.float32)
    return Esm(make_metadata(index, **overrides), weight, bias)


def write_esm_dir(folder: Path, index: int = 0, dim: int = 8, **overrides: Any) -> Path:
    return make_esm(index, dim, **overrides).save(folder)


def legacy_weights(dim: int = 8) -> bytes:
    rng = np.random.default_rng(7)
    tensors = {
        "sequential.0.weight": rng.normal(size=(dim, dim)).astype(np.float32),
        "sequential.0.bias": rng.normal(size=dim).astype(np.float32),
    }
    return safetensors.numpy.save(tensors, metadata={"format": "pt"})


def legacy_config_bytes() -> bytes:
    return json.dumps(LEGACY_CONFIG, indent=2).encode()
