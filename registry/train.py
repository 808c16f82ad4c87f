"""Train ESMs: embed an intermediate task with a base and a fine-tuned model, fit ``y ≈ W x + b``.

An Embedding Space Map approximates how fine-tuning on one intermediate task moves the
base model's embeddings. Training one takes three steps:

1. the fine-tuned model: given (a folder or Hub id), or made here by fine-tuning the base
   model on the task (:func:`fine_tune`: ``AutoModelForSequenceClassification``, AdamW
   with linear decay and gradient clipping, a plain torch loop);
2. pairs of pooled embeddings of the task's texts, from the base and the fine-tuned model,
   pooled exactly as the ranker pools (:class:`registry.embedding.Embedder`), since an
   ESM is only meaningful for the embeddings it was fitted on;
3. the linear map, fitted on all pairs but a held-out validation share, either in closed
   form (:func:`fit_lstsq`, exact and fast) or by hfselect's optimizer schedule
   (:func:`fit_adamw`: AdamW, MSE loss, linear decay, gradient clipping at 1.0).

:func:`train_esm` runs the three and fills in every metadata field it can know (task,
sampling, base model, embedding dimension, both stages' hyperparameters, the validation
MSE), so the card it renders validates under ``esm-registry card validate --strict``.

Example:
    >>> from registry.train import train_esm  # doctest: +SKIP
    >>> result = train_esm(
    ...     "sentence-transformers/all-MiniLM-L6-v2",
    ...     "wordnet/noun-supersense",
    ...     fine_tune_base=True,
    ...     lm_config=LMTrainingConfig(max_steps=30),
    ... )  # doctest: +SKIP
    >>> result.validation_mse < result.identity_mse  # doctest: +SKIP
    True
    >>> result.save("esms/minilm-noun-supersense")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from ._progress import progress_bar
from .card import render_card
from .card.validate import validate_text
from .data import is_packaged_task, load_task, task_info
from .embedding import Embedder, Pooling, ResolvedModel, resolve_model
from .errors import DatasetError, TrainingError, UsageError
from .esm import FORMAT_VERSION, Esm
from .labelled import join_columns
from .metadata import (
    DEFAULT_LICENSE,
    EsmMetadata,
    Evaluation,
    Hyperparameters,
    IntermediateTask,
)

if TYPE_CHECKING:
    import datasets

__all__ = [
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
]

logger = logging.getLogger(__name__)

FitMethod = Literal["lstsq", "adamw"]

DEFAULT_SEED = 42
DEFAULT_VALIDATION_FRACTION = 0.1
DEFAULT_MAX_LENGTH = 128  # hfselect's
#: Relative cut-off of singular values in :func:`fit_lstsq`: embeddings are float32, so
#: directions a million times weaker than the strongest hold rounding noise only.
LSTSQ_RCOND = 1e-6
#: Below this many multiply-adds per layer call, :func:`fit_adamw` uses one torch thread.
_SMALL_PRODUCT = 1 << 24
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
)
_FILE_READERS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class LMTrainingConfig:
    """Fine-tuning the base model on the intermediate task.

    The defaults are smaller than the published ESMs' (3 epochs, batch size 32, learning
    rate 2e-5) so that one ESM trains in minutes on a CPU; the values used are recorded.

    Attributes:
        num_epochs: Passes over the examples.
        batch_size: Examples per optimizer step.
        learning_rate: Peak learning rate; it decays linearly to 0 (no warm-up).
        weight_decay: AdamW weight decay, applied to every parameter as hfselect does.
        max_grad_norm: Gradients are clipped to this norm.
        max_steps: Stop after this many steps (the decay then spans these steps).
    """

    num_epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    max_steps: int | None = None

    def __post_init__(self) -> None:
        _check_positive(
            num_epochs=self.num_epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            max_grad_norm=self.max_grad_norm,
        )
        _check_non_negative(weight_decay=self.weight_decay)
        if self.max_steps is not None:
            _check_positive(max_steps=self.max_steps)

    def hyperparameters(self) -> Hyperparameters:
        """The card's record of this configuration."""
        return Hyperparameters(
            num_epochs=self.num_epochs,
            batch_size=self.batch_size,
            learning_rate=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            optimizer="AdamW",
        )


@dataclass(frozen=True)
class EsmTrainingConfig:
    """Fitting the linear map.

    Attributes:
        method: ``lstsq`` (closed-form least squares, optionally ridge) or ``adamw``
            (hfselect's schedule: AdamW, MSE loss, linear decay, gradient clipping).
        ridge: L2 penalty ``λ`` on ``W`` for ``lstsq`` (the bias is never penalised);
            the objective is ``‖X Wᵀ + b − Y‖² + λ‖W‖²`` summed over all pairs.
        num_epochs, batch_size, learning_rate, weight_decay, max_grad_norm: ``adamw`` only;
            the defaults are those of the ESMs published with hfselect.
        validation_fraction: Share of the embedding pairs held out to measure the MSE.
    """

    method: FitMethod = "lstsq"
    ridge: float = 0.0
    num_epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION

    def __post_init__(self) -> None:
        if self.method not in ("lstsq", "adamw"):
            raise UsageError(f"unknown fitting method {self.method!r}; use 'lstsq' or 'adamw'")
        _check_positive(
            num_epochs=self.num_epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            max_grad_norm=self.max_grad_norm,
        )
        _check_non_negative(ridge=self.ridge, weight_decay=self.weight_decay)
        if not 0.0 <= self.validation_fraction < 1.0:
            raise UsageError(
                f"validation_fraction must be in [0, 1), got {self.validation_fraction}"
            )
        if self.method == "adamw" and self.ridge:
            raise UsageError("ridge applies to the 'lstsq' method; 'adamw' uses weight_decay")

    def hyperparameters(self) -> Hyperparameters:
        """The card's record: epochs, batch size and learning rate do not apply to lstsq."""
        if self.method == "lstsq":
            return Hyperparameters(optimizer=lstsq_description(self.ridge))
        return Hyperparameters(
            num_epochs=self.num_epochs,
            batch_size=self.batch_size,
            learning_rate=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            optimizer="AdamW",
        )


def lstsq_description(ridge: float) -> str:
    """The optimizer line of a closed-form fit, e.g. ``closed-form least squares (ridge=0.0)``."""
    return f"closed-form least squares (ridge={float(ridge)!r})"


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise UsageError(f"{name} must be a positive number, got {value!r}")


def _check_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise UsageError(f"{name} must be a number >= 0, got {value!r}")


# --- the intermediate dataset -------------------------------------------------------------


@dataclass(frozen=True)
class IntermediateData:
    """The sampled examples of an intermediate task and how they were drawn.

    Attributes:
        texts: The input texts (several text columns already joined as hfselect does).
        labels: The labels, as read (strings, class indices or numbers).
        label_names: Class names in index order; ``None`` for non-categorical labels.
        task: The task fields of the ESM metadata (id, subset, columns, split, sample).
        language: Language codes of the texts, when known.
    """

    texts: tuple[str, ...]
    labels: tuple[Any, ...]
    label_names: tuple[str, ...] | None
    task: IntermediateTask
    language: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.texts)

    def label_ids(self) -> list[int]:
        """Class index of every example (for fine-tuning a classifier).

        Raises:
            DatasetError: the labels are not categorical.
        """
        if self.label_names is None:
            raise DatasetError(
                f"the labels of {self.task.task_id} are not categorical; the built-in "
                "fine-tuning trains classifiers only: fine-tune elsewhere and pass the "
                "fine-tuned model"
            )
        index = {name: i for i, name in enumerate(self.label_names)}
        ids = []
        for label in self.labels:
            if isinstance(label, int) and not isinstance(label, bool):
                ids.append(label)
            else:
                ids.append(index[str(label)])
        return ids


def _read_file(path: Path) -> datasets.Dataset:
    """A local csv/tsv/json/jsonl/parquet file (optionally .gz) as a ``datasets.Dataset``."""
    import datasets  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = _FILE_READERS.get(suffixes[-1] if suffixes else "")
    if kind is None:
        raise DatasetError(
            f"cannot read {path}: use a .csv, .tsv, .json, .jsonl or .parquet file "
            "(optionally gzipped)"
        )
    try:
        if kind in ("csv", "tsv"):
            frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
        elif kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_json(path, lines=kind == "jsonl")
    except ValueError as exc:
        if kind == "json":  # a .json file may still hold one object per line
            try:
                frame = pd.read_json(path, lines=True)
            except ValueError:
                raise DatasetError(f"cannot read {path}: {exc}") from None
        else:
            raise DatasetError(f"cannot read {path}: {exc}") from None
    except (OSError, ImportError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    return datasets.Dataset.from_pandas(frame, preserve_index=False)


def _load_source(
    source: str | os.PathLike[str] | datasets.Dataset, *, subset: str | None, split: str
) -> datasets.Dataset:
    if not isinstance(source, str | os.PathLike):
        return source
    import datasets  # noqa: PLC0415

    text = os.fspath(source)
    if is_packaged_task(text):
        if subset is not None:
            raise DatasetError(f"the shipped task {text} has no subsets; drop --subset")
        return load_task(text, split)
    path = Path(text).expanduser()
    if path.is_file():
        return _read_file(path)
    if not path.exists() and (
        isinstance(source, os.PathLike)
        or text.startswith(("/", ".", "~"))
        or path.suffix.lower() in (*_FILE_READERS, ".gz")
    ):
        raise DatasetError(f"no such file: {path}")
    if path.is_dir():
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise DatasetError(f"{path} has no split {split!r}; it has {list(loaded)}")
            return loaded[split]
        return loaded
    try:
        return datasets.load_dataset(text, subset, split=split)
    except Exception as exc:  # datasets raises many types: offline, missing, bad config
        raise DatasetError(
            f"cannot load the dataset {text!r} (subset {subset!r}, split {split!r}): {exc}. "
            "Use a shipped task (registry.data.list_tasks()), a local file, or go online"
        ) from exc


def _label_names(
    dataset: datasets.Dataset, column: str, values: Sequence[Any]
) -> tuple[str, ...] | None:
    feature = dataset.features.get(column)
    names = getattr(feature, "names", None)
    if names:
        return tuple(str(n) for n in names)
    if all(isinstance(v, str) for v in values):
        return tuple(sorted(set(values)))
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return tuple(str(i) for i in range(max(values) + 1)) if values else ()
    return None


def load_intermediate(
    source: str | os.PathLike[str] | datasets.Dataset,
    *,
    task_id: str | None = None,
    subset: str | None = None,
    split: str | None = None,
    text_column: str | Sequence[str] | None = None,
    label_column: str | None = None,
    num_examples: int | None = None,
    seed: int = DEFAULT_SEED,
    language: Sequence[str] | None = None,
) -> IntermediateData:
    """Load and sample the intermediate task an ESM is trained on.

    Sampling is hfselect's (``dataset.shuffle(seed=seed).select(range(num_examples))``
    after dropping rows labelled ``-1``), so the same arguments draw the same examples;
    rows without a label or with an empty text are dropped too (hfselect would fail on
    them). The recorded ``num_examples`` is the number of examples actually used.

    Args:
        source: A shipped task name (``wordnet/noun-supersense``), a local .csv, .tsv,
            .json, .jsonl or .parquet file, a folder written by ``save_to_disk``, a
            ``datasets.Dataset``, or a Hub dataset id (needs network or a local cache).
        task_id: The Hub dataset id to record; needed for files and in-memory datasets
            (their path is no id). Default: the shipped task's or Hub dataset's name.
        subset: Dataset configuration (Hub datasets only).
        split: Split to read (default ``train``).
        text_column: Text column, or several to join with ``" [SEP] "`` (default for shipped
            tasks: ``text``).
        label_column: Label column (default for shipped tasks: ``label``).
        num_examples: Sample this many examples (default: all).
        seed: Seed of the sample (also recorded on the card).
        language: Language codes of the texts (default for shipped tasks: theirs).

    Raises:
        DatasetError: the source cannot be read, a column is missing, or nothing is left.
        UsageError: an argument is invalid or missing.
    """
    if num_examples is not None and num_examples < 1:
        raise UsageError(f"num_examples must be at least 1, got {num_examples}")
    if seed < 0:
        raise UsageError(f"seed must be >= 0, got {seed}")
    split = split or "train"
    name = os.fspath(source) if isinstance(source, str | os.PathLike) else None
    shipped = name is not None and is_packaged_task(name)
    info = task_info(name) if shipped and name is not None else None
    if info is not None:
        text_column = text_column or info.text_column
        label_column = label_column or info.label_column
        language = info.language if language is None else language
        task_id = task_id or info.name
    elif name is not None and not Path(name).expanduser().exists():
        task_id = task_id or name  # a Hub dataset id
    if task_id is None:
        raise UsageError(
            "a local file or in-memory dataset has no Hub id: pass task_id (--task-id) to "
            "say which dataset it is"
        )
    if text_column is None or label_column is None:
        raise UsageError("name the text column and the label column of the dataset")
    columns = [text_column] if isinstance(text_column, str) else list(text_column)
    if not columns:
        raise UsageError("name at least one text column")

    dataset = _load_source(source, subset=subset, split=split)
    missing = [c for c in [*columns, label_column] if c not in dataset.column_names]
    if missing:
        raise DatasetError(
            f"{task_id} ({split}) has no column {', '.join(repr(c) for c in missing)}; "
            f"its columns: {', '.join(dataset.column_names)}"
        )
    dataset = dataset.select_columns([*dict.fromkeys([*columns, label_column])])
    labels_all = dataset[label_column]
    texts_all = [dataset[c] for c in columns]
    keep = [
        i
        for i, label in enumerate(labels_all)
        if label is not None
        and not (isinstance(label, int) and label == -1)
        and all(isinstance(col[i], str) and col[i].strip() for col in texts_all)
    ]
    if len(keep) < len(labels_all):
        logger.info(
            "dropped %d of %d rows without a label or text",
            len(labels_all) - len(keep),
            len(labels_all),
        )
        dataset = dataset.select(keep)
    if len(dataset) == 0:
        raise DatasetError(f"{task_id} ({split}) has no usable examples")
    if num_examples is not None:
        if num_examples > len(dataset):
            logger.warning(
                "%s (%s) has %d examples; using all of them instead of %d",
                task_id,
                split,
                len(dataset),
                num_examples,
            )
        dataset = dataset.shuffle(seed=seed).select(range(min(num_examples, len(dataset))))
    texts = join_columns([dataset[c] for c in columns])
    labels = list(dataset[label_column])
    # A shipped task knows all its classes, also those a small sample misses.
    if info is not None and label_column == info.label_column:
        label_names: tuple[str, ...] | None = info.labels
    else:
        label_names = _label_names(dataset, label_column, labels)
    try:
        task = IntermediateTask(
            task_id=task_id,
            subset=subset,
            text_column=columns[0] if len(columns) == 1 else columns,
            label_column=label_column,
            split=split,
            num_examples=len(texts),
            seed=seed,
        )
    except ValueError as exc:
        raise UsageError(f"the task cannot be recorded in ESM metadata: {exc}") from None
    return IntermediateData(
        texts=tuple(texts),
        labels=tuple(labels),
        label_names=label_names,
        task=task,
        language=tuple(language or ()),
    )


# --- fitting the linear map ---------------------------------------------------------------


@dataclass(frozen=True)
class LinearFit:
    """A fitted map ``y = W x + b`` (float64) and the losses seen while fitting."""

    weight: FloatArray
    bias: FloatArray
    losses: tuple[float, ...] = ()

    def apply(self, x: npt.ArrayLike) -> FloatArray:
        """``x @ Wᵀ + b`` in float64."""
        return np.asarray(x, dtype=np.float64) @ self.weight.T + self.bias

    def mse(self, x: npt.ArrayLike, y: npt.ArrayLike) -> float:
        """Mean squared error over all entries, as ``torch.nn.MSELoss`` computes it."""
        return _mse(self.apply(x), np.asarray(y, dtype=np.float64))


def _mse(prediction: FloatArray, target: FloatArray) -> float:
    return float(np.mean((prediction - target) ** 2)) if prediction.size else math.nan


def _pairs(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.ndim != 2 or ys.ndim != 2 or xs.shape[0] != ys.shape[0]:
        raise UsageError(
            f"embedding pairs must be two (N, D) arrays with the same N; got {xs.shape} "
            f"and {ys.shape}"
        )
    if xs.shape[0] == 0:
        raise UsageError("no embedding pairs to fit")
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise TrainingError("the embeddings hold non-finite values")
    return xs, ys


def fit_lstsq(x: npt.ArrayLike, y: npt.ArrayLike, *, ridge: float = 0.0) -> LinearFit:
    """Least-squares fit of ``y ≈ W x + b``, exact and in float64.

    Centering both sides first is the same as solving the normal equations on ``[X, 1]``
    with an unpenalised bias, and better conditioned. Without ridge the centred problem
    goes to ``numpy.linalg.lstsq`` (SVD) and the minimum-norm solution is returned;
    singular values below :data:`LSTSQ_RCOND` times the largest count as zero. That
    matters: LayerNorm puts transformer embeddings on a hyperplane, so ``Xc`` has exact
    null directions that float32 rounding turns into tiny singular values, and inverting
    those gives weights of 1e8 that fit the task but blow up on any other text. With
    ridge ``λ > 0`` it solves ``(XcᵀXc + λI) Wᵀ = XcᵀYc``, the objective
    ``‖X Wᵀ + b − Y‖² + λ‖W‖²`` summed over the pairs.

    Args:
        x: Base-model embeddings, shape ``(N, D)``.
        y: Fine-tuned-model embeddings of the same texts, shape ``(N, D)``.
        ridge: The L2 penalty ``λ >= 0`` on ``W``.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(50, 3))
        >>> fit = fit_lstsq(x, 2 * x + 1)
        >>> np.allclose(fit.weight, 2 * np.eye(3)), np.allclose(fit.bias, 1)
        (True, True)
    """
    _check_non_negative(ridge=ridge)
    xs, ys = _pairs(x, y)
    x_mean, y_mean = xs.mean(axis=0), ys.mean(axis=0)
    xc, yc = xs - x_mean, ys - y_mean
    if ridge > 0:
        gram = xc.T @ xc
        gram[np.diag_indices_from(gram)] += ridge
        try:
            weight_t = np.linalg.solve(gram, xc.T @ yc)
        except np.linalg.LinAlgError as exc:  # pragma: no cover - gram + λI is definite
            raise TrainingError(f"the ridge system is singular: {exc}") from exc
    else:
        weight_t = np.linalg.lstsq(xc, yc, rcond=LSTSQ_RCOND)[0]
    weight = np.ascontiguousarray(weight_t.T)
    bias = y_mean - weight @ x_mean
    fit = LinearFit(weight, bias)
    return LinearFit(weight, bias, losses=(fit.mse(xs, ys),))


@contextlib.contextmanager
def _single_thread(active: bool) -> Iterator[None]:
    """Run torch on one thread meanwhile: for small products, thread start-up and
    contention cost more than the arithmetic (20x slower on a busy two-core machine)."""
    import torch  # noqa: PLC0415

    threads = torch.get_num_threads()
    if active:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if active:
            torch.set_num_threads(threads)


def fit_adamw(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    config: EsmTrainingConfig | None = None,
    *,
    seed: int = DEFAULT_SEED,
    progress: bool | None = None,
) -> LinearFit:
    """Fit ``y ≈ W x + b`` with hfselect's schedule: AdamW on the MSE loss.

    A ``torch.nn.Linear`` (default initialisation, seeded) is trained for
    ``config.num_epochs`` epochs of shuffled mini-batches; the learning rate decays
    linearly from ``config.learning_rate`` to 0 over all steps, gradients are clipped to
    norm ``config.max_grad_norm``. The global torch random state is left untouched.

    Returns:
        The fit; :attr:`LinearFit.losses` holds the mean training loss of each epoch.

    Raises:
        TrainingError: the loss became non-finite (lower the learning rate).
    """
    import torch  # noqa: PLC0415

    config = config or EsmTrainingConfig(method="adamw")
    xs, ys = _pairs(x, y)
    inputs = torch.from_numpy(xs.astype(np.float32))
    targets = torch.from_numpy(ys.astype(np.float32))
    n, dim_in = inputs.shape
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = torch.nn.Linear(dim_in, targets.shape[1])
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(
        layer.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    steps_per_epoch = math.ceil(n / config.batch_size)
    total = steps_per_epoch * config.num_epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1.0 - step / total)
    )
    loss_fn = torch.nn.MSELoss()
    small = dim_in * targets.shape[1] * config.batch_size < _SMALL_PRODUCT
    losses: list[float] = []
    with (
        _single_thread(small),
        progress_bar(
            total=config.num_epochs, desc="fitting ESM", unit="epoch", progress=progress
        ) as bar,
    ):
        for _ in range(config.num_epochs):
            order = torch.randperm(n, generator=generator)
            total_loss = 0.0
            for start in range(0, n, config.batch_size):
                rows = order[start : start + config.batch_size]
                optimizer.zero_grad()
                loss = loss_fn(layer(inputs[rows]), targets[rows])
                if not torch.isfinite(loss):
                    raise TrainingError(
                        "the ESM loss became non-finite; lower the learning rate or use "
                        "the 'lstsq' method"
                    )
                loss.backward()
                torch.nn.utils.clip_grad_norm_(layer.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                total_loss += float(loss.item()) * len(rows)
            losses.append(total_loss / n)
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4g}")
    weight = layer.weight.detach().numpy().astype(np.float64)
    bias = layer.bias.detach().numpy().astype(np.float64)
    return LinearFit(weight, bias, losses=tuple(losses))


def split_validation(
    n: int, fraction: float = DEFAULT_VALIDATION_FRACTION, *, seed: int = DEFAULT_SEED
) -> tuple[np.ndarray[Any, np.dtype[np.intp]], np.ndarray[Any, np.dtype[np.intp]]]:
    """Indices of the training and the validation pairs, drawn with ``seed``.

    ``round(n * fraction)`` pairs are held out, at least one when ``fraction > 0`` and at
    least one is always left for training. Both index arrays are sorted.

    Example:
        >>> train, val = split_validation(10, 0.2, seed=0)
        >>> len(train), len(val)
        (8, 2)
    """
    if n < 1:
        raise UsageError("no examples to split")
    if not 0.0 <= fraction < 1.0:
        raise UsageError(f"validation fraction must be in [0, 1), got {fraction}")
    held_out = 0 if fraction == 0 else min(max(1, round(n * fraction)), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[held_out:]), np.sort(order[:held_out])


# --- fine-tuning --------------------------------------------------------------------------


@dataclass(frozen=True)
class FineTuneOutcome:
    """Where the fine-tuned model was saved and how its training went."""

    path: Path
    steps: int
    planned_steps: int
    final_loss: float
    mean_loss_last_epoch: float


def fine_tune(
    base: str | os.PathLike[str] | ResolvedModel,
    data: IntermediateData,
    output_dir: str | os.PathLike[str],
    config: LMTrainingConfig | None = None,
    *,
    seed: int = DEFAULT_SEED,
    max_length: int = DEFAULT_MAX_LENGTH,
    device: str | None = None,
    save_classifier: bool = True,
    progress: bool | None = None,
) -> FineTuneOutcome:
    """Fine-tune the base model as a sequence classifier on the task; save it to a folder.

    A plain torch loop: shuffled mini-batches padded to their longest text, cross-entropy,
    AdamW over all parameters, the learning rate decaying linearly to 0 without warm-up,
    gradients clipped. The classifier head and the shuffling are seeded and the global
    torch random state is restored afterwards. The folder gets the model and the base
    model's tokenizer, so :class:`~registry.embedding.Embedder` can load it; with
    ``save_classifier=False`` only the encoder is saved (all an ESM needs, and it loads
    with ``AutoModel`` without warnings about the unused head).

    Raises:
        DatasetError: the labels are not categorical.
        TrainingError: the loss became non-finite.
    """
    import torch  # noqa: PLC0415
    from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: PLC0415

    config = config or LMTrainingConfig()
    resolved = base if isinstance(base, ResolvedModel) else resolve_model(base)
    label_ids = data.label_ids()
    names = data.label_names or ()
    if len(names) < 2:
        raise DatasetError(
            f"fine-tuning needs at least two classes; {data.task.task_id} has {len(names)}"
        )
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(resolved.path)
    with torch.random.fork_rng(devices=[]), _quiet_transformers():
        # The new classification head is expected to be missing from the checkpoint;
        # transformers' report of it would only alarm the user.
        torch.manual_seed(seed)
        model = AutoModelForSequenceClassification.from_pretrained(
            resolved.path,
            num_labels=len(names),
            id2label=dict(enumerate(names)),
            label2id={name: i for i, name in enumerate(names)},
        )
    model.to(device)
    model.train()
    n = len(data)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total = steps_per_epoch * config.num_epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1.0 - step / total)
    )
    generator = torch.Generator().manual_seed(seed)
    labels = torch.tensor(label_ids, dtype=torch.long)
    step, loss_value, epoch_losses = 0, math.nan, [math.nan]
    with (
        torch.random.fork_rng(devices=[]),
        progress_bar(total=total, desc="fine-tuning", unit="step", progress=progress) as bar,
    ):
        torch.manual_seed(seed)  # dropout
        for _ in range(config.num_epochs):
            order = torch.randperm(n, generator=generator).tolist()
            epoch_losses = []
            for start in range(0, n, config.batch_size):
                if step >= total:
                    break
                rows = order[start : start + config.batch_size]
                batch = tokenizer(
                    [data.texts[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                    return_token_type_ids=False,
                )
                optimizer.zero_grad()
                output = model(
                    input_ids=batch["input_ids"].to(device),
                    attention_mask=batch["attention_mask"].to(device),
                    labels=labels[rows].to(device),
                )
                loss = output.loss
                if not torch.isfinite(loss):
                    raise TrainingError(
                        f"the fine-tuning loss became non-finite at step {step}; lower the "
                        "learning rate"
                    )
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                step += 1
                loss_value = float(loss.item())
                epoch_losses.append(loss_value)
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.4g}")
            if step >= total:
                break
    model.eval()
    path = Path(output_dir)
    path.mkdir(parents=True, exist_ok=True)
    (model if save_classifier else model.base_model).save_pretrained(path)
    tokenizer.save_pretrained(path)
    logger.info(
        "fine-tuned %s for %d steps (final loss %.4g); saved to %s",
        resolved.model_id,
        step,
        loss_value,
        path,
    )
    return FineTuneOutcome(
        path=path,
        steps=step,
        planned_steps=steps_per_epoch * config.num_epochs,
        final_loss=loss_value,
        mean_loss_last_epoch=float(np.mean(epoch_losses)) if epoch_losses else math.nan,
    )


# --- the whole pipeline -------------------------------------------------------------------


@dataclass
class TrainResult:
    """A trained ESM with its fit statistics.

    Attributes:
        esm: The ESM; its metadata is complete (see :func:`train_esm`).
        train_mse: MSE on the pairs it was fitted on.
        validation_mse: MSE on the held-out pairs (``None`` without a validation share).
        identity_mse: MSE of the identity map on the held-out pairs: how far fine-tuning
            moved the embeddings, the baseline the ESM should beat.
        timings: Seconds per stage (``embed_base``, ``fine_tune``, ``embed_fine_tuned``,
            ``fit``, ``total``).
        fine_tuned_path: Where the model fine-tuned here was kept, when asked to keep it.
    """

    esm: Esm
    train_mse: float
    validation_mse: float | None
    identity_mse: float | None
    timings: dict[str, float] = field(default_factory=dict)
    fine_tuned_path: Path | None = None

    @property
    def metadata(self) -> EsmMetadata:
        """The ESM's metadata."""
        return self.esm.metadata

    def card(self, *, template: str | os.PathLike[str] | None = None) -> str:
        """The model card rendered from the metadata."""
        return render_card(self.esm.metadata, template=None if template is None else Path(template))

    def save(
        self, directory: str | os.PathLike[str], *, template: str | os.PathLike[str] | None = None
    ) -> Path:
        """Write the ESM folder: ``model.safetensors``, ``config.json`` and ``README.md``."""
        return self.esm.save(directory, readme=self.card(template=template))


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Lower transformers' log level to errors for the duration (restored afterwards)."""
    from transformers.utils import logging as hf_logging  # noqa: PLC0415

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity(logging.ERROR)
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)


def _has_tokenizer(folder: Path) -> bool:
    return any((folder / name).is_file() for name in _TOKENIZER_FILES)


@contextlib.contextmanager
def _with_tokenizer(folder: Path, tokenizer_source: str) -> Iterator[Path]:
    """``folder`` itself when it has tokenizer files, else a temporary overlay of its files
    plus the base model's tokenizer (fine-tuned checkpoints often ship without one)."""
    if _has_tokenizer(folder):
        yield folder
        return
    from transformers import AutoTokenizer  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="esm-registry-ft-") as tmp:
        overlay = Path(tmp)
        for item in folder.iterdir():
            (overlay / item.name).symlink_to(item.resolve())
        AutoTokenizer.from_pretrained(tokenizer_source).save_pretrained(overlay)
        logger.info("%s has no tokenizer; using the base model's", folder)
        yield overlay


@dataclass
class _Pairs:
    """Embedding pairs and what the ESM's metadata needs to know about how they were made."""

    x: FloatArray
    y: FloatArray
    pooling: str
    lm_training: Hyperparameters
    outcome: FineTuneOutcome | None = None
    kept: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _embedding_pairs(
    base: ResolvedModel,
    data: IntermediateData,
    *,
    fine_tuned_model: str | os.PathLike[str] | None,
    lm_config: LMTrainingConfig | None,
    lm_training: Hyperparameters | None,
    seed: int,
    max_length: int,
    batch_size: int,
    pooling: Pooling | Literal["auto"],
    device: str | None,
    cache_dir: str | os.PathLike[str] | Literal[False] | None,
    save_fine_tuned: str | os.PathLike[str] | None,
    progress: bool | None,
) -> _Pairs:
    """Embed the texts with the base model and the fine-tuned one (fine-tuning it first
    when ``fine_tuned_model`` is ``None``), with the base model's pooling for both."""
    timings: dict[str, float] = {}
    texts = list(data.texts)
    base_embedder = Embedder(
        base.path, model_id=base.model_id, pooling=pooling, device=device, cache_dir=cache_dir
    )
    tick = time.perf_counter()
    x = base_embedder.embed(texts, batch_size=batch_size, max_length=max_length, progress=progress)
    timings["embed_base"] = time.perf_counter() - tick

    outcome: FineTuneOutcome | None = None
    kept: Path | None = None
    tuned_cache: str | os.PathLike[str] | Literal[False] | None = False
    with contextlib.ExitStack() as stack:
        if fine_tuned_model is None:
            lm_config = lm_config or LMTrainingConfig()
            if save_fine_tuned is not None:
                folder = kept = Path(save_fine_tuned)
            else:
                tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="esm-registry-ft-"))
                folder = Path(tmp)
            tick = time.perf_counter()
            outcome = fine_tune(
                base,
                data,
                folder,
                lm_config,
                seed=seed,
                max_length=max_length,
                device=base_embedder.device,
                save_classifier=kept is not None,
                progress=progress,
            )
            timings["fine_tune"] = time.perf_counter() - tick
            tuned_path, tuned_id = str(folder), base.model_id
            lm_training = lm_config.hyperparameters()
        else:
            tuned = resolve_model(fine_tuned_model)
            tuned_path, tuned_id = tuned.path, tuned.model_id
            if Path(tuned_path).is_dir():
                overlay = _with_tokenizer(Path(tuned_path), base.path)
                tuned_path = str(stack.enter_context(overlay))
            else:  # a Hub id names fixed content, so its embeddings may be cached
                tuned_cache = cache_dir
        tuned_embedder = Embedder(
            tuned_path,
            model_id=tuned_id,
            pooling=base_embedder.pooling,
            device=base_embedder.device,
            cache_dir=tuned_cache,
        )
        if tuned_embedder.embedding_dim != base_embedder.embedding_dim:
            raise UsageError(
                f"the fine-tuned model's embeddings have {tuned_embedder.embedding_dim} "
                f"dimensions, the base model's {base_embedder.embedding_dim}: it is not a "
                f"fine-tuned {base.model_id}"
            )
        tick = time.perf_counter()
        y = tuned_embedder.embed(
            texts, batch_size=batch_size, max_length=max_length, progress=progress
        )
        timings["embed_fine_tuned"] = time.perf_counter() - tick
    return _Pairs(
        x=x.astype(np.float64),
        y=y.astype(np.float64),
        pooling=base_embedder.pooling,
        lm_training=lm_training or Hyperparameters(),
        outcome=outcome,
        kept=kept,
        timings=timings,
    )


def _texts(
    metadata: EsmMetadata,
    *,
    config: EsmTrainingConfig,
    pairs: _Pairs,
    fine_tuned_name: str | None,
    n_train: int,
    n_val: int,
    max_length: int,
) -> dict[str, str]:
    """The free-text card sections, written from what was done."""
    task = metadata.display_name
    source = (
        "the same model fine-tuned on the task by esm-registry"
        if fine_tuned_name is None
        else f"the fine-tuned model {fine_tuned_name}"
    )
    texts = {
        "summary": f"An Embedding Space Map for {metadata.base_model} that approximates how "
        f"fine-tuning on {task} changes its embeddings.",
        "description": f"A linear map of the {metadata.embedding_dim}-dimensional "
        f"{pairs.pooling}-pooled embeddings of {metadata.base_model}, fitted on pairs of "
        f"embeddings of the task's texts from the base model and from {source}. ESM-LogME "
        "applies it to a target dataset's base-model embeddings to estimate how much "
        "intermediate training on the task would help.",
    }
    details = []
    outcome = pairs.outcome
    if outcome is not None:
        stopped = (
            f" of the {outcome.planned_steps} planned (stopped by max_steps)"
            if outcome.steps < outcome.planned_steps
            else ""
        )
        details.append(
            f"The base model was fine-tuned as a sequence classifier on the "
            f"{metadata.task.num_examples} sampled examples for {outcome.steps} steps{stopped}, "
            "with AdamW, a learning rate decaying linearly to 0 and gradients clipped at 1.0."
        )
    if config.method == "lstsq":
        ridge = f" with a ridge penalty of {config.ridge!r}" if config.ridge else ""
        how = (
            f"in closed form by least squares{ridge}; epochs, batch size and learning rate "
            "do not apply"
        )
    else:
        how = (
            f"with AdamW on the MSE loss for {config.num_epochs} epochs (batch size "
            f"{config.batch_size}, learning rate {config.learning_rate!r} decaying linearly "
            f"to 0, weight decay {config.weight_decay!r}, gradients clipped at "
            f"{config.max_grad_norm!r})"
        )
    details.append(
        f"Texts were truncated to {max_length} tokens and embedded with {pairs.pooling} "
        f"pooling. The ESM was fitted on {n_train} embedding pairs {how}."
    )
    if n_val:
        details.append(f"{n_val} pairs ({config.validation_fraction:.0%}) were held out.")
    texts["training_details"] = " ".join(details)
    return texts


def train_esm(
    base_model: str | os.PathLike[str],
    data: IntermediateData | str | os.PathLike[str] | datasets.Dataset,
    *,
    fine_tuned_model: str | os.PathLike[str] | None = None,
    fine_tune_base: bool = False,
    base_model_id: str | None = None,
    lm_config: LMTrainingConfig | None = None,
    lm_training: Hyperparameters | None = None,
    esm_config: EsmTrainingConfig | None = None,
    seed: int = DEFAULT_SEED,
    max_length: int = DEFAULT_MAX_LENGTH,
    embedding_batch_size: int = 64,
    pooling: Pooling | Literal["auto"] = "auto",
    device: str | None = None,
    cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
    save_fine_tuned: str | os.PathLike[str] | None = None,
    developers: str | None = None,
    license: str = DEFAULT_LICENSE,
    progress: bool | None = None,
) -> TrainResult:
    """Train one ESM for ``base_model`` on an intermediate task.

    Args:
        base_model: Hub id or local folder of the base model. A Hub id that a pip package
            ships (see :mod:`registry.embedding.models`) is loaded from the package, offline.
        data: The task: :class:`IntermediateData` from :func:`load_intermediate`, or
            anything :func:`load_intermediate` accepts (read with its defaults).
        fine_tuned_model: Hub id or folder of the model fine-tuned on the task.
        fine_tune_base: Fine-tune the base model on the task here instead (with
            ``lm_config``); exactly one of this and ``fine_tuned_model`` is needed.
        base_model_id: The Hub id to record when ``base_model`` is a folder.
        lm_config: Fine-tuning configuration (with ``fine_tune_base``).
        lm_training: Hyperparameters to record for a given ``fine_tuned_model``.
        esm_config: How to fit the map (default: closed-form least squares).
        seed: Seeds the validation split, fine-tuning and the ``adamw`` fit.
        max_length: Tokens per text (hfselect uses 128; the ranker must use the same).
        embedding_batch_size: Texts per forward pass when embedding.
        pooling: ``auto`` (hfselect's rule for the base model) or an explicit pooling.
        device: ``cpu``, ``cuda``, ...; default: a GPU when there is one.
        cache_dir: Embedding cache (``False``: none; default: the ranker's cache, so the
            base model embeds each task once). A local fine-tuned folder is never cached.
        save_fine_tuned: Keep the model fine-tuned here (with its classifier head) there.
        developers: Who trained the ESM (recorded on the card).
        license: Hub license id of the ESM.
        progress: Progress bars; ``None``: only when stderr is a terminal.

    Returns:
        The ESM and its fit statistics; :meth:`TrainResult.save` writes the folder.

    Raises:
        UsageError: conflicting or invalid arguments.
        DatasetError: the task cannot be read.
        ModelLoadError: a model cannot be loaded.
        TrainingError: fine-tuning or fitting diverged.
    """
    started = time.perf_counter()
    if (fine_tuned_model is None) != fine_tune_base:
        raise UsageError("give a fine-tuned model or ask to fine-tune the base model, not both")
    if fine_tuned_model is not None and lm_config is not None:
        raise UsageError(
            "lm_config configures fine-tuning here; to record how a given fine-tuned model "
            "was trained, pass lm_training"
        )
    if fine_tuned_model is None and lm_training is not None:
        raise UsageError("lm_training records a given model's training; configure with lm_config")
    if embedding_batch_size < 1 or max_length < 2:
        raise UsageError("embedding_batch_size must be >= 1 and max_length >= 2")
    esm_config = esm_config or EsmTrainingConfig()
    if not isinstance(data, IntermediateData):
        data = load_intermediate(data, seed=seed)
    base = resolve_model(base_model, model_id=base_model_id)
    try:
        IntermediateTask(task_id=base.model_id)  # the same Hub-id rules as base_model
    except ValueError:
        raise UsageError(
            f"{base.model_id!r} is not a Hub model id; pass base_model_id (--base-model-id) "
            "to say which Hub model the folder holds"
        ) from None

    pairs = _embedding_pairs(
        base,
        data,
        fine_tuned_model=fine_tuned_model,
        lm_config=lm_config,
        lm_training=lm_training,
        seed=seed,
        max_length=max_length,
        batch_size=embedding_batch_size,
        pooling=pooling,
        device=device,
        cache_dir=cache_dir,
        save_fine_tuned=save_fine_tuned,
        progress=progress,
    )
    timings = dict(pairs.timings)

    tick = time.perf_counter()
    x, y = pairs.x, pairs.y
    train, val = split_validation(len(x), esm_config.validation_fraction, seed=seed)
    if esm_config.method == "lstsq":
        fit = fit_lstsq(x[train], y[train], ridge=esm_config.ridge)
    else:
        fit = fit_adamw(x[train], y[train], esm_config, seed=seed, progress=progress)
    timings["fit"] = time.perf_counter() - tick
    train_mse = fit.mse(x[train], y[train])
    val_mse = fit.mse(x[val], y[val]) if len(val) else None
    identity_mse = _mse(x[val], y[val]) if len(val) else None
    if not math.isfinite(train_mse) or (val_mse is not None and not math.isfinite(val_mse)):
        raise TrainingError("the fitted ESM gives non-finite errors; try a ridge penalty")

    lm_eval = None
    if pairs.outcome is not None:
        lm_eval = (
            f"Mean training cross-entropy over the last epoch's steps: "
            f"{pairs.outcome.mean_loss_last_epoch:.4g}. No held-out accuracy was measured."
        )
    eval_details = f"MSE on the {len(train)} fitting pairs: {train_mse:.6g}."
    if val_mse is not None and identity_mse is not None:
        eval_details = (
            f"The MSE is the mean squared error over all entries on {len(val)} held-out "
            f"embedding pairs (seed {seed}); the identity map (no change) has {identity_mse:.6g} "
            f"there. {eval_details}"
        )
    extra: dict[str, Any] = {"esm_fit_method": esm_config.method}
    if esm_config.method == "lstsq":
        extra["esm_ridge"] = float(esm_config.ridge)
    extra["esm_validation_fraction"] = float(esm_config.validation_fraction)
    extra["embedding_pooling"] = pairs.pooling
    extra["embedding_max_length"] = max_length
    if pairs.outcome is not None:
        extra["lm_steps"] = pairs.outcome.steps
    try:
        metadata = EsmMetadata(
            base_model=base.model_id,
            task=data.task,
            language=list(data.language),
            architecture="linear",
            embedding_dim=x.shape[1],
            lm_training=pairs.lm_training,
            esm_training=esm_config.hyperparameters(),
            developers=developers,
            version=FORMAT_VERSION,
            license=license,
            evaluation=Evaluation(esm_mse=val_mse, lm=lm_eval, details=eval_details),
            extra=extra,
        )
        texts = _texts(
            metadata,
            config=esm_config,
            pairs=pairs,
            fine_tuned_name=None if fine_tuned_model is None else str(fine_tuned_model),
            n_train=len(train),
            n_val=len(val),
            max_length=max_length,
        )
        metadata = EsmMetadata.model_validate({**metadata.model_dump(), **texts})
    except ValueError as exc:
        raise UsageError(f"the ESM's metadata would be invalid: {exc}") from None
    esm = Esm(metadata, fit.weight, fit.bias)
    timings["total"] = time.perf_counter() - started
    for problem in validate_text(render_card(metadata), strict=True).problems:
        logger.warning("card of the trained ESM: %s: %s", problem.field or "-", problem.message)
    logger.info(
        "trained ESM for %s on %s: validation MSE %s (identity map %s) in %.1fs",
        base.model_id,
        metadata.display_name,
        "n/a" if val_mse is None else f"{val_mse:.4g}",
        "n/a" if identity_mse is None else f"{identity_mse:.4g}",
        timings["total"],
    )
    return TrainResult(
        esm=esm,
        train_mse=train_mse,
        validation_mse=val_mse,
        identity_mse=identity_mse,
        timings=timings,
        fine_tuned_path=pairs.kept,
    )
