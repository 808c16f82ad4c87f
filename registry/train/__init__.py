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

Names load on first use, so that reading a configuration imports neither numpy nor torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .config import (
        DEFAULT_SEED,
        DEFAULT_VALIDATION_FRACTION,
        EsmTrainingConfig,
        FitMethod,
        LMTrainingConfig,
        lstsq_description,
    )
    from .data import IntermediateData, load_intermediate
    from .finetune import FineTuneOutcome, fine_tune
    from .fit import LSTSQ_RCOND, LinearFit, fit_adamw, fit_lstsq, split_validation
    from .pipeline import TrainResult, train_esm

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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DEFAULT_SEED": ".config",
        "DEFAULT_VALIDATION_FRACTION": ".config",
        "EsmTrainingConfig": ".config",
        "FitMethod": ".config",
        "LMTrainingConfig": ".config",
        "lstsq_description": ".config",
        "IntermediateData": ".data",
        "load_intermediate": ".data",
        "FineTuneOutcome": ".finetune",
        "fine_tune": ".finetune",
        "LSTSQ_RCOND": ".fit",
        "LinearFit": ".fit",
        "fit_adamw": ".fit",
        "fit_lstsq": ".fit",
        "split_validation": ".fit",
        "TrainResult": ".pipeline",
        "train_esm": ".pipeline",
    },
)
