"""Option groups: defined once as dataclasses, built into the CLI, routed from keywords."""

from __future__ import annotations

from dataclasses import fields

import pytest

from registry.cli import build_parser
from registry.cli._options import (
    EMBEDDING_FLAGS,
    SCORING_FLAGS,
    TARGET_FLAGS,
    filters_from_args,
    options_from_args,
)
from registry.embedding import POOLINGS, EmbeddingOptions
from registry.errors import UsageError
from registry.filters import SearchFilters
from registry.ranker.options import ScoringOptions, TargetOptions, route_options

GROUPS = [
    (TargetOptions, TARGET_FLAGS),
    (EmbeddingOptions, EMBEDDING_FLAGS),
    (ScoringOptions, SCORING_FLAGS),
]


@pytest.mark.parametrize(("cls", "flags"), GROUPS)
def test_every_field_of_a_group_has_a_flag(cls: type, flags: dict[str, object]) -> None:
    assert set(flags) == {f.name for f in fields(cls)}


def test_option_names_are_unique_across_groups_and_filters() -> None:
    names = [f.name for cls, _ in GROUPS for f in fields(cls)]
    names += [f.name for f in fields(SearchFilters)]
    assert len(names) == len(set(names))


def _rank_args(*extra: str) -> object:
    return build_parser().parse_args(
        ["rank", "--base-model", "org/model", "--file", "t.csv", *extra]
    )


def test_rank_flags_build_the_groups_with_the_dataclass_defaults() -> None:
    args = _rank_args()
    assert options_from_args(TargetOptions, TARGET_FLAGS, args) == TargetOptions()
    assert options_from_args(EmbeddingOptions, EMBEDDING_FLAGS, args) == EmbeddingOptions()
    assert options_from_args(ScoringOptions, SCORING_FLAGS, args) == ScoringOptions()
    assert filters_from_args(args) == SearchFilters(base_model="org/model")


def test_rank_flags_set_every_field() -> None:
    args = _rank_args(
        "--text-column", "q", "--text-column", "a", "--label-column", "y", "--regression",
        "--num-examples", "7", "--seed", "3", "--subset", "s", "--split", "dev",
        "--batch-size", "4", "--max-length", "16", "--pooling", "cls", "--device", "cpu",
        "--model-path", "m", "--no-cache", "--jobs", "2", "--chunk-size", "5",
        "--backend", "numpy", "--dtype", "float32", "--threads", "3", "--no-rank-correction",
        "--architecture", "linear", "--language", "en", "--min-examples", "9",
    )  # fmt: skip
    assert options_from_args(TargetOptions, TARGET_FLAGS, args) == TargetOptions(
        text_column=["q", "a"],
        label_column=["y"],
        regression=True,
        num_examples=7,
        seed=3,
        subset="s",
        split="dev",
    )
    assert options_from_args(EmbeddingOptions, EMBEDDING_FLAGS, args) == EmbeddingOptions(
        batch_size=4, max_length=16, pooling="cls", device="cpu", model_path="m", cache=False
    )
    assert options_from_args(ScoringOptions, SCORING_FLAGS, args) == ScoringOptions(
        jobs=2, chunk_size=5, backend="numpy", dtype="float32", threads=3, rank_correction=False
    )
    assert filters_from_args(args).describe() == (
        "base_model=org/model, architecture=linear, language=en, min_examples=9"
    )


def test_train_and_rank_offer_the_same_poolings() -> None:
    parser = build_parser()
    for command in (["rank", "--base-model", "m", "--file", "f"], ["train"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--pooling", "first-token"])
    train = parser.parse_args(
        ["train", "--base-model", "m", "--fine-tune", "--task", "t", "-o", "o", "--pooling", "cls"]
    )
    assert train.pooling == "cls"
    assert set(POOLINGS) | {"auto"} == set(EMBEDDING_FLAGS["pooling"].choices or ())


def test_the_embedding_batch_size_and_the_fits_batch_size_stay_apart() -> None:
    args = build_parser().parse_args(
        ["train", "--base-model", "m", "--fine-tune", "--task", "t", "-o", "o",
         "--embedding-batch-size", "16", "--method", "adamw", "--batch-size", "4"]
    )  # fmt: skip
    assert options_from_args(EmbeddingOptions, EMBEDDING_FLAGS, args).batch_size == 16
    assert args.batch_size == 4


def test_train_embeds_64_texts_per_batch_unless_told() -> None:
    args = build_parser().parse_args(
        ["train", "--base-model", "m", "--fine-tune", "--task", "t", "-o", "o"]
    )
    from registry.cli.train import _EMBEDDING_DEFAULTS

    options = options_from_args(
        EmbeddingOptions, EMBEDDING_FLAGS, args, defaults=_EMBEDDING_DEFAULTS
    )
    assert options.batch_size == 64


def test_keywords_are_routed_to_their_group() -> None:
    groups = route_options(num_examples=5, max_length=64, jobs=3, language="en")
    assert groups.target.num_examples == 5
    assert groups.embedding.max_length == 64
    assert groups.scoring.jobs == 3
    assert groups.filters.language == "en"
    again = route_options(groups, seed=1)
    assert (again.target.seed, again.target.num_examples) == (1, 5)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"num_exampels": 5}, "unknown ranking option.*num_exampels"),
        ({"num_examples": 0}, "num_examples"),
        ({"num_examples": True}, "num_examples"),
        ({"jobs": 0}, "jobs"),
        ({"max_length": 1}, "max_length"),
        ({"pooling": "first"}, "pooling"),
        ({"seed": -1}, "seed"),
        ({"backend": "cuda"}, "backend"),
        ({"dtype": "half"}, "dtype"),
        ({"threads": 0}, "threads"),
    ],
)
def test_invalid_options_are_usage_errors(keywords: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        route_options(**keywords)
