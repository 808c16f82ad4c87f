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

Where the decomposition runs is a backend (:mod:`.backends`): LAPACK's tridiagonal path on the
CPU (no eigenvectors at all), torch on the CPU or a GPU, or plain numpy; the fixed point and the
evidence are this module's, in float64, whatever the backend. ESMs are decomposed in parallel
worker threads, with the libraries' own threads pinned (:mod:`.threads`).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .backends import (
    BackendName,
    Dtype,
    ScoringBackend,
    Spectrum,
    numpy_spectrum,
    resolve_backend,
    target_of,
)
from .options import DEFAULT_CHUNK_SIZE
from .threads import limited_threads, pin_this_thread

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
        # One BLAS thread: as fast on an idle machine, and far faster on a busy one.
        with limited_threads(1):
            r_acc = _blocked_r(x, targets, width)
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
    n, d = f.shape
    targets, _ = _encode_targets(y, n, regression=regression, num_classes=num_classes)
    # With Q = I, F itself is the factor B of the linear path.
    yty = np.einsum("ij,ij->j", targets, targets)
    spectrum = numpy_spectrum(f[None], targets, target_of(f, targets, yty), np.dtype(np.float64))
    results = _solve(
        spectrum,
        yty,
        n,
        d,
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
    backend: BackendName | ScoringBackend = "auto",
    device: str | None = None,
    dtype: Dtype = "float64",
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
        backend: See :func:`score_linear_stream`.
        device: See :func:`score_linear_stream`.
        dtype: See :func:`score_linear_stream`.
    """
    results = score_linear_batch(
        stats,
        np.asarray(weight)[None],
        None if bias is None else np.asarray(bias)[None],
        max_iter=max_iter,
        tol=tol,
        rank_correction=rank_correction,
        return_weights=return_weights,
        backend=backend,
        device=device,
        dtype=dtype,
        threads=1,
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
    backend: BackendName | ScoringBackend = "auto",
    device: str | None = None,
    dtype: Dtype = "float64",
    threads: int | None = None,
) -> list[LogMEResult]:
    """LogME of a stack of linear ESMs.

    Args:
        stats: The target, from :meth:`TargetStatistics.from_embeddings`.
        weights: Stacked ``W``, shape ``(K, D_out, D)``; may be float32 or memory-mapped,
            each ESM is converted to the working precision on its own.
        biases: Stacked ``b``, shape ``(K, D_out)``; None for no bias.
        chunk_size: ESMs per batched call of the numpy and torch backends (fewer when
            that leaves a worker without any).
        max_iter: See :func:`logme`.
        tol: See :func:`logme`.
        rank_correction: See :func:`logme`.
        return_weights: See :func:`logme`.
        backend: See :func:`score_linear_stream`.
        device: See :func:`score_linear_stream`.
        dtype: See :func:`score_linear_stream`.
        threads: See :func:`score_linear_stream`.

    Returns:
        One result per ESM, in order.
    """
    ws = np.asarray(weights)
    if ws.ndim != 3:
        raise ValueError(f"weights must have shape (K, D_out, D), got {ws.shape}")
    bs = None if biases is None else np.asarray(biases)
    if bs is not None and bs.shape != ws.shape[:2]:
        raise ValueError(f"biases must have shape {ws.shape[:2]}, got {bs.shape}")
    _check_chunk_size(chunk_size)
    engine = (
        backend
        if isinstance(backend, ScoringBackend)
        else resolve_backend(backend, device=device, dtype=dtype, threads=threads)
    )
    # Every worker gets a share even when there are fewer than workers x chunk_size ESMs.
    share = max(1, min(chunk_size, -(-ws.shape[0] // engine.workers)))
    pairs = ((ws[i], None if bs is None else bs[i]) for i in range(ws.shape[0]))
    results = list(
        score_linear_stream(
            stats,
            pairs,
            chunk_size=share,
            max_iter=max_iter,
            tol=tol,
            rank_correction=rank_correction,
            return_weights=return_weights,
            backend=engine,
            warn=False,
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
    backend: BackendName | ScoringBackend = "auto",
    device: str | None = None,
    dtype: Dtype = "float64",
    threads: int | None = None,
    warn: bool = True,
) -> Iterator[LogMEResult]:
    """Score ``(W, b)`` pairs from any iterable, a bounded number of them in memory at once.

    For registries too large to stack in memory: ESMs can be loaded lazily while earlier
    ones are scored. On the CPU, ``threads`` ESMs are decomposed at the same time, one
    thread each, with BLAS and torch limited to one thread while the stream runs (see
    :mod:`.threads`); at most ``2 × threads`` tasks of ``chunk_size`` (numpy, torch) or
    one (lapack) ESM are held. Results come out in input order.

    Args:
        stats: The target, from :meth:`TargetStatistics.from_embeddings`.
        esms: ``(weight, bias)`` pairs as in :func:`score_linear`; ``bias`` may be None.
        chunk_size: ESMs per batched call of the numpy and torch backends.
        max_iter: See :func:`logme`.
        tol: See :func:`logme`.
        rank_correction: See :func:`logme`.
        return_weights: See :func:`logme`.
        backend: ``auto``, ``lapack``, ``torch``, ``numpy`` or a resolved
            :class:`~registry.ranker.backends.ScoringBackend` (see :mod:`.backends`).
        device: ``cpu``, ``cuda``, ``cuda:1``, … (torch only off the CPU); ``None``: a GPU
            when torch is already loaded and sees one, else the CPU.
        dtype: ``float64`` (agrees with hfselect to 1e-6) or ``float32`` (faster; see the
            README for how much the scores move).
        threads: CPU threads; ``None``: every core this process may run on.
        warn: Log one warning when some ESMs did not converge.

    Raises:
        UsageError: an unknown or unavailable backend, device or dtype (at once).
        ValueError: bad arguments (at once) or a bad ESM (when it is reached).
    """
    _check_solver_args(max_iter, tol)
    _check_chunk_size(chunk_size)
    engine = (
        backend
        if isinstance(backend, ScoringBackend)
        else resolve_backend(backend, device=device, dtype=dtype, threads=threads)
    )
    # Checked here, scored lazily in the generator below.
    return _score_stream(
        stats,
        esms,
        engine,
        chunk_size=chunk_size,
        max_iter=max_iter,
        tol=tol,
        rank_correction=rank_correction,
        return_weights=return_weights,
        warn=warn,
    )


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


def _score_stream(
    stats: TargetStatistics,
    esms: Iterable[tuple[ArrayLike, ArrayLike | None]],
    engine: ScoringBackend,
    *,
    chunk_size: int,
    max_iter: int,
    tol: float,
    rank_correction: bool,
    return_weights: bool,
    warn: bool,
) -> Iterator[LogMEResult]:
    prepared = engine.prepare(stats)

    def run(task: tuple[list[Any], list[Any]]) -> list[LogMEResult]:
        return _score_linear_chunk(
            stats,
            task[0],
            task[1],
            engine=engine,
            prepared=prepared,
            max_iter=max_iter,
            tol=tol,
            rank_correction=rank_correction,
            return_weights=return_weights,
        )

    tasks = _stacks(esms, chunk_size if engine.batched else 1)
    scored = failed = 0
    with limited_threads(engine.threads):
        for chunk in _in_parallel(run, tasks, engine.workers, engine.threads):
            scored += len(chunk)
            failed += sum(not r.converged for r in chunk)
            yield from chunk
    if failed and warn:
        logger.warning(
            "LogME did not converge within %d iterations for %d of %d ESMs "
            "(see LogMEResult.converged)",
            max_iter,
            failed,
            scored,
        )


def _in_parallel(
    run: Callable[[Any], list[LogMEResult]], tasks: Iterator[Any], workers: int, threads: int
) -> Iterator[list[LogMEResult]]:
    """``map(run, tasks)`` on ``workers`` threads, in order, ``2 × workers`` tasks ahead.

    The tasks are pulled from ``tasks`` on the calling thread (so whatever produces them,
    e.g. a fetcher, is never called concurrently), and only as fast as results are taken.
    """
    if workers == 1:
        for task in tasks:
            yield run(task)
        return
    first = next(tasks, None)
    second = None if first is None else next(tasks, None)
    if first is None or second is None:  # nothing to overlap: no thread at all
        if first is not None:
            yield run(first)
        return
    pending: deque[Future[list[LogMEResult]]] = deque()
    with ThreadPoolExecutor(
        max_workers=workers,
        thread_name_prefix="logme",
        initializer=pin_this_thread,
        initargs=(threads,),
    ) as pool:
        try:
            for task in itertools.chain((first, second), tasks):
                pending.append(pool.submit(run, task))
                while len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _stacks(
    esms: Iterable[tuple[ArrayLike, ArrayLike | None]], size: int
) -> Iterator[tuple[list[Any], list[Any]]]:
    """Group ``(W, b)`` pairs into tasks of at most ``size`` that share one shape.

    Arrays are kept as given (an ESM's float32 weights are converted in the worker, not
    here on the thread that feeds the workers).
    """
    ws: list[Any] = []
    bs: list[Any] = []
    for weight, bias in esms:
        w = np.asarray(weight)
        if w.ndim != 2:
            raise ValueError(f"ESM weight must be a (D_out, D) matrix, got shape {w.shape}")
        b = np.zeros(w.shape[0], dtype=w.dtype) if bias is None else np.asarray(bias)
        if ws and w.shape != ws[0].shape:  # a stack has one shape: flush early
            yield ws, bs
            ws, bs = [], []
        ws.append(w)
        bs.append(b)
        if len(ws) == size:
            yield ws, bs
            ws, bs = [], []
    if ws:
        yield ws, bs


def _blocked_r(x: FloatArray, targets: FloatArray, width: int) -> FloatArray:
    """R of ``[X, 1, Y]``, block by block: memory bounded by the block, Q never formed."""
    n, d = x.shape
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
    return r_acc


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
    weights: Sequence[Any],
    biases: Sequence[Any] | None,
    *,
    engine: ScoringBackend,
    prepared: Any,
    max_iter: int,
    tol: float,
    rank_correction: bool,
    return_weights: bool,
) -> list[LogMEResult]:
    """One task: check a stack of ESMs, decompose it on the backend, run the fixed point."""
    ws = np.stack([np.asarray(w) for w in weights])
    if ws.ndim != 3 or ws.shape[2] != stats.dim:
        raise ValueError(
            f"ESM weights must have shape (D_out, {stats.dim}) to apply to these "
            f"embeddings, got {ws.shape[1:]}"
        )
    if ws.dtype.kind != "f":
        ws = ws.astype(np.float64)
    if not np.isfinite(ws).all():
        raise ValueError("ESM weights contain NaN or infinite values")
    if biases is None:
        bs = np.zeros(ws.shape[:2], dtype=ws.dtype)
    else:
        bs = np.stack([np.asarray(b) for b in biases])
        if bs.shape != ws.shape[:2]:
            raise ValueError(f"ESM biases must have shape {ws.shape[:2]}, got {bs.shape}")
        if bs.dtype.kind != "f":
            bs = bs.astype(np.float64)
        if not np.isfinite(bs).all():
            raise ValueError("ESM biases contain NaN or infinite values")
    spectrum = engine.spectrum(prepared, ws, bs)
    return _solve(
        spectrum,
        np.asarray(stats.target_sq_norms, dtype=np.float64),
        stats.n_samples,
        ws.shape[1],
        max_iter=max_iter,
        tol=tol,
        rank_correction=rank_correction,
        return_weights=return_weights,
    )


def _solve(
    spectrum: Spectrum,
    yty: FloatArray,
    n: int,
    d: int,
    *,
    max_iter: int,
    tol: float,
    rank_correction: bool,
    return_weights: bool,
) -> list[LogMEResult]:
    """LogME for the K feature matrices ``F_k`` (``D`` columns) a spectrum describes."""
    ranks = spectrum.rank
    k_esm = ranks.shape[0]
    state = _fixed_point(spectrum, yty, n, max_iter=max_iter, tol=tol)
    alpha, beta = state.alpha, state.beta
    with np.errstate(divide="ignore", invalid="ignore"):
        # -1/2 log|A| + D/2 log(alpha) = -1/2 sum log(1 + sigma beta / alpha)
        log_det = spectrum.log_det(alpha / beta)
        evidence = (
            0.5 * n * np.log(beta)
            - 0.5 * log_det
            - 0.5 * beta * state.res2
            - 0.5 * alpha * state.m2
            - 0.5 * n * _LOG_2PI
        )
        if not rank_correction:
            # The reference's log|A| has min(N, D) terms, not D.
            evidence += 0.5 * max(d - n, 0) * np.log(alpha)
    evidence /= n

    posterior = spectrum.posterior(state.lam) if return_weights else None
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
    spectrum: Spectrum, yty: FloatArray, n: int, *, max_iter: int, tol: float
) -> _FixedPoint:
    """MacKay's updates for every (ESM, column) pair at once; finished pairs are frozen.

    With ``sigma`` the eigenvalues of F^T F, ``lambda = alpha / beta`` and
    ``m = (F^T F + lambda I)^-1 F^T y``: ``gamma = sum sigma / (sigma + lambda)``, ``|m|^2``
    and ``|y - F m|^2``, all from the spectrum (:meth:`Spectrum.moments`).
    """
    shape = (spectrum.rank.shape[0], yty.shape[0])
    alpha = np.ones(shape)
    beta = np.ones(shape)
    lam = np.ones(shape)
    m2 = np.zeros(shape)
    res2 = np.zeros(shape)
    n_iter = np.zeros(shape, dtype=np.int64)
    converged = np.zeros(shape, dtype=bool)
    active = np.ones(shape, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(max_iter):
            t = alpha / beta
            gamma, m2_new, res2_new = spectrum.moments(t, active)
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
