"""The ESM trainer: the two fits, the validation split, data loading and the whole pipeline.

The language models are tiny BERTs built by the tests (``rank_support.build_model``); the
"fine-tuned" model is the base model with perturbed weights, or the base model fine-tuned
here for a few steps. Nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("datasets")

from rank_support import BASE_MODEL, build_tuned_pair, require, reviews

from registry.card import validate_card
from registry.cli import main
from registry.embedding import EmbeddingOptions
from registry.errors import DatasetError, TrainingError, UsageError
from registry.esm import Esm
from registry.metadata import Hyperparameters
from registry.train import (
    LSTSQ_RCOND,
    EsmTrainingConfig,
    LMTrainingConfig,
    fit_adamw,
    fit_lstsq,
    load_intermediate,
    split_validation,
    train_esm,
)


def _linear_data(
    n: int = 300, dim: int = 12, *, seed: int = 0, noise: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim))
    weight = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    bias = rng.normal(size=dim)
    y = x @ weight.T + bias + noise * rng.normal(size=(n, dim))
    return x, y, weight, bias


# --- fitting ------------------------------------------------------------------------------


def test_lstsq_recovers_a_linear_map_exactly() -> None:
    x, y, weight, bias = _linear_data()
    fit = fit_lstsq(x, y)
    np.testing.assert_allclose(fit.weight, weight, atol=1e-9)
    np.testing.assert_allclose(fit.bias, bias, atol=1e-9)
    assert fit.mse(x, y) < 1e-20
    np.testing.assert_allclose(fit.apply(x), y, atol=1e-9)


def test_ridge_solves_the_normal_equations_with_an_unpenalised_bias() -> None:
    x, y, _, _ = _linear_data(n=80, dim=6, noise=0.3)
    ridge = 5.0
    augmented = np.hstack([x, np.ones((len(x), 1))])
    penalty = np.diag([ridge] * x.shape[1] + [0.0])
    theta = np.linalg.solve(augmented.T @ augmented + penalty, augmented.T @ y)
    fit = fit_lstsq(x, y, ridge=ridge)
    np.testing.assert_allclose(fit.weight, theta[:-1].T, atol=1e-10)
    np.testing.assert_allclose(fit.bias, theta[-1], atol=1e-10)


def test_ridge_shrinks_the_weights() -> None:
    x, y, _, _ = _linear_data(n=60, dim=8, noise=0.5)
    norms = [np.linalg.norm(fit_lstsq(x, y, ridge=r).weight) for r in (0.0, 1.0, 10.0, 1000.0)]
    assert norms == sorted(norms, reverse=True)
    assert norms[-1] < 0.5 * norms[0]
    # The bias is not penalised: with a huge penalty it tends to the mean of y.
    heavy = fit_lstsq(x, y, ridge=1e12)
    np.testing.assert_allclose(heavy.bias, y.mean(axis=0), atol=1e-6)


def test_lstsq_ignores_directions_that_are_only_rounding_noise() -> None:
    # Embeddings after LayerNorm lie on a hyperplane; float32 rounding leaves tiny
    # singular values that an exact inverse would blow up into enormous weights.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 10))
    x -= x.mean(axis=1, keepdims=True)  # every row sums to 0: rank 9
    x = x.astype(np.float32).astype(np.float64)
    y = x @ rng.normal(size=(10, 10)).T
    fit = fit_lstsq(x, y)
    assert np.linalg.norm(fit.weight) < 100
    assert fit.mse(x, y) < 1e-10
    assert np.finfo(np.float64).eps < LSTSQ_RCOND


def test_lstsq_with_fewer_pairs_than_dimensions_is_the_minimum_norm_fit() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 20)), rng.normal(size=(5, 20))
    fit = fit_lstsq(x, y)
    assert fit.mse(x, y) < 1e-20
    assert np.all(np.isfinite(fit.weight))


@pytest.mark.parametrize(
    ("x", "y"),
    [
        (np.zeros((3, 2)), np.zeros((4, 2))),
        (np.zeros((0, 2)), np.zeros((0, 2))),
        (np.zeros(3), np.zeros(3)),
    ],
)
def test_fits_reject_mismatched_pairs(x: np.ndarray, y: np.ndarray) -> None:
    with pytest.raises(UsageError):
        fit_lstsq(x, y)


def test_fits_reject_non_finite_embeddings() -> None:
    x = np.ones((4, 2))
    x[0, 0] = np.nan
    with pytest.raises(TrainingError):
        fit_lstsq(x, np.ones((4, 2)))


def test_adamw_reduces_the_loss_and_approaches_lstsq() -> None:
    x, y, _, _ = _linear_data(n=256, dim=6, noise=0.05, seed=3)
    config = EsmTrainingConfig(method="adamw", num_epochs=60, batch_size=32, learning_rate=0.05)
    fit = fit_adamw(x, y, config, seed=0, progress=False)
    assert len(fit.losses) == 60
    assert fit.losses[-1] < 0.05 * fit.losses[0]
    exact = fit_lstsq(x, y)
    assert fit.mse(x, y) < exact.mse(x, y) + 0.01
    np.testing.assert_allclose(fit.weight, exact.weight, atol=0.1)


def test_adamw_is_deterministic_and_leaves_the_global_rng_alone() -> None:
    import torch

    x, y, _, _ = _linear_data(n=64, dim=4)
    config = EsmTrainingConfig(method="adamw", num_epochs=2)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = fit_adamw(x, y, config, seed=7, progress=False)
    assert torch.equal(torch.rand(1), before)
    second = fit_adamw(x, y, config, seed=7, progress=False)
    np.testing.assert_array_equal(first.weight, second.weight)
    assert fit_adamw(x, y, config, seed=8, progress=False).losses != first.losses


def test_adamw_divergence_is_a_training_error() -> None:
    x, y, _, _ = _linear_data(n=64, dim=4)
    config = EsmTrainingConfig(method="adamw", learning_rate=1e10, max_grad_norm=1e30)
    with pytest.raises(TrainingError, match="non-finite"):
        fit_adamw(x * 1e10, y, config, progress=False)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "sgd"},
        {"ridge": -1.0},
        {"validation_fraction": 1.0},
        {"learning_rate": 0.0},
        {"method": "adamw", "ridge": 1.0},
    ],
)
def test_esm_config_rejects_invalid_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        EsmTrainingConfig(**kwargs)


def test_hyperparameters_recorded_for_each_method() -> None:
    closed = EsmTrainingConfig(ridge=0.5).hyperparameters()
    assert closed.optimizer == "closed-form least squares (ridge=0.5)"
    assert closed.num_epochs is None and closed.learning_rate is None
    adamw = EsmTrainingConfig(method="adamw").hyperparameters()
    assert adamw == Hyperparameters(
        num_epochs=10, batch_size=32, learning_rate=1e-3, weight_decay=0.01, optimizer="AdamW"
    )


# --- validation split ---------------------------------------------------------------------


def test_validation_split_is_deterministic_disjoint_and_complete() -> None:
    train, val = split_validation(100, 0.1, seed=5)
    again_train, again_val = split_validation(100, 0.1, seed=5)
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(val, again_val)
    assert len(val) == 10 and len(train) == 90
    assert set(train).isdisjoint(val)
    assert sorted([*train, *val]) == list(range(100))
    assert not np.array_equal(split_validation(100, 0.1, seed=6)[1], val)


def test_validation_split_edge_cases() -> None:
    assert len(split_validation(5, 0.0)[1]) == 0
    assert len(split_validation(5, 0.01)[1]) == 1  # a share > 0 holds out at least one
    train, val = split_validation(2, 0.9)
    assert len(train) == 1 and len(val) == 1  # at least one pair is left to fit
    with pytest.raises(UsageError):
        split_validation(0, 0.1)


# --- the intermediate data ----------------------------------------------------------------


def test_load_shipped_task_samples_like_hfselect() -> None:
    from registry.data import load_task, task_info

    data = load_intermediate("wordnet/noun-supersense", num_examples=25, seed=3)
    expected = load_task("wordnet/noun-supersense").shuffle(seed=3).select(range(25))
    assert list(data.texts) == expected["text"]
    assert data.task.task_id == "wordnet/noun-supersense"
    assert data.task.num_examples == 25 and data.task.seed == 3
    assert data.task.text_column == "text" and data.task.label_column == "label"
    assert data.task.split == "train" and data.language == ("en",)
    # All classes of the task, also those the small sample misses.
    assert data.label_names == task_info("wordnet/noun-supersense").labels
    assert all(
        data.label_names[i] == label for i, label in zip(data.label_ids(), data.labels, strict=True)
    )


def test_load_file_joins_text_columns_and_needs_a_task_id(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    rows = [
        {"premise": "a man sleeps", "hypothesis": "a person rests", "label": 0},
        {"premise": "a dog runs", "hypothesis": "a cat flies", "label": 2},
        {"premise": "", "hypothesis": "empty premise", "label": 1},
        {"premise": "unlabelled", "hypothesis": "row", "label": -1},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(UsageError, match="task_id"):
        load_intermediate(path, text_column=["premise", "hypothesis"], label_column="label")
    data = load_intermediate(
        path, task_id="org/nli", text_column=["premise", "hypothesis"], label_column="label"
    )
    # An empty text is still a text (hfselect keeps it); only the -1 row is dropped.
    assert data.texts == (
        "a man sleeps [SEP] a person rests",
        "a dog runs [SEP] a cat flies",
        " [SEP] empty premise",
    )
    assert data.task.text_column == ["premise", "hypothesis"]
    assert data.task.num_examples == 3
    assert data.label_names == ("0", "1", "2")
    assert data.label_ids() == [0, 2, 1]
    with pytest.raises(DatasetError, match="no column 'sentence'"):
        load_intermediate(path, task_id="org/nli", text_column="sentence", label_column="label")


def test_load_csv_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text("text,label\ngood film,pos\nbad film,neg\n", encoding="utf-8")
    data = load_intermediate(path, task_id="org/reviews", text_column="text", label_column="label")
    assert data.label_names == ("neg", "pos")
    with pytest.raises(UsageError, match="no such file"):
        load_intermediate(tmp_path / "x.csv", task_id="org/x", text_column="t", label_column="l")
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(DatasetError, match="cannot read"):
        load_intermediate(tmp_path / "x.xlsx", task_id="org/x", text_column="t", label_column="l")
    with pytest.raises(DatasetError, match="no subsets"):
        load_intermediate("wordnet/noun-supersense", subset="x")
    with pytest.raises(DatasetError, match="no split"):
        load_intermediate("wordnet/noun-supersense", split="validation")


# --- the whole pipeline with tiny models ---------------------------------------------------


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny BERT and a perturbed copy saved without a tokenizer (as checkpoints often are)."""
    return build_tuned_pair(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="module")
def review_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels = reviews(80)
    path = tmp_path_factory.mktemp("data") / "reviews.jsonl"
    path.write_text(
        "".join(
            json.dumps({"sentence": t, "sentiment": s}) + "\n"
            for t, s in zip(texts, labels, strict=True)
        ),
        encoding="utf-8",
    )
    return path


def _reviews(path: Path, **kwargs: Any) -> Any:
    return load_intermediate(
        path, task_id="org/reviews", text_column="sentence", label_column="sentiment", **kwargs
    )


def test_train_with_a_given_fine_tuned_model(
    tiny_models: tuple[Path, Path], review_file: Path, tmp_path: Path
) -> None:
    base, tuned = tiny_models
    data = _reviews(review_file, seed=4)
    result = train_esm(
        base,
        data,
        fine_tuned_model=tuned,
        base_model_id=BASE_MODEL,
        lm_training=Hyperparameters(num_epochs=3, optimizer="AdamW"),
        seed=4,
        embedding=EmbeddingOptions(cache=False),
        developers="Test Developer",
        progress=False,
    )
    meta = result.metadata
    assert meta.base_model == BASE_MODEL
    assert meta.embedding_dim == 32 and meta.architecture == "linear"
    assert meta.task.task_id == "org/reviews" and meta.task.num_examples == 80
    assert meta.task.text_column == "sentence" and meta.task.label_column == "sentiment"
    assert meta.task.split == "train" and meta.task.seed == 4
    assert meta.lm_training.num_epochs == 3
    assert meta.esm_training.optimizer == "closed-form least squares (ridge=0.0)"
    assert meta.developers == "Test Developer" and meta.version == "0.2.1"
    assert meta.extra["embedding_pooling"] == "pooler"
    assert meta.extra["esm_fit_method"] == "lstsq"
    assert result.validation_mse is not None and result.identity_mse is not None
    assert meta.evaluation.esm_mse == result.validation_mse
    assert result.validation_mse < result.identity_mse  # the map explains the change
    assert set(result.timings) >= {"embed_base", "embed_fine_tuned", "fit", "total"}

    out = result.save(tmp_path / "esm")
    loaded = Esm.load(out)
    np.testing.assert_allclose(loaded.weight, result.esm.weight)
    assert loaded.metadata == meta
    report = validate_card(out / "README.md", strict=True)
    assert report.valid, report.problems
    assert report.metadata == meta

    # The recorded validation MSE is what the saved ESM does on the held-out texts.
    import shutil

    import transformers

    from registry.embedding import Embedder

    with_tokenizer = shutil.copytree(tuned, tmp_path / "tuned")
    transformers.AutoTokenizer.from_pretrained(base).save_pretrained(with_tokenizer)
    _, val = split_validation(80, 0.1, seed=4)
    texts = [data.texts[i] for i in val]
    x = Embedder(base, model_id=BASE_MODEL, cache_dir=False).embed(texts)
    y = Embedder(with_tokenizer, model_id=BASE_MODEL, cache_dir=False).embed(texts)
    mse = float(np.mean((loaded.apply(x.astype(np.float64)) - y) ** 2))
    # Up to float32 rounding (the batches are padded differently here).
    assert mse == pytest.approx(result.validation_mse, rel=1e-2)

    hfselect = require("hfselect")
    theirs = hfselect.ESM.from_pretrained(str(out))
    import torch

    probe = np.random.default_rng(0).normal(size=(5, 32)).astype(np.float32)
    np.testing.assert_allclose(
        theirs(torch.from_numpy(probe)).detach().numpy(), loaded.apply(probe), rtol=1e-4, atol=1e-2
    )


def test_train_with_fine_tuning_and_adamw(tiny_models: tuple[Path, Path], tmp_path: Path) -> None:
    base, _ = tiny_models
    data = load_intermediate("wordnet/verb-supersense", num_examples=48, seed=1)
    result = train_esm(
        base,
        data,
        fine_tune_base=True,
        base_model_id=BASE_MODEL,
        lm_config=LMTrainingConfig(batch_size=8, learning_rate=1e-3, max_steps=3),
        esm_config=EsmTrainingConfig(method="adamw", num_epochs=3, batch_size=8),
        seed=1,
        embedding=EmbeddingOptions(max_length=32, cache=False),
        save_fine_tuned=tmp_path / "fine-tuned",
        progress=False,
    )
    meta = result.metadata
    assert meta.lm_training == Hyperparameters(
        num_epochs=1, batch_size=8, learning_rate=1e-3, weight_decay=0.01, optimizer="AdamW"
    )
    assert meta.esm_training.optimizer == "AdamW" and meta.esm_training.num_epochs == 3
    assert meta.extra["lm_steps"] == 3 and meta.extra["esm_fit_method"] == "adamw"
    assert "esm_ridge" not in meta.extra
    assert meta.task.task_id == "wordnet/verb-supersense" and meta.language == ["en"]
    assert meta.training_details is not None and "stopped by max_steps" in meta.training_details
    assert "fine_tune" in result.timings
    # The kept model is the classifier, loadable with its labels.
    import transformers

    kept = transformers.AutoConfig.from_pretrained(result.fine_tuned_path)
    assert set(kept.id2label.values()) <= set(data.label_names or ())
    out = result.save(tmp_path / "esm")
    assert validate_card(out / "README.md", strict=True).valid


def test_train_validates_its_arguments(tiny_models: tuple[Path, Path], review_file: Path) -> None:
    base, tuned = tiny_models
    data = _reviews(review_file)
    with pytest.raises(UsageError, match="not both"):
        train_esm(base, data, base_model_id=BASE_MODEL, progress=False)
    with pytest.raises(UsageError, match="not both"):
        train_esm(base, data, fine_tuned_model=tuned, fine_tune_base=True, base_model_id=BASE_MODEL)
    with pytest.raises(UsageError, match="base_model_id"):
        train_esm(
            base,
            data,
            fine_tuned_model=tuned,
            embedding=EmbeddingOptions(cache=False),
            progress=False,
        )
    with pytest.raises(UsageError, match="lm_training"):
        train_esm(
            base,
            data,
            fine_tuned_model=tuned,
            base_model_id=BASE_MODEL,
            lm_config=LMTrainingConfig(),
        )


def test_fine_tuned_model_of_another_size_is_refused(
    tiny_models: tuple[Path, Path], review_file: Path, tmp_path: Path
) -> None:
    import transformers

    base, _ = tiny_models
    other = tmp_path / "other"
    config = transformers.BertConfig.from_pretrained(base, hidden_size=16)
    transformers.BertModel(config).save_pretrained(other)
    with pytest.raises(UsageError, match="dimensions"):
        train_esm(
            base,
            _reviews(review_file),
            fine_tuned_model=other,
            base_model_id=BASE_MODEL,
            embedding=EmbeddingOptions(cache=False),
            progress=False,
        )


# --- the command line ---------------------------------------------------------------------


def test_cli_train(
    tiny_models: tuple[Path, Path],
    review_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, tuned = tiny_models
    out = tmp_path / "esm"
    code = main(
        [
            "train",
            "--base-model",
            str(base),
            "--base-model-id",
            BASE_MODEL,
            "--fine-tuned-model",
            str(tuned),
            "--file",
            str(review_file),
            "--task-id",
            "org/reviews",
            "--text-column",
            "sentence",
            "--label-column",
            "sentiment",
            "--num-examples",
            "50",
            "--seed",
            "3",
            "--language",
            "en",
            "--ridge",
            "0.1",
            "--no-cache",
            "--no-progress",
            "-o",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "validation MSE" in capsys.readouterr().out
    meta = Esm.load(out).metadata
    assert meta.task.num_examples == 50 and meta.task.seed == 3 and meta.language == ["en"]
    assert meta.esm_training.optimizer == "closed-form least squares (ridge=0.1)"
    assert main(["card", "validate", "--strict", str(out)]) == 0


@pytest.fixture
def cli_argv(tiny_models: tuple[Path, Path], review_file: Path, tmp_path: Path) -> list[str]:
    base, tuned = tiny_models
    return [
        "train",
        "--base-model",
        str(base),
        "--fine-tuned-model",
        str(tuned),
        "--file",
        str(review_file),
        "--text-column",
        "sentence",
        "--label-column",
        "sentiment",
        "-o",
        str(tmp_path / "esm"),
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "task_id"),  # a file needs --task-id
        (["--task-id", "org/r", "--epochs", "3"], "adamw"),
        (["--task-id", "org/r", "--method", "adamw", "--ridge", "1"], "lstsq"),
        (["--task-id", "org/r", "--lm-max-steps", "3"], "--fine-tune"),
    ],
)
def test_cli_train_usage_errors(
    cli_argv: list[str], capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main([*cli_argv, *extra]) == 2
    assert message in capsys.readouterr().err
    assert not Path(cli_argv[-1]).exists()


def test_cli_train_needs_a_model_source(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "--base-model", "m", "--task", "wordnet/noun-supersense", "-o", "x"])
    assert exc.value.code == 2
    assert "--fine-tuned-model" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name",
    [
        "registry.train",
        "registry.train.config",
        "registry.train.data",
        "registry.train.finetune",
        "registry.train.fit",
        "registry.train.pipeline",
    ],
)
def test_train_all_is_accurate(name: str) -> None:
    import importlib

    module = importlib.import_module(name)
    assert len(module.__all__) == len(set(module.__all__))
    for attr in module.__all__:
        assert hasattr(module, attr), attr


def test_the_package_keeps_the_public_names_of_the_module_it_replaces() -> None:
    import registry.train

    assert set(registry.train.__all__) == {
        "DEFAULT_SEED",
        "DEFAULT_VALIDATION_FRACTION",
        "LSTSQ_RCOND",
        "EsmTrainingConfig",
        "FineTuneOutcome",
        "FitMethod",
        "IntermediateData",
        "LMTrainingConfig",
        "LinearFit",
        "TrainResult",
        "fine_tune",
        "fit_adamw",
        "fit_lstsq",
        "load_intermediate",
        "lstsq_description",
        "split_validation",
        "train_esm",
    }


def test_an_esm_worse_than_the_identity_map_is_warned_about_and_recorded(
    tiny_models: tuple[Path, Path],
    review_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A "fine-tuned" model that is the base model: no map beats the identity, and the
    minimum-norm fit of 9 pairs in 32 dimensions is worse on the held-out ones."""
    base, _ = tiny_models
    out = tmp_path / "esm"
    args = ["train", "--base-model", str(base), "--base-model-id", BASE_MODEL]
    args += ["--fine-tuned-model", str(base), "--file", str(review_file)]
    args += ["--task-id", "org/reviews", "--text-column", "sentence"]
    args += ["--label-column", "sentiment", "--num-examples", "12"]
    args += ["--validation-fraction", "0.25", "--no-cache", "--no-progress", "-o", str(out)]
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "worse than no map at all" in captured.err
    assert "WORSE THAN THE IDENTITY MAP" in captured.out
    meta = Esm.load(out).metadata
    assert meta.evaluation.details is not None
    assert meta.evaluation.details.startswith("Warning: this ESM is worse than the identity map")
    assert "worse than the identity map" in (out / "README.md").read_text()

    # With enough pairs the same models give a good map and no warning.
    args[args.index("12")] = "80"
    args[args.index(str(out))] = str(tmp_path / "good")
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "worse than" not in captured.err + captured.out
