"""How a training run is configured: fine-tuning the base model and fitting the map.

The configurations are frozen and checked when made, so a bad value fails before any
model is loaded, and they know how the ESM card records them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..embedding.options import DEFAULT_MAX_LENGTH
from ..errors import UsageError
from ..metadata import Hyperparameters

__all__ = [
    "DEFAULT_EMBEDDING_BATCH_SIZE",
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_SEED",
    "DEFAULT_VALIDATION_FRACTION",
    "EsmTrainingConfig",
    "FitMethod",
    "LMTrainingConfig",
    "check_non_negative",
    "check_positive",
    "lstsq_description",
]

FitMethod = Literal["lstsq", "adamw"]

DEFAULT_SEED = 42
#: Texts per forward pass when training embeds (no gradients: larger than the ranker's).
DEFAULT_EMBEDDING_BATCH_SIZE = 64
DEFAULT_VALIDATION_FRACTION = 0.1


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
        check_positive(
            num_epochs=self.num_epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            max_grad_norm=self.max_grad_norm,
        )
        check_non_negative(weight_decay=self.weight_decay)
        if self.max_steps is not None:
            check_positive(max_steps=self.max_steps)

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
        check_positive(
            num_epochs=self.num_epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            max_grad_norm=self.max_grad_norm,
        )
        check_non_negative(ridge=self.ridge, weight_decay=self.weight_decay)
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


def check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise UsageError(f"{name} must be a positive number, got {value!r}")


def check_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise UsageError(f"{name} must be a number >= 0, got {value!r}")
