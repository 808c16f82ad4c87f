"""The whole training run: embedding pairs, the fit, and an ESM with a complete card.

:func:`train_esm` ties data, fine-tuning and fitting together and writes every metadata
field it can know, so the card it renders validates under ``card validate --strict``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..card import render_card
from ..card.validate import validate_text
from ..embedding import Embedder, EmbeddingOptions, ResolvedModel, resolve_model
from ..errors import TrainingError, UsageError
from ..esm import FORMAT_VERSION, Esm
from ..labelled import LabelledSource
from ..metadata import (
    DEFAULT_LICENSE,
    EsmMetadata,
    Evaluation,
    Hyperparameters,
    IntermediateTask,
)
from .config import (
    DEFAULT_EMBEDDING_BATCH_SIZE,
    DEFAULT_SEED,
    EsmTrainingConfig,
    LMTrainingConfig,
)
from .data import IntermediateData, load_intermediate
from .finetune import FineTuneOutcome, fine_tune, tokenizer_overlay
from .fit import FloatArray, fit_adamw, fit_lstsq, mean_squared_error, split_validation

__all__ = ["TrainResult", "train_esm"]

logger = logging.getLogger(__name__)


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

    @property
    def worse_than_identity(self) -> bool:
        """The ESM's held-out error exceeds that of the identity map (a failed fit)."""
        return _worse_than_identity(self.validation_mse, self.identity_mse)

    def card(self, *, template: str | os.PathLike[str] | None = None) -> str:
        """The model card rendered from the metadata."""
        return render_card(self.esm.metadata, template=None if template is None else Path(template))

    def save(
        self, directory: str | os.PathLike[str], *, template: str | os.PathLike[str] | None = None
    ) -> Path:
        """Write the ESM folder: ``model.safetensors``, ``config.json`` and ``README.md``."""
        return self.esm.save(directory, readme=self.card(template=template))


def _worse_than_identity(validation_mse: float | None, identity_mse: float | None) -> bool:
    """Whether the map explains the held-out change worse than "no change" does.

    A fine-tuned model that barely moved the embeddings gives an identity MSE near zero;
    the tolerance keeps rounding of an exact fit from counting as worse.
    """
    if validation_mse is None or identity_mse is None:
        return False
    return validation_mse > identity_mse * (1 + 1e-6) + 1e-12


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
    embedding: EmbeddingOptions,
    save_fine_tuned: str | os.PathLike[str] | None,
    progress: bool | None,
) -> _Pairs:
    """Embed the texts with the base model and the fine-tuned one (fine-tuning it first
    when ``fine_tuned_model`` is ``None``), with the base model's pooling for both."""
    timings: dict[str, float] = {}
    texts = list(data.texts)
    max_length, batch_size = embedding.max_length, embedding.batch_size
    cache_dir = embedding.cache_dir
    base_embedder = Embedder(
        base.path,
        model_id=base.model_id,
        pooling=embedding.pooling,
        device=embedding.device,
        cache_dir=cache_dir,
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
                overlay = tokenizer_overlay(Path(tuned_path), base.path)
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
    data: IntermediateData | LabelledSource,
    *,
    fine_tuned_model: str | os.PathLike[str] | None = None,
    fine_tune_base: bool = False,
    base_model_id: str | None = None,
    lm_config: LMTrainingConfig | None = None,
    lm_training: Hyperparameters | None = None,
    esm_config: EsmTrainingConfig | None = None,
    seed: int = DEFAULT_SEED,
    embedding: EmbeddingOptions | None = None,
    save_fine_tuned: str | os.PathLike[str] | None = None,
    developers: str | None = None,
    license: str = DEFAULT_LICENSE,
    progress: bool | None = None,
) -> TrainResult:
    """Train one ESM for ``base_model`` on an intermediate task.

    Args:
        base_model: Hub id or local folder of the base model (or set
            ``embedding.model_path`` to a local copy of a Hub id). A Hub id that a pip
            package ships (see :mod:`registry.embedding.models`) loads offline from it.
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
        embedding: How texts are embedded (:class:`~registry.embedding.EmbeddingOptions`;
            default: its defaults with 64 texts per batch). ``max_length`` and ``pooling``
            are recorded on the card, since the ranker must use the same; the cache is the
            ranker's, so the base model embeds each task once (a local fine-tuned folder
            is never cached).
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
    embedding = embedding or EmbeddingOptions(batch_size=DEFAULT_EMBEDDING_BATCH_SIZE)
    esm_config = esm_config or EsmTrainingConfig()
    if not isinstance(data, IntermediateData):
        data = load_intermediate(data, seed=seed)
    if embedding.model_path is not None:  # a local copy of the Hub id base_model
        base_model_id = base_model_id or str(base_model)
        base_model = embedding.model_path
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
        embedding=embedding,
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
    identity_mse = mean_squared_error(x[val], y[val]) if len(val) else None
    if not math.isfinite(train_mse) or (val_mse is not None and not math.isfinite(val_mse)):
        raise TrainingError("the fitted ESM gives non-finite errors; try a ridge penalty")

    worse = _worse_than_identity(val_mse, identity_mse)
    if worse:
        logger.warning(
            "the ESM of %s is worse than no map at all: its validation MSE %.4g is %.3gx that "
            "of the identity map (%.4g), so rankings with it would be noise; fit it on more "
            "examples (%d pairs for %d dimensions here), or with a ridge penalty",
            data.task.task_id,
            val_mse,
            (val_mse or 0.0) / identity_mse if identity_mse else math.inf,
            identity_mse,
            len(train),
            x.shape[1],
        )
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
    if worse:
        eval_details = (
            f"Warning: this ESM is worse than the identity map on the held-out pairs "
            f"({val_mse:.6g} against {identity_mse:.6g}): it does not capture how fine-tuning "
            f"moved the embeddings, and rankings made with it are unreliable. {eval_details}"
        )
    extra: dict[str, Any] = {"esm_fit_method": esm_config.method}
    if esm_config.method == "lstsq":
        extra["esm_ridge"] = float(esm_config.ridge)
    extra["esm_validation_fraction"] = float(esm_config.validation_fraction)
    extra["embedding_pooling"] = pairs.pooling
    extra["embedding_max_length"] = embedding.max_length
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
            max_length=embedding.max_length,
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
