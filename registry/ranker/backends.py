"""Where the per-ESM linear algebra of LogME runs: LAPACK's tridiagonal path, torch, numpy.

For one linear ESM ``A = [W, b]`` and a target factored as ``Z = [X, 1] = Q R``
(:class:`~registry.ranker.scoring.TargetStatistics`), LogME needs the eigenvalues of
``FᵀF = BᵀB`` with ``B = R Aᵀ`` and, for every target column, three spectral sums at the
current ``t = alpha / beta``: ``gamma = Σ σ/(σ+t)``, ``|m|² = Σ p²/(σ+t)²`` and
``|y - F m|²``, where ``p = Vᵀ Fᵀ y``. Three backends compute them:

``lapack`` (CPU; needs SciPy)
    ``B = R Aᵀ`` with a triangular product (``trmm``, half a matrix product), ``BᵀB`` with
    ``syrk`` (half again), then a Householder reduction ``BᵀB = H T Hᵀ`` to tridiagonal
    ``T`` (``sytrd``, the one O(D³) step left) with ``w = Hᵀ Fᵀ y`` carried along
    (``ormqr``). Each sum is then O(D) work on ``T + tI = L D Lᵀ`` (``pttrf``): ``gamma``
    is ``D - t tr((T + tI)⁻¹)``, the diagonal of the inverse coming from the pivots taken
    from both ends; ``|m|²`` and the residual from ``x = (T + tI)⁻¹ w``; the log-determinant
    from the pivots; the rank is a Sturm count (``larrc``) under a cutoff relative to the
    largest eigenvalue (bisection, ``stebz``). Neither eigenvectors
    (more than half of ``eigh``'s time) nor eigenvalues (``sterf``, another 15 %) are
    computed, except eigenvalues for a degenerate ESM. Routines are called through
    :mod:`._lapack`, which releases the GIL, so ESMs are decomposed in parallel threads.
``torch`` (CPU through MKL, or CUDA)
    Batched ``B``, ``BᵀB`` and ``torch.linalg.eigh`` on the device; the spectral sums come
    from the eigenvalues and ``p``. The same code runs on ``cpu`` and ``cuda``.
``numpy``
    The same as ``torch`` with ``numpy.linalg.eigh``; needs nothing beyond numpy.

For ``N <= D`` (fewer target examples than dimensions) every backend works with the
``N × N`` matrix ``B Bᵀ`` instead, which has the same non-zero eigenvalues.

``auto`` picks ``torch`` on a GPU; on the CPU ``lapack`` when SciPy is there (the fastest,
see ``benchmarks/bench_logme.py --backend``), else ``torch`` if torch is already loaded (it
is never imported just for scoring), else ``numpy``. ``float32`` runs the O(D³) steps in
single precision (faster on a CPU, far more so on most GPUs); the fixed point itself always
runs in float64.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import sys
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import UsageError
from .options import SCORING_BACKENDS, SCORING_DTYPES
from .threads import usable_cores

__all__ = [
    "BACKENDS",
    "DTYPES",
    "BackendName",
    "Dtype",
    "ScoringBackend",
    "Spectrum",
    "available_backends",
    "resolve_backend",
]

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
BackendName = Literal["auto", "lapack", "torch", "numpy"]
Dtype = Literal["float64", "float32"]
#: The backend names :func:`resolve_backend` accepts.
BACKENDS: Final[tuple[str, ...]] = SCORING_BACKENDS
#: The working precisions of the decomposition.
DTYPES: Final[tuple[str, ...]] = SCORING_DTYPES


class Spectrum(Protocol):
    """What LogME needs from a chunk of K ESMs with C target columns.

    ``sigma`` are the eigenvalues of ``FᵀF`` (numerically zero ones count as zero) and
    ``p`` the projections ``Vᵀ Fᵀ y``; a backend may answer without computing either.
    """

    @property
    def rank(self) -> NDArray[np.int64]:
        """Numerical rank of each ``F``, ``(K,)``: eigenvalues above rounding."""
        ...

    def moments(
        self, t: FloatArray, active: NDArray[np.bool_]
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``gamma``, ``|m|²`` and ``|y - F m|²`` at ``t = alpha / beta`` ``(K, C)``.

        Only entries where ``active`` is true need to be right.
        """
        ...

    def log_det(self, t: FloatArray) -> FloatArray:
        """``Σ log(1 + sigma / t)`` for every ESM and column, ``(K, C)``."""
        ...

    def posterior(self, lam: FloatArray) -> FloatArray:
        """The posterior mean weights ``(K, C, D_out)`` at ``lam`` ``(K, C)``."""
        ...


@dataclass(frozen=True)
class _Target:
    """The target statistics a backend needs, in its working precision."""

    factor: FloatArray  # R, (r, D + 1)
    projected: FloatArray  # Qᵀ Y, (r, C)
    yty: FloatArray  # |y_j|², (C,)
    outside: FloatArray  # |y_j|² - |Qᵀ y_j|², (C,), clipped at 0


def target_of(factor: ArrayLike, projected: ArrayLike, yty: ArrayLike) -> _Target:
    """The target in float64: ``R``, ``Qᵀ Y`` and ``|y_j|²``."""
    proj = np.asarray(projected, dtype=np.float64)
    norms = np.asarray(yty, dtype=np.float64)
    return _Target(
        factor=np.asarray(factor, dtype=np.float64),
        projected=proj,
        yty=norms,
        outside=np.maximum(norms - np.einsum("ij,ij->j", proj, proj), 0.0),
    )


def _target_of(stats: Any) -> _Target:
    return target_of(stats.factor, stats.projected_targets, stats.target_sq_norms)


#: Eigenvalues below ``inner * _EPS * sigma_max`` count as zero, in float32 too: zeroing what
#: float32 cannot resolve, projections included, loses more than its rounding error costs
#: (on the anisotropic embeddings of a language model it scrambled the order of the ESMs).
_EPS: Final = float(np.finfo(np.float64).eps)


def _cut(sigma: FloatArray, inner: int, eps: float = _EPS) -> NDArray[np.bool_]:
    """Which eigenvalues are above rounding: ``|error| ~ inner * eps * sigma_max``."""
    np.maximum(sigma, 0.0, out=sigma)
    cutoff = sigma.max(axis=-1, keepdims=True) * (inner * eps)
    keep = sigma > cutoff
    sigma[~keep] = 0.0
    return cast(NDArray[np.bool_], keep)


# --- eigenvalue + projection spectra (numpy and torch) ----------------------------------------


def _eigen_gamma(sigma: FloatArray, t: FloatArray) -> FloatArray:
    """``Σ σ/(σ+t)``: ``sigma`` ``(K, q)``, ``t`` ``(K, C)`` -> ``(K, C)``."""
    s = sigma[:, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return cast(FloatArray, (s / (s + t[:, None, :])).sum(axis=1))


def _eigen_log_det(sigma: FloatArray, t: FloatArray) -> FloatArray:
    s = sigma[:, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(s > 0, np.log1p(s / t[:, None, :]), 0.0)
    return cast(FloatArray, terms.sum(axis=1))


@dataclass
class _EigenSpectrum:
    """Eigenvalues with the squared projections ``p²``, the layout ``eigh`` gives."""

    sigma: FloatArray  # (K, q)
    p2: FloatArray  # (K, q, C)
    yty: FloatArray  # (C,)
    coef: FloatArray  # (K, q, C), projections onto the basis below
    basis: Any = None  # (K, D_out, q) numpy array or a callable producing it

    @property
    def rank(self) -> NDArray[np.int64]:
        return cast(NDArray[np.int64], (self.sigma > 0).sum(axis=1))

    def moments(
        self, t: FloatArray, active: NDArray[np.bool_]
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        s = self.sigma[:, :, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / (s + t[:, None, :])
            inv2p = self.p2 * inv * inv
            m2 = inv2p.sum(axis=1)
            # Clipped: rounding can push an exact interpolation (N <= D) a hair below zero.
            res2 = np.maximum(self.yty - ((s + 2.0 * t[:, None, :]) * inv2p).sum(axis=1), 0.0)
        return _eigen_gamma(self.sigma, t), m2, res2

    def log_det(self, t: FloatArray) -> FloatArray:
        return _eigen_log_det(self.sigma, t)

    def posterior(self, lam: FloatArray) -> FloatArray:
        basis = self.basis() if callable(self.basis) else self.basis
        scaled = self.coef / (self.sigma[:, :, None] + lam[:, None, :])
        return cast(FloatArray, np.matmul(basis, scaled).transpose(0, 2, 1))


def _eigen_spectrum(
    sigma: FloatArray,
    coef: FloatArray,
    target: _Target,
    *,
    wide: bool,
    inner: int,
    eps: float,
    basis: Any,
) -> _EigenSpectrum:
    keep = _cut(sigma, inner, eps)
    coef = np.where(keep[:, :, None], coef, 0.0)
    # wide (r > D_out): p = Vᵀ Bᵀ c directly; else p = S^1/2 Uᵀ c from the r x r problem.
    p2 = coef**2 if wide else sigma[:, :, None] * coef**2
    return _EigenSpectrum(sigma, p2, target.yty, coef, basis)


def numpy_spectrum(
    b_mat: NDArray[Any], projected: NDArray[Any], target: _Target, dtype: np.dtype[Any]
) -> Spectrum:
    """The spectrum of ``F_k = Q B_k`` for a stack ``b_mat`` ``(K, r, D_out)`` by ``eigh``."""
    _, r, d_out = b_mat.shape
    bt = b_mat.transpose(0, 2, 1)
    wide = r > d_out
    if wide:
        sigma, vecs = np.linalg.eigh(np.matmul(bt, b_mat))
        coef = np.matmul(vecs.transpose(0, 2, 1), np.matmul(bt, projected))
        basis = vecs
    else:
        sigma, vecs = np.linalg.eigh(np.matmul(b_mat, bt))
        coef = np.matmul(vecs.transpose(0, 2, 1), projected)
        basis = np.matmul(bt, vecs)
    return _eigen_spectrum(
        sigma.astype(np.float64),
        coef.astype(np.float64),
        target,
        wide=wide,
        inner=max(r, d_out),
        eps=_EPS,
        basis=basis.astype(np.float64),
    )


class _NumpyKernel:
    name = "numpy"

    def __init__(self, dtype: np.dtype[Any]) -> None:
        self.dtype = dtype

    def prepare(self, stats: Any) -> Any:
        target = _target_of(stats)
        return target, target.factor.astype(self.dtype), target.projected.astype(self.dtype)

    def spectrum(self, prepared: Any, weights: NDArray[Any], biases: NDArray[Any]) -> Spectrum:
        target, factor, projected = prepared
        d = factor.shape[1] - 1
        # B = R A^T with A = [W, b]: F = X W^T + 1 b^T = Q B.
        b_mat = np.matmul(factor[:, :d], weights.astype(self.dtype, copy=False).transpose(0, 2, 1))
        b_mat += factor[:, d][None, :, None] * biases.astype(self.dtype, copy=False)[:, None, :]
        return numpy_spectrum(b_mat, projected, target, self.dtype)


class _TorchKernel:
    name = "torch"

    def __init__(self, dtype: np.dtype[Any], device: str) -> None:
        import torch  # noqa: PLC0415 - optional, and heavy: only when asked for

        self.torch = torch
        self.dtype = dtype
        self.torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
        self.device = torch.device(device)

    def prepare(self, stats: Any) -> Any:
        target = _target_of(stats)
        as_tensor = self.torch.as_tensor
        factor = as_tensor(target.factor, dtype=self.torch_dtype, device=self.device)
        projected = as_tensor(target.projected, dtype=self.torch_dtype, device=self.device)
        return target, factor, projected

    def spectrum(self, prepared: Any, weights: NDArray[Any], biases: NDArray[Any]) -> Spectrum:
        torch = self.torch
        target, factor, projected = prepared
        d = factor.shape[1] - 1
        with torch.inference_mode():
            ws = torch.as_tensor(weights, device=self.device).to(self.torch_dtype)
            bs = torch.as_tensor(biases, device=self.device).to(self.torch_dtype)
            b_mat = torch.matmul(factor[:, :d], ws.transpose(1, 2))
            b_mat += factor[:, d][None, :, None] * bs[:, None, :]
            _, r, d_out = b_mat.shape
            bt = b_mat.transpose(1, 2)
            wide = r > d_out
            if wide:
                sigma, vecs = torch.linalg.eigh(torch.matmul(bt, b_mat))
                coef = torch.matmul(vecs.transpose(1, 2), torch.matmul(bt, projected))
                basis = vecs
            else:
                sigma, vecs = torch.linalg.eigh(torch.matmul(b_mat, bt))
                coef = torch.matmul(vecs.transpose(1, 2), projected)
                basis = torch.matmul(bt, vecs)

            def host_basis() -> FloatArray:
                return cast(FloatArray, basis.to(torch.float64).cpu().numpy())

            return _eigen_spectrum(
                sigma.to(torch.float64).cpu().numpy(),
                coef.to(torch.float64).cpu().numpy(),
                target,
                wide=wide,
                inner=max(r, d_out),
                eps=_EPS,
                basis=host_basis,
            )


# --- the tridiagonal path (LAPACK) ------------------------------------------------------------


#: ``gamma`` below this share of the dimension is taken from eigenvalues: ``n - t tr((T+tI)⁻¹)``
#: loses ``eps n / gamma`` of relative precision to cancellation.
_SMALL_GAMMA: Final = 1e-6


@dataclass
class _Tridiagonal:
    """One ESM reduced to ``T = Hᵀ S H`` (tridiagonal) with ``w = Hᵀ (the column vectors)``."""

    diagonal: FloatArray
    off: FloatArray
    w: FloatArray  # (n, C) in float64
    wide: bool  # S = BᵀB (w = Hᵀ Bᵀ c) rather than B Bᵀ (w = Hᵀ c)
    back: Any  # callable: x in T's coordinates -> posterior weights (D_out,)
    rank: int
    sigma: FloatArray | None = None  # eigenvalues, only when a degenerate case needs them
    shifted: Any = None  # the ShiftedTridiagonal of T, made on first use


@dataclass
class _TridiagonalSpectrum:
    """LogME's sums from ``T`` and ``w`` by O(n) factorizations of ``T + tI``.

    ``gamma = n - t tr((T + tI)⁻¹)``, the diagonal of the inverse from the pivots of the
    ``L D Lᵀ`` factorizations from the top and from the bottom; ``|m|²`` and the residual
    from ``x = (T + tI)⁻¹ w``; ``log|T + tI|`` from the pivots. Where ``T + tI`` is not
    numerically positive definite, or ``gamma`` is too small for the subtraction, the
    eigenvalues of ``T`` are computed instead (``sterf``).
    """

    items: list[_Tridiagonal]
    yty: FloatArray
    outside: FloatArray
    inner: int
    eps: float
    lapack: Any = field(repr=False)

    @property
    def rank(self) -> NDArray[np.int64]:
        return np.array([item.rank for item in self.items], dtype=np.int64)

    def _sigma(self, item: _Tridiagonal) -> FloatArray:
        if item.sigma is None:
            sigma = self.lapack.eigenvalues(item.diagonal, item.off)[None]
            _cut(sigma, self.inner, self.eps)
            item.sigma = sigma
        return item.sigma

    def _shifted(self, item: _Tridiagonal) -> Any:
        if item.shifted is None:
            item.shifted = self.lapack.shifted(item.diagonal, item.off)
        return item.shifted

    def _evaluate(self, item: _Tridiagonal, t: float, j: int) -> tuple[float, FloatArray]:
        """``gamma`` and ``x = (T + tI)⁻¹ w_j`` (a copy)."""
        shifted = self._shifted(item)
        gamma = None
        if shifted.factor(t):
            x = shifted.solve(item.w[:, j]).copy()
            if item.rank > 0:
                trace = shifted.inverse_trace(t)
                n = shifted.n
                if trace is not None and n - t * trace > _SMALL_GAMMA * n:
                    gamma = n - t * trace
        else:  # not numerically positive definite: pivoting instead
            x = self.lapack.solve_shifted(item.diagonal, item.off, t, item.w[:, j])
        if gamma is None:
            gamma = float(_eigen_gamma(self._sigma(item), np.array([[t]]))[0, 0])
        return gamma, cast(FloatArray, x)

    def moments(
        self, t: FloatArray, active: NDArray[np.bool_]
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        gamma = np.zeros_like(t)
        m2 = np.zeros_like(t)
        res2 = np.zeros_like(t)
        for k, j in zip(*np.nonzero(active), strict=True):
            tk = float(t[k, j])
            item = self.items[k]
            gamma[k, j], x = self._evaluate(item, tk, j)
            xx = float(x @ x)
            if item.wide:
                # S = FᵀF, w = Hᵀ Fᵀ y: |m|² = |x|², Σ p²(σ+2t)/(σ+t)² = wᵀx + t|x|².
                m2[k, j] = xx
                fit = float(item.w[:, j] @ x) + tk * xx
                res2[k, j] = max(self.yty[j] - fit, 0.0)
            else:
                # S = B Bᵀ, w = Hᵀ c: |m|² = xᵀ T x, and the residual inside the span of Q is
                # t² |x|² (both without cancellation).
                tx = item.diagonal * x
                tx[:-1] += item.off * x[1:]
                tx[1:] += item.off * x[:-1]
                m2[k, j] = max(float(x @ tx), 0.0)
                res2[k, j] = self.outside[j] + tk * tk * xx
        return gamma, m2, res2

    def log_det(self, t: FloatArray) -> FloatArray:
        out = np.zeros_like(t)
        for k, item in enumerate(self.items):
            shifted = self._shifted(item)
            for j in range(t.shape[1]):
                tk = float(t[k, j])
                if item.rank > 0 and tk > 0 and shifted.factor(tk):
                    out[k, j] = shifted.log_det() - shifted.n * math.log(tk)
                else:
                    out[k, j] = float(_eigen_log_det(self._sigma(item), np.array([[tk]]))[0, 0])
        return out

    def posterior(self, lam: FloatArray) -> FloatArray:
        rows = []
        for k, item in enumerate(self.items):
            columns = range(item.w.shape[1])
            xs = np.stack(
                [
                    self.lapack.solve_shifted(item.diagonal, item.off, lam[k, j], item.w[:, j])
                    for j in columns
                ],
                axis=1,
            )
            rows.append(item.back(xs).T)
        return np.stack(rows)


class _LapackKernel:
    name = "lapack"

    def __init__(self, dtype: np.dtype[Any]) -> None:
        from . import _lapack  # noqa: PLC0415 - needs SciPy

        self.dtype = dtype
        self.lapack = _lapack.load(str(dtype))

    def prepare(self, stats: Any) -> Any:
        target = _target_of(stats)
        factor = np.asfortranarray(target.factor, dtype=self.dtype)
        square = factor.shape[0] == factor.shape[1]
        projected = target.projected.astype(self.dtype)
        return target, factor, square, projected

    def spectrum(self, prepared: Any, weights: NDArray[Any], biases: NDArray[Any]) -> Spectrum:
        target, factor, square, projected = prepared
        inner = max(factor.shape[0], weights.shape[1])
        eps = _EPS
        items = [
            self._reduce(factor, square, projected, w, b, inner=inner, eps=eps)
            for w, b in zip(weights, biases, strict=True)
        ]
        return _TridiagonalSpectrum(items, target.yty, target.outside, inner, eps, self.lapack)

    def _reduce(
        self,
        factor: NDArray[Any],
        square: bool,
        projected: NDArray[Any],
        weight: NDArray[Any],
        bias: NDArray[Any],
        *,
        inner: int,
        eps: float,
    ) -> _Tridiagonal:
        lapack = self.lapack
        r, width = factor.shape
        d_out, d = weight.shape
        # The rows of [W, b] (C order) are the columns of Aᵀ (Fortran order): no transpose.
        a_rows = np.empty((d_out, width), dtype=self.dtype)
        a_rows[:, :d] = weight
        a_rows[:, d] = bias
        if square:
            b_mat = a_rows.T  # Fortran (D + 1) x D_out view of the same memory
            lapack.trmm_upper_left(factor, b_mat)  # B = R Aᵀ in place
        else:  # N < D + 1: R is r x (D + 1), not triangular-square
            b_mat = np.asfortranarray(factor @ a_rows.T)
        wide = r > d_out
        if wide:
            s = lapack.syrk_lower(b_mat, transpose=True)  # BᵀB, D_out x D_out
            columns = np.asfortranarray(b_mat.T @ projected)  # Bᵀ c = Fᵀ y
        else:
            s = lapack.syrk_lower(b_mat, transpose=False)  # B Bᵀ, r x r
            columns = np.asfortranarray(projected)
        diagonal, off, tau = lapack.sytrd_lower(s)
        lapack.apply_q(s, tau, columns, transpose=True)

        def back(x: FloatArray) -> FloatArray:
            """Posterior weights from solutions in T's coordinates, ``(D_out, C)``."""
            y = np.asfortranarray(x, dtype=self.dtype)
            lapack.apply_q(s, tau, y, transpose=False)
            return cast(FloatArray, (y if wide else b_mat.T @ y).astype(np.float64))

        diagonal64 = diagonal.astype(np.float64)
        off64 = off.astype(np.float64)
        # Eigenvalues above rounding (inner * eps * sigma_max), counted without computing them.
        largest = lapack.largest(diagonal64, off64)
        rank = 0
        if largest > 0:  # else every eigenvalue is (numerically) zero or below
            cutoff = largest * inner * eps
            rank = diagonal64.shape[0] - lapack.count_below(diagonal64, off64, cutoff)
        return _Tridiagonal(diagonal64, off64, columns.astype(np.float64), wide, back, rank)


# --- choosing ---------------------------------------------------------------------------------


class _Kernel(Protocol):
    name: str

    def prepare(self, stats: Any) -> Any: ...

    def spectrum(self, prepared: Any, weights: NDArray[Any], biases: NDArray[Any]) -> Spectrum: ...


@dataclass(frozen=True, eq=False)
class ScoringBackend:
    """A resolved choice: which backend, where, in which precision, on how many threads.

    Attributes:
        name: ``lapack``, ``torch`` or ``numpy``.
        device: ``cpu``, ``cuda``, ``cuda:1``, …
        dtype: ``float64`` or ``float32``.
        workers: ESMs decomposed at the same time (one thread each).
        threads: Threads inside one library call (BLAS, LAPACK, torch).
        batched: Whether a chunk of ESMs goes to the library as one batched call
            (numpy, torch) rather than ESM by ESM (lapack).
    """

    name: str
    device: str
    dtype: str
    workers: int
    threads: int
    kernel: _Kernel = field(repr=False)

    @property
    def batched(self) -> bool:
        return self.name != "lapack"

    def prepare(self, stats: Any) -> Any:
        """Per-target data in the backend's precision and on its device."""
        return self.kernel.prepare(stats)

    def spectrum(self, prepared: Any, weights: NDArray[Any], biases: NDArray[Any]) -> Spectrum:
        """The spectrum of a stack of ESMs ``(K, D_out, D)``, ``(K, D_out)``."""
        return self.kernel.spectrum(prepared, weights, biases)

    def describe(self) -> str:
        """One line for logs and benchmarks."""
        return (
            f"{self.name} on {self.device}, {self.dtype}, {self.workers} worker(s) x "
            f"{self.threads} thread(s)"
        )


def _has_scipy() -> bool:
    return importlib.util.find_spec("scipy") is not None


def _has_torch() -> bool:
    return "torch" in sys.modules or importlib.util.find_spec("torch") is not None


def available_backends() -> list[str]:
    """The backends that can run here (``numpy`` always can)."""
    names = ["lapack"] if _has_scipy() else []
    if _has_torch():
        names.append("torch")
    return [*names, "numpy"]


def _import_torch() -> Any:
    try:
        import torch  # noqa: PLC0415 - optional, and heavy: only when asked for
    except ImportError:
        return None
    return torch


def _default_device() -> str:
    """A GPU only when torch is already loaded and sees one: never import torch to ask."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return "cuda"
    return "cpu"


def resolve_backend(
    backend: BackendName | str = "auto",
    *,
    device: str | None = None,
    dtype: Dtype | str = "float64",
    threads: int | None = None,
) -> ScoringBackend:
    """Choose and load a backend (see the module docstring for what ``auto`` picks).

    Args:
        backend: ``auto``, ``lapack``, ``torch`` or ``numpy``.
        device: ``cpu``, ``cuda``, ``cuda:1``, …; ``None``: a GPU when torch is already
            loaded and sees one, else the CPU.
        dtype: ``float64`` (default, agrees with hfselect to 1e-6) or ``float32``.
        threads: CPU threads to use; ``None``: every core this process may run on. On the
            CPU they become parallel ESMs (one thread each), which beats threads inside one
            decomposition; on a GPU they are torch's host threads.

    Raises:
        UsageError: an unknown name, device or dtype; a backend that is not installed or
            cannot run on ``device``.
    """
    if backend not in BACKENDS:
        raise UsageError(f"unknown scoring backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if dtype not in DTYPES:
        raise UsageError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    if threads is not None and (isinstance(threads, bool) or threads < 1):
        raise UsageError(f"threads must be at least 1, got {threads!r}")
    where = str(device) if device is not None else _default_device()
    on_cpu = where == "cpu"
    if not on_cpu and not where.startswith("cuda"):
        raise UsageError(f"unknown device {where!r}; use cpu, cuda or cuda:N")
    name = str(backend)
    if name == "auto":
        if not on_cpu:
            name = "torch"
        elif _has_scipy():
            name = "lapack"
        elif "torch" in sys.modules:
            name = "torch"
        else:
            name = "numpy"
    if name in ("lapack", "numpy") and not on_cpu:
        raise UsageError(f"the {name} backend runs on the CPU only; use backend='torch' on {where}")
    if not on_cpu and name == "torch":
        torch = sys.modules.get("torch") if "torch" in sys.modules else _import_torch()
        if torch is None or not torch.cuda.is_available():
            raise UsageError(f"cannot score on {where}: torch sees no CUDA device")
    np_dtype = np.dtype(dtype)
    kernel: _Kernel
    try:
        if name == "lapack":
            kernel = _LapackKernel(np_dtype)
        elif name == "torch":
            kernel = _TorchKernel(np_dtype, where)
        else:
            kernel = _NumpyKernel(np_dtype)
    except ImportError as exc:
        package = "scipy" if name == "lapack" else "torch"
        raise UsageError(
            f"the {name} scoring backend needs {package} ({exc}); install it "
            f"(pip install {package}) or choose another backend"
        ) from None
    except RuntimeError as exc:  # torch: no such device
        raise UsageError(f"cannot score on {where}: {exc}") from None
    cores = threads if threads is not None else usable_cores()
    workers, per_call = (cores, 1) if on_cpu else (1, cores)
    chosen = ScoringBackend(name, where, str(np_dtype), workers, per_call, kernel)
    logger.debug("scoring backend: %s", chosen.describe())
    return chosen
