"""LogME scores for ESM-LogME, with a fast path for linear ESMs.

LogME (You et al., ICML 2021) is the per-example log marginal likelihood of a Bayesian linear
regression from features ``F`` (N x D) to a target column ``y``, with an isotropic Gaussian prior
of precision ``alpha`` on the weights and Gaussian noise of precision ``beta``, both set by MacKay's
fixed-point iteration. The score is its mean over target columns: one one-hot column per class for
classification, one column per target for regression.

ESM-LogME evaluates it on ``F = X W^T + b`` for one target ``X`` and thousands of linear ESMs, so
the target is factored once (:class:`TargetStatistics`): the triangular factor ``R`` of the
augmented embeddings ``Z = [X, 1]`` (``Z^T Z = R^T R``, the Gram matrix ``G``) and ``Q^T Y``.
With ``A = [W, b]``, ``F = Z A^T = Q B`` where ``B = R A^T`` has at most D + 1 rows, so
``F^T F = A G A^T = B^T B`` and ``F^T y = B^T Q^T y``: the eigenvalues ``sigma`` of ``F^T F`` and
the projections ``p = V^T F^T y`` come from ``B`` alone, the per-ESM cost does not grow with N,
and ``F`` is never built. ``R`` rather than ``G`` is kept because ``B^T B`` costs one matmul less
than ``A G A^T``, because for N <= D it lets each ESM work in the N-dimensional space
(eigenvalues of ``B B^T``), and because it can be built block by block with bounded memory.
``|y - F m|^2`` is written without dividing by ``sigma``, so numerically zero eigenvalues are
harmless. The fixed point runs for a chunk of ESMs and every target column at once, on arrays.

Faithfulness: the iteration is that of thuml/LogME ``_fit_fixed_point`` as shipped by hfselect
0.2.1 (alpha = beta = 1 at start, epsilon 1e-5 in both updates, stop when the relative change of
``lambda = alpha / beta`` is at most 1e-3 or after 50 iterations; the evidence uses the updated
alpha and beta with the posterior mean of the last iteration). When N > D the scores agree with it
to rounding. Labels are encoded by their sorted unique values (the reference uses
``range(max(y) + 1)``, which adds all-zero columns for absent classes); ``num_classes`` restores
that behaviour.

N <= D: ``F`` has at most N non-zero singular values and the reference sums
``log(alpha + beta * sigma_i)`` over those only, so the ``-(D - k)/2 log(alpha)`` that the zero
eigenvalues of ``A = alpha I + beta F^T F`` add to ``-1/2 log|A|`` is missing (thuml/LogME #23, #24)
and its score carries an extra ``(D - N)/(2N) log(alpha)``; alpha is large there, so small targets
get inflated, even positive, scores. Here the evidence is the ICML one with
the full D-dimensional prior,
``D/2 log(alpha) - 1/2 log|A| = -1/2 sum_i log1p(beta sigma_i / alpha)``, which needs no rank
decision. The iteration itself is unchanged: ``alpha = gamma / |m|^2`` and
``beta = (N - gamma) / |y - F m|^2`` are the stationary conditions of that correct evidence, so only
the reported value differs. ``rank_correction=False`` gives the reference's value. With N <= D the
iteration often needs more than 50 steps; the reference then stops silently, here the result
says so (``LogMEResult.converged`` is False) and ``max_iter`` can be raised.

Everything is float64 numpy; the chunk kernel (:func:`_score_chunk`) is the one place a GPU backend
would replace.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .options import DEFAULT_CHUNK_SIZE

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_ITER",
    "DEFAULT_TOL",
    "LogMEResult",
    "TargetStatistics",
    "logme",
    "score_linear",
    "score_linear_batch",
    "score_linear_stream",
]

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

#: Added to both denominators of the alpha/beta updates, as in the reference.
_EPSILON: Final = 1e-5
#: Iteration cap and relative tolerance on alpha/beta of the reference implementation.
DEFAULT_MAX_ITER: Final = 50
DEFAULT_TOL: Final = 1e-3
#: Rows of the target factored per QR step, so building statistics never copies all of X at once.
_QR_BLOCK_ROWS: Final = 8192
_LOG_2PI: Final = math.log(2.0 * math.pi)


@dataclass(frozen=True, eq=False)
class LogMEResult:
    """LogME of one feature matrix against one target.

    Attributes:
        score: Mean over target columns of the per-example log evidence; higher means a
            linear model on these features explains the target better.
        evidences: Per-column log evidence divided by N, shape ``(C,)``.
        alphas: Prior precision per column at the end of the iteration, shape ``(C,)``.
        betas: Noise precision per column at the end of the iteration, shape ``(C,)``.
        n_iter: Fixed-point iterations run per column, shape ``(C,)``.
        column_converged: Whether the stopping rule fired before ``max_iter``, shape ``(C,)``.
        rank: Numerical rank of the features.
        weights: Posterior means the evidence was evaluated with, shape ``(C, D)``; only when
            asked for (``return_weights=True``).
    """

    score: float
    evidences: FloatArray
    alphas: FloatArray
    betas: FloatArray
    n_iter: NDArray[np.int64]
    column_converged: NDArray[np.bool_]
    rank: int
    weights: FloatArray | None = None

    @property
    def converged(self) -> bool:
        """True when every column's iteration met the stopping rule before the cap."""
        return bool(self.column_converged.all())


@dataclass(frozen=True, eq=False)
class TargetStatistics:
    """What the LogME of any linear ESM on one target needs, computed once per target.

    Build it with :meth:`from_embeddings`. With ``Z = [X, 1] = Q R`` and ``Y`` the target matrix:

    Attributes:
        n_samples: N, the number of target examples.
        dim: D, the embedding dimension.
        factor: ``R``, shape ``(min(N, D + 1), D + 1)``; ``Z^T Z = R^T R``.
        projected_targets: ``Q^T Y``, shape ``(min(N, D + 1), C)``.
        target_sq_norms: ``||y_j||^2`` per target column, shape ``(C,)``.
        regression: Whether the columns are regression targets rather than one-hot classes.
        classes: The label of each one-hot column (classification), else None.
    """

    n_samples: int
    dim: int
    factor: FloatArray
    projected_targets: FloatArray
    target_sq_norms: FloatArray
    regression: bool
    classes: NDArray[Any] | None

    @classmethod
    def from_embeddings(
        cls,
        embeddings: ArrayLike,
        y: ArrayLike,
        *,
        regression: bool = False,
        num_classes: int | None = None,
    ) -> TargetStatistics:
        """Factor the target embeddings and labels once, for scoring many ESMs.

        Args:
            embeddings: Target embeddings from the base model, shape ``(N, D)``.
            y: Labels, shape ``(N,)`` (classification), or targets, shape ``(N,)`` or
                ``(N, C)`` (regression).
            regression: Treat ``y`` as real-valued targets.
            num_classes: Classification only: integer labels in ``[0, num_classes)`` get one
                column per possible class, present or not (what hfselect does with
                ``num_classes = max(y) + 1``). By default one column per label present.

        Example:
            >>> import numpy as np
            >>> rng = np.random.default_rng(0)
            >>> x, y = rng.normal(size=(50, 8)), rng.integers(0, 3, 50)
            >>> stats = TargetStatistics.from_embeddings(x, y)
            >>> stats.factor.shape, stats.projected_targets.shape
            ((9, 9), (9, 3))
        """
        x = _as_features(embeddings, "embeddings")
        n, d = x.shape
        targets, classes = _encode_targets(y, n, regression=regression, num_classes=num_classes)
        width = d + 1 + targets.shape[1]
        # QR of [X, 1, Y] block by block (TSQR): R of the stacked rows equals R of the stacked
        # R factors, so memory is bounded by the block, and Q is never formed. The right block
        # column of the final R holds Q^T Y.
        r_acc = np.empty((0, width))
        for start in range(0, n, _QR_BLOCK_ROWS):
            stop = min(n, start + _QR_BLOCK_ROWS)
            block = np.empty((r_acc.shape[0] + stop - start, width))
            block[: r_acc.shape[0]] = r_acc
            rows = block[r_acc.shape[0] :]
            rows[:, :d] = x[start:stop]
            rows[:, d] = 1.0
            rows[:, d + 1 :] = targets[start:stop]
            # numpy's stubs type every mode as QRResult; mode="r" returns the bare R.
            r_acc = cast(FloatArray, np.linalg.qr(block, mode="r"))
        rz = min(r_acc.shape[0], d + 1)
        return cls(
            n_samples=n,
            dim=d,
            factor=np.ascontiguousarray(r_acc[:rz, : d + 1]),
            projected_targets=np.ascontiguousarray(r_acc[:rz, d + 1 :]),
            # Exact sums rather than |Q^T Y|^2 + |rest|^2: class counts stay integers.
            target_sq_norms=np.einsum("ij,ij->j", targets, targets),
            regression=regression,
            classes=classes,
        )

    @property
    def n_targets(self) -> int:
        """C, the number of target columns (classes or regression targets)."""
        return int(self.target_sq_norms.shape[0])

    @property
    def gram(self) -> FloatArray:
        """``Z^T Z`` for ``Z = [X, 1]``, shape ``(D + 1, D + 1)``."""
        return self.factor.T @ self.factor

    @property
    def cross(self) -> FloatArray:
        """``Z^T Y``, shape ``(D + 1, C)``."""
        return self.factor.T @ self.projected_targets


def logme(
    features: ArrayLike,
    y: ArrayLike,
    *,
    regression: bool = False,
    num_classes: int | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
    rank_correction: bool = True,
    return_weights: bool = False,
) -> LogMEResult:
    """LogME of arbitrary features, e.g. the output of a non-linear ESM.

    Args:
        features: Feature matrix, shape ``(N, D)``.
        y: Labels ``(N,)`` or regression targets ``(N,)`` / ``(N, C)``.
        regression: Treat ``y`` as real-valued targets.
        num_classes: See :meth:`TargetStatistics.from_embeddings`.
        max_iter: Iteration cap of the fixed point (the reference's is 50).
        tol: Stop when the relative change of ``alpha / beta`` is at most this.
        rank_correction: Use the full D-dimensional prior when ``F`` has rank below D
            (N <= D); False reproduces the reference's value. See the module docstring.
        return_weights: Also return the posterior mean weights, shape ``(C, D)``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(200, 16))
        >>> y = (x[:, 0] > 0).astype(int)
        >>> logme(x, y).score > logme(rng.normal(size=(200, 16)), y).score
        True
    """
    _check_solver_args(max_iter, tol)
    f = _as_features(features, "features")
    n = f.shape[0]
    targets, _ = _encode_targets(y, n, regression=regression, num_classes=num_classes)
    # With Q = I, F itself is the factor: the same kernel serves both paths.
    results = _score_chunk(
        f[None],
        targets,
        np.einsum("ij,ij->j", targets, targets),
        n,
        max_iter=max_iter,
        tol=tol,
        rank_correction=rank_correction,
        return_weights=return_weights,
    )
    _report_convergence(results, max_iter)
    return results[0]


def score_linear(
    stats: TargetStatistics,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    *,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
    rank_correction: bool = True,
    return_weights: bool = False,
) -> LogMEResult:
    """LogME of the linear ESM ``x -> W x + b`` on a target, without building ``X W^T + b``.

    Args:
        stats: The target, from :meth:`TargetStatistics.from_embeddings`.
        weight: ``W``, shape ``(D_out, D)`` (``torch.nn.Linear.weight`` layout).
        bias: ``b``, shape ``(D_out,)``; None for no bias.
        max_iter: See :func:`logme`.
        tol: See :func:`logme`.
        rank_correction: See :func:`logme`.
        return_weights: See :func:`logme`.
    """
    results = score_linear_batch(
        stats,
        np.asarray(weight)[None],
        None if bias is None else np.asarray(bias)[None],
        max_iter=max_iter,
        tol=tol,
        rank_correction=rank_correction,
        return_weights=return_weights,
    )
    return results[0]


def score_linear_batch(
    stats: TargetStatistics,
    weights: ArrayLike,
    biases: ArrayLike | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
    rank_correction: bool = True,
    return_weights: bool = False,
) -> list[LogMEResult]:
    """LogME of a stack of linear ESMs, ``chunk_size`` at a time.

    Args:
        stats: The target, from :meth:`TargetStatistics.from_embeddings`.
        weights: Stacked ``W``, shape ``(K, D_out, D)``; may be float32 or memory-mapped,
            each chunk is converted to float64 on its own.
        biases: Stacked ``b``, shape ``(K, D_out)``; None for no bias.
        chunk_size: ESMs per batched matmul/eigh call.
        max_iter: See :func:`logme`.
        tol: See :func:`logme`.
        rank_correction: See :func:`logme`.
        return_weights: See :func:`logme`.

    Returns:
        One result per ESM, in order.
    """
    _check_solver_args(max_iter, tol)
    _check_chunk_size(chunk_size)
    ws = np.asarray(weights)
    if ws.ndim != 3:
        raise ValueError(f"weights must have shape (K, D_out, D), got {ws.shape}")
    bs = None if biases is None else np.asarray(biases)
    if bs is not None and bs.shape != ws.shape[:2]:
        raise ValueError(f"biases must have shape {ws.shape[:2]}, got {bs.shape}")
    results: list[LogMEResult] = []
    for start in range(0, ws.shape[0], chunk_size):
        stop = start + chunk_size
        results.extend(
            _score_linear_chunk(
                stats,
                ws[start:stop],
                None if bs is None else bs[start:stop],
                max_iter=max_iter,
                tol=tol,
                rank_correction=rank_correction,
                return_weights=return_weights,
            )
        )
    _report_convergence(results, max_iter)
    return results


def score_linear_stream(
    stats: TargetStatistics,
    esms: Iterable[tuple[ArrayLike, ArrayLike | None]],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
    rank_correction: bool = True,
    return_weights: bool = False,
) -> Iterator[LogMEResult]:
    """Score ``(W, b)`` pairs from any iterable, holding at most ``chunk_size`` of them at once.

    For registries too large to stack in memory: ESMs can be loaded lazily while earlier
    ones are scored. Results come out in input order.

    Args:
        stats: The target, from :meth:`TargetStatistics.from_embeddings`.
        esms: ``(weight, bias)`` pairs as in :func:`score_linear`; ``bias`` may be None.
        chunk_size: ESMs per batched matmul/eigh call.
        max_iter: See :func:`logme`.
        tol: See :func:`logme`.
        rank_correction: See :func:`logme`.
        return_weights: See :func:`logme`.
    """
    _check_solver_args(max_iter, tol)
    _check_chunk_size(chunk_size)
    # Checked here, scored lazily in the generator below.
    return _score_stream(
        stats,
        _stacks(esms, chunk_size),
        max_iter=max_iter,
        tol=tol,
        rank_correction=rank_correction,
        return_weights=return_weights,
    )


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


def _score_stream(
    stats: TargetStatistics,
    stacks: Iterator[tuple[FloatArray, FloatArray]],
    *,
    max_iter: int,
    tol: float,
    rank_correction: bool,
    return_weights: bool,
) -> Iterator[LogMEResult]:
    scored = failed = 0
    for ws, bs in stacks:
        chunk = _score_linear_chunk(
            stats,
            ws,
            bs,
            max_iter=max_iter,
            tol=tol,
            rank_correction=rank_correction,
            return_weights=return_weights,
        )
        scored += len(chunk)
        failed += sum(not r.converged for r in chunk)
        yield from chunk
    if failed:
        logger.warning(
            "LogME did not converge within %d iterations for %d of %d ESMs "
            "(see LogMEResult.converged)",
            max_iter,
            failed,
            scored,
        )


def _stacks(
    esms: Iterable[tuple[ArrayLike, ArrayLike | None]], chunk_size: int
) -> Iterator[tuple[FloatArray, FloatArray]]:
    """Group ``(W, b)`` pairs into stacks of at most ``chunk_size`` that share one shape."""
    ws: list[FloatArray] = []
    bs: list[FloatArray] = []
    for weight, bias in esms:
        w = np.asarray(weight, dtype=np.float64)
        if w.ndim != 2:
            raise ValueError(f"ESM weight must be a (D_out, D) matrix, got shape {w.shape}")
        b = np.zeros(w.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64)
        if ws and w.shape != ws[0].shape:  # a stack has one shape: flush early
            stack = np.stack(ws), np.stack(bs)
            ws.clear()
            bs.clear()
            yield stack
        ws.append(w)
        bs.append(b)
        if len(ws) == chunk_size:
            stack = np.stack(ws), np.stack(bs)
            ws.clear()
            bs.clear()
            yield stack
    if ws:
        yield np.stack(ws), np.stack(bs)


def _check_chunk_size(chunk_size: int) -> None:
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")


def _check_solver_args(max_iter: int, tol: float) -> None:
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}")


def _as_features(value: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (N, D) matrix, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return arr


def _encode_targets(
    y: ArrayLike, n: int, *, regression: bool, num_classes: int | None
) -> tuple[FloatArray, NDArray[Any] | None]:
    """Target matrix ``(N, C)`` and, for classification, the label of each column."""
    if regression:
        if num_classes is not None:
            raise ValueError("num_classes applies to classification only")
        t = np.asarray(y, dtype=np.float64)
        if t.ndim == 1:
            t = t[:, None]
        if t.ndim != 2 or t.shape[0] != n or t.shape[1] == 0:
            raise ValueError(
                f"regression targets must have shape ({n},) or ({n}, C), got {t.shape}"
            )
        if not np.isfinite(t).all():
            raise ValueError("regression targets contain NaN or infinite values")
        return t, None
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    if num_classes is None:
        classes, codes = np.unique(labels, return_inverse=True)
    else:
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError("num_classes needs integer labels")
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(f"labels must lie in [0, {num_classes}) when num_classes is given")
        classes, codes = np.arange(num_classes), labels
    onehot = np.zeros((n, classes.shape[0]))
    onehot[np.arange(n), codes.reshape(-1)] = 1.0
    return onehot, classes


def _score_linear_chunk(
    stats: TargetStatistics,
    weights: ArrayLike,
    biases: ArrayLike | None,
    *,
    max_iter: int,
    tol: float,
    rank_correction: bool,
    return_weights: bool,
) -> list[LogMEResult]:
    ws = np.asarray(weights, dtype=np.float64)
    if ws.ndim != 3 or ws.shape[2] != stats.dim:
        raise ValueError(
            f"ESM weights must have shape (D_out, {stats.dim}) to apply to these "
            f"embeddings, got {ws.shape[1:]}"
        )
    if not np.isfinite(ws).all():
        raise ValueError("ESM weights contain NaN or infinite values")
    if biases is not None and np.shape(biases) != ws.shape[:2]:
        raise ValueError(f"ESM biases must have shape {ws.shape[:2]}, got {np.shape(biases)}")
    d = stats.dim
    # B = R A^T with A = [W, b]: F = X W^T + 1 b^T = Q B.
    b_mat = np.matmul(stats.factor[:, :d], ws.transpose(0, 2, 1))
    if biases is not None:
        bs = np.asarray(biases, dtype=np.float64)
        if not np.isfinite(bs).all():
            raise ValueError("ESM biases contain NaN or infinite values")
        b_mat += stats.factor[:, d][None, :, None] * bs[:, None, :]
    return _score_chunk(
        b_mat,
        stats.projected_targets,
        stats.target_sq_norms,
        stats.n_samples,
        max_iter=max_iter,
        tol=tol,
        rank_correction=rank_correction,
        return_weights=return_weights,
    )


def _score_chunk(
    factors: FloatArray,
    projected: FloatArray,
    target_sq_norms: FloatArray,
    n: int,
    *,
    max_iter: int,
    tol: float,
    rank_correction: bool,
    return_weights: bool,
) -> list[LogMEResult]:
    """LogME for K feature matrices given as ``F_k = Q B_k`` with a shared orthonormal Q.

    ``factors`` is the stack of ``B_k`` ``(K, r, D)`` and ``projected`` is ``Q^T Y`` ``(r, C)``;
    ``target_sq_norms`` is ``|y_j|^2`` over all N rows (the part of Y outside Q counts too).
    """
    k_esm, r, d = factors.shape
    bt = factors.transpose(0, 2, 1)
    # Spectrum of F^T F and p = V^T F^T y: through the D x D matrix B^T B when r > D, else
    # through the r x r matrix B B^T (same non-zero eigenvalues; with B B^T = U S U^T,
    # V = B^T U S^-1/2 gives p = S^1/2 U^T Q^T y, no division needed).
    if r > d:
        sigma, vecs = np.linalg.eigh(np.matmul(bt, factors))
        coef = np.matmul(vecs.transpose(0, 2, 1), np.matmul(bt, projected))
    else:
        sigma, vecs = np.linalg.eigh(np.matmul(factors, bt))
        coef = np.matmul(vecs.transpose(0, 2, 1), projected)
    # Rounding leaves |error| ~ (inner dim) * eps * sigma_max on every eigenvalue, including
    # tiny negative ones: those directions are the null space of F.
    sigma = np.maximum(sigma, 0.0)
    cutoff = sigma.max(axis=1, keepdims=True) * (max(r, d) * np.finfo(np.float64).eps)
    keep = sigma > cutoff
    sigma = np.where(keep, sigma, 0.0)
    coef = np.where(keep[:, :, None], coef, 0.0)
    p2 = coef**2 if r > d else sigma[:, :, None] * coef**2

    state = _fixed_point(sigma, p2, target_sq_norms, n, max_iter=max_iter, tol=tol)
    alpha, beta = state.alpha, state.beta
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (beta / alpha)[:, None, :]
        log_det = np.where(sigma[:, :, None] > 0, np.log1p(sigma[:, :, None] * ratio), 0.0)
        evidence = (
            0.5 * n * np.log(beta)
            - 0.5 * log_det.sum(axis=1)
            - 0.5 * beta * state.res2
            - 0.5 * alpha * state.m2
            - 0.5 * n * _LOG_2PI
        )
        if not rank_correction:
            # The reference's log|A| has min(N, D) terms, not D.
            evidence += 0.5 * max(d - n, 0) * np.log(alpha)
    evidence /= n

    posterior: FloatArray | None = None
    if return_weights:
        # m = V diag(1 / (sigma + lambda)) p, or B^T U diag(1 / (sigma + lambda)) U^T Q^T y.
        scaled = coef / (sigma[:, :, None] + state.lam[:, None, :])
        basis = vecs if r > d else np.matmul(bt, vecs)
        posterior = np.matmul(basis, scaled).transpose(0, 2, 1)

    ranks = keep.sum(axis=1)
    return [
        LogMEResult(
            score=float(evidence[i].mean()),
            evidences=evidence[i],
            alphas=alpha[i],
            betas=beta[i],
            n_iter=state.n_iter[i],
            column_converged=state.converged[i],
            rank=int(ranks[i]),
            weights=None if posterior is None else posterior[i],
        )
        for i in range(k_esm)
    ]


@dataclass(frozen=True)
class _FixedPoint:
    alpha: FloatArray  # (K, C), after the last update
    beta: FloatArray
    lam: FloatArray  # alpha / beta at which m, m2 and res2 were evaluated
    m2: FloatArray  # |m|^2
    res2: FloatArray  # |y - F m|^2
    n_iter: NDArray[np.int64]
    converged: NDArray[np.bool_]


def _fixed_point(
    sigma: FloatArray, p2: FloatArray, yty: FloatArray, n: int, *, max_iter: int, tol: float
) -> _FixedPoint:
    """MacKay's updates for every (ESM, column) pair at once; finished pairs are frozen.

    ``sigma`` (K, q) are eigenvalues of F^T F, ``p2`` (K, q, C) the squared projections
    ``(v_i^T F^T y)^2``; with ``lambda = alpha / beta`` and ``m = (F^T F + lambda I)^-1 F^T y``:
    ``gamma = sum sigma / (sigma + lambda)``, ``|m|^2 = sum p2 / (sigma + lambda)^2`` and
    ``|y - F m|^2 = |y|^2 - sum p2 (sigma + 2 lambda) / (sigma + lambda)^2``.
    """
    k_esm, _, c = p2.shape
    shape = (k_esm, c)
    alpha = np.ones(shape)
    beta = np.ones(shape)
    lam = np.ones(shape)
    m2 = np.zeros(shape)
    res2 = np.zeros(shape)
    n_iter = np.zeros(shape, dtype=np.int64)
    converged = np.zeros(shape, dtype=bool)
    active = np.ones(shape, dtype=bool)
    s = sigma[:, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(max_iter):
            t = alpha / beta
            inv = 1.0 / (s + t[:, None, :])
            gamma = (s * inv).sum(axis=1)
            inv2p = p2 * inv * inv
            m2_new = inv2p.sum(axis=1)
            # Clipped: rounding can push an exact interpolation (N <= D) a hair below zero.
            res2_new = np.maximum(yty - ((s + 2.0 * t[:, None, :]) * inv2p).sum(axis=1), 0.0)
            alpha_new = gamma / (m2_new + _EPSILON)
            beta_new = (n - gamma) / (res2_new + _EPSILON)
            # gamma == 0 means F = 0: alpha drops out and beta is already final.
            done = (np.abs(alpha_new / beta_new - t) / t <= tol) | (gamma == 0.0)
            alpha = np.where(active, alpha_new, alpha)
            beta = np.where(active, beta_new, beta)
            lam = np.where(active, t, lam)
            m2 = np.where(active, m2_new, m2)
            res2 = np.where(active, res2_new, res2)
            n_iter += active
            converged |= active & done
            active &= ~done
            if not active.any():
                break
    return _FixedPoint(alpha, beta, lam, m2, res2, n_iter, converged)


def _report_convergence(results: list[LogMEResult], max_iter: int) -> None:
    failed = sum(not r.converged for r in results)
    if failed:
        logger.warning(
            "LogME did not converge within %d iterations for %d of %d feature matrices "
            "(see LogMEResult.converged)",
            max_iter,
            failed,
            len(results),
        )
