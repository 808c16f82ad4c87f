"""Helpers for the ranker tests: tiny language models built on the spot, hfselect import.

Every model is a few kilobytes of random weights with a WordPiece vocabulary written by
the test, saved with ``save_pretrained`` and loaded by path: nothing is downloaded.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

__all__ = ["BASE_MODEL", "TEXTS", "WORDS", "build_model", "require", "reviews"]

#: The Hub id the tiny BERT stands for in ESM metadata.
BASE_MODEL = "tiny-org/tiny-bert"

WORDS = [
    "the",
    "a",
    "movie",
    "film",
    "good",
    "bad",
    "great",
    "terrible",
    "plot",
    "actor",
    "was",
    "is",
    "and",
    "not",
    "very",
    "boring",
    "fun",
    "loved",
    "hated",
    "it",
    "this",
    "story",
    "music",
    "scene",
]

#: Texts of many lengths (including empty, a literal [SEP] and one longer than 64 tokens).
TEXTS = [
    "the movie was good",
    "bad",
    "the actor was very boring and the plot was terrible " * 8,
    "",
    "great [SEP] plot",
    "loved it",
    "this story is not fun and the music is bad",
    "a scene",
    "hated the film",
    "good good good good good good good good",
    "the music",
]

HIDDEN = 32
_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def forbid_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any connection that would leave the machine fail the test."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in _LOOPBACK:
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def require(module: str) -> ModuleType:
    """Import an optional dependency or skip (fail when ``ESM_REGISTRY_REQUIRE_HFSELECT=1``)."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        reason = f"{module} is not importable ({exc})"
        if os.environ.get("ESM_REGISTRY_REQUIRE_HFSELECT") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def build_tuned_pair(root: Path) -> tuple[Path, Path]:
    """A tiny base BERT and a "fine-tuned" copy with perturbed upper layers, saved without
    a tokenizer (as checkpoints often are)."""
    import torch
    import transformers

    base = build_model(root / "base", seed=0)
    tuned = root / "tuned"
    model = transformers.BertModel.from_pretrained(base)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "encoder.layer.1" in name or "pooler" in name:
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    model.save_pretrained(tuned)
    return base, tuned


def _vocab(path: Path) -> int:
    letters = "abcdefghijklmnopqrstuvwxyz"
    tokens = [*_SPECIAL, *WORDS, *letters, *(f"##{c}" for c in letters), *".,!?"]
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return len(tokens)


def build_model(folder: Path, family: str = "bert", *, seed: int = 0, **config: Any) -> Path:
    """Save a tiny randomly initialised model of ``family`` with a WordPiece tokenizer.

    Families: ``bert``, ``distilbert``, ``roberta`` (hfselect's three) and ``electra``
    (one hfselect has no pooling rule for).
    """
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = _vocab(folder / "vocab.txt")
    tokenizer = transformers.BertTokenizer(vocab=str(folder / "vocab.txt"))
    common: dict[str, Any] = {"vocab_size": vocab_size, "max_position_embeddings": 160}
    common.update(config)
    torch.manual_seed(seed)
    if family == "bert":
        model: Any = transformers.BertModel(
            transformers.BertConfig(
                hidden_size=HIDDEN,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=64,
                **common,
            )
        )
    elif family == "distilbert":
        model = transformers.DistilBertModel(
            transformers.DistilBertConfig(
                dim=HIDDEN, n_layers=2, n_heads=2, hidden_dim=64, **common
            )
        )
    elif family == "roberta":
        model = transformers.RobertaModel(
            transformers.RobertaConfig(
                hidden_size=HIDDEN,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=64,
                pad_token_id=0,
                bos_token_id=2,
                eos_token_id=3,
                **common,
            )
        )
    elif family == "electra":
        model = transformers.ElectraModel(
            transformers.ElectraConfig(
                hidden_size=HIDDEN,
                embedding_size=HIDDEN,
                num_hidden_layers=1,
                num_attention_heads=2,
                intermediate_size=64,
                **common,
            )
        )
    else:
        raise ValueError(family)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def reviews(count: int = 60, seed: int = 0) -> tuple[list[str], list[str]]:
    """Short texts with two labels that depend on their words (so scores differ)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    positive = ["good", "great", "loved", "fun"]
    negative = ["bad", "terrible", "hated", "boring"]
    texts, labels = [], []
    for i in range(count):
        label = "pos" if i % 2 == 0 else "neg"
        pool = positive if label == "pos" else negative
        words = [*rng.choice(WORDS, size=int(rng.integers(1, 6))), *rng.choice(pool, size=2)]
        rng.shuffle(words)
        texts.append(" ".join(str(w) for w in words))
        labels.append(label)
    return texts, labels
