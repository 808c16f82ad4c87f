"""Fitting the linear map ``y ≈ W x + b`` between base and fine-tuned embeddings.

Two ways: closed-form least squares (exact, a fraction of a second) and hfselect's
optimizer schedule (AdamW on the MSE loss), plus the held-out split that measures either.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._progress import progress_bar
from ..errors import TrainingError, UsageError
from .config import (
    DEFAULT_SEED,
    DEFAULT_VALIDATION_FRACTION,
    EsmTrainingConfig,
    check_non_negative,
)

__all__ = [
    "LSTSQ_RCOND",
    "FloatArray",
    "LinearFit",
    "fit_adamw",
    "fit_lstsq",
    "mean_squared_error",
    "split_validation",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

#: Relative cut-off of singular values in :func:`fit_lstsq`: embeddings are float32, so
#: directions a million times weaker than the strongest hold rounding noise only.
LSTSQ_RCOND = 1e-6
#: Below this many multiply-adds per layer call, :func:`fit_adamw` uses one torch thread.
_SMALL_PRODUCT = 1 << 24


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
        return mean_squared_error(self.apply(x), np.asarray(y, dtype=np.float64))


def mean_squared_error(prediction: FloatArray, target: FloatArray) -> float:
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
    check_non_negative(ridge=ridge)
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
    import torch  # noqa: PLC0415 - heavy, only when a model trains

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
    import torch  # noqa: PLC0415 - heavy, only when a model trains

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
