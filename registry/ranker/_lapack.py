"""The few BLAS and LAPACK routines the tridiagonal scoring path calls, through SciPy.

numpy exposes ``eigh`` but not its building blocks; LogME needs only some of them (see
:mod:`.backends`). SciPy publishes the routines of the BLAS and LAPACK it ships as C
function pointers (``scipy.linalg.cython_blas`` / ``cython_lapack``, the same table numba
uses); they are called here through :mod:`ctypes`, which releases the GIL for the length of
each call, so that worker threads decompose several ESMs at once. SciPy's own Python
wrappers hold the GIL and could not.

Arrays are Fortran-ordered (column-major), as LAPACK expects; every function checks what
it is given, because a wrong stride here is a wrong memory access, not an exception.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Any, Final

import numpy as np

__all__ = ["Lapack", "ShiftedTridiagonal", "load"]

_POINTER = ctypes.c_void_p
#: Routine -> number of arguments (all passed by reference, as in Fortran).
_BLAS: Final = {"trmm": 11, "syrk": 10}
_LAPACK: Final = {"sytrd": 10, "ormqr": 13, "sterf": 4, "gtsv": 8}
#: The float64 routines of the tridiagonal problem.
_TRIDIAGONAL: Final = {"sterf": 4, "gtsv": 8, "pttrf": 4, "pttrs": 7, "stebz": 18, "larrc": 11}
_PREFIX: Final = {np.dtype(np.float64): "d", np.dtype(np.float32): "s"}


def _capsule_pointer(capsule: Any) -> int:
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    address = get_pointer(capsule, get_name(capsule))
    if not address:
        raise ImportError("SciPy's LAPACK table holds a null pointer")
    return int(address)


def _function(table: Any, name: str, arity: int) -> Callable[..., None]:
    return ctypes.CFUNCTYPE(None, *([_POINTER] * arity))(_capsule_pointer(table[name]))


def _char(value: str) -> Any:
    return ctypes.byref(ctypes.c_char(value.encode()))


def _int(value: int) -> Any:
    return ctypes.byref(ctypes.c_int(value))


def _at(array: np.ndarray[Any, Any], offset: int = 0) -> _POINTER:
    return _POINTER(array.ctypes.data + offset * array.itemsize)


def _check_fortran(
    array: np.ndarray[Any, Any], dtype: np.dtype[Any], shape: tuple[int, ...]
) -> None:
    if array.dtype != dtype or array.shape != shape or not array.flags.f_contiguous:
        raise ValueError(
            f"LAPACK needs a Fortran-ordered {dtype} array of shape {shape}, got "
            f"{array.dtype} {array.shape} (f_contiguous={array.flags.f_contiguous})"
        )


class Lapack:
    """The routines of one precision (``float64`` or ``float32``)."""

    def __init__(self, dtype: np.dtype[Any]) -> None:
        from scipy.linalg import cython_blas, cython_lapack  # noqa: PLC0415 - optional

        self.dtype = np.dtype(dtype)
        prefix = _PREFIX[self.dtype]
        blas = cython_blas.__pyx_capi__
        lapack = cython_lapack.__pyx_capi__
        self._f = {name: _function(blas, prefix + name, n) for name, n in _BLAS.items()}
        self._f.update({name: _function(lapack, prefix + name, n) for name, n in _LAPACK.items()})
        self._real = ctypes.c_double if self.dtype == np.float64 else ctypes.c_float
        # The 64-bit routines always: the tridiagonal problem is solved in float64.
        self._t = {name: _function(lapack, "d" + name, n) for name, n in _TRIDIAGONAL.items()}
        self._lwork: dict[int, int] = {}

    def _scalar(self, value: float) -> Any:
        return ctypes.byref(self._real(value))

    def trmm_upper_left(self, r: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> None:
        """``b := r @ b`` in place, ``r`` upper triangular (square)."""
        m, n = b.shape
        _check_fortran(r, self.dtype, (m, m))
        _check_fortran(b, self.dtype, (m, n))
        self._f["trmm"](
            _char("L"), _char("U"), _char("N"), _char("N"), _int(m), _int(n),
            self._scalar(1.0), _at(r), _int(m), _at(b), _int(m),
        )  # fmt: skip

    def syrk_lower(self, a: np.ndarray[Any, Any], *, transpose: bool) -> np.ndarray[Any, Any]:
        """The lower triangle of ``aᵀa`` (``transpose``) or ``aaᵀ``; the upper one is garbage."""
        rows, cols = a.shape
        _check_fortran(a, self.dtype, (rows, cols))
        n, k = (cols, rows) if transpose else (rows, cols)
        out = np.empty((n, n), dtype=self.dtype, order="F")
        self._f["syrk"](
            _char("L"), _char("T" if transpose else "N"), _int(n), _int(k),
            self._scalar(1.0), _at(a), _int(rows), self._scalar(0.0), _at(out), _int(n),
        )  # fmt: skip
        return out

    def sytrd_lower(
        self, s: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Reduce ``s`` (lower triangle used) to tridiagonal ``Qᵀ s Q`` in place.

        Returns the diagonal, the off-diagonal and the Householder scalars; the reflectors
        stay below the subdiagonal of ``s`` (for :meth:`apply_q`).
        """
        n = s.shape[0]
        _check_fortran(s, self.dtype, (n, n))
        diagonal = np.empty(n, dtype=self.dtype)
        off = np.empty(max(n - 1, 1), dtype=self.dtype)
        tau = np.empty(max(n - 1, 1), dtype=self.dtype)
        lwork = self._sytrd_lwork(n)
        work = np.empty(lwork, dtype=self.dtype)
        info = ctypes.c_int(0)
        self._f["sytrd"](
            _char("L"), _int(n), _at(s), _int(n), _at(diagonal), _at(off), _at(tau),
            _at(work), _int(lwork), ctypes.byref(info),
        )  # fmt: skip
        _raise_on(info, "sytrd")
        return diagonal, off[: n - 1], tau[: n - 1]

    def _sytrd_lwork(self, n: int) -> int:
        lwork = self._lwork.get(n)
        if lwork is None:
            query = np.empty(1, dtype=self.dtype)
            scratch = np.empty((1, 1), dtype=self.dtype, order="F")
            vec = np.empty(max(n, 1), dtype=self.dtype)
            info = ctypes.c_int(0)
            self._f["sytrd"](
                _char("L"), _int(n), _at(scratch), _int(max(n, 1)), _at(vec), _at(vec),
                _at(vec), _at(query), _int(-1), ctypes.byref(info),
            )  # fmt: skip
            _raise_on(info, "sytrd (workspace query)")
            lwork = max(int(query[0]), n, 1)
            self._lwork[n] = lwork
        return lwork

    def apply_q(
        self,
        s: np.ndarray[Any, Any],
        tau: np.ndarray[Any, Any],
        c: np.ndarray[Any, Any],
        *,
        transpose: bool,
    ) -> None:
        """``c := Qᵀc`` (``transpose``) or ``Qc`` in place, ``Q`` from :meth:`sytrd_lower`."""
        n = s.shape[0]
        _check_fortran(s, self.dtype, (n, n))
        rows, cols = c.shape
        _check_fortran(c, self.dtype, (n, cols))
        if n < 2 or cols == 0:
            return
        # Q = H(1) … H(n-1) acts on rows 2..n: a QR-shaped set of n-1 reflectors
        # stored from s[1, 0] on (what LAPACK's ormtr does for the lower triangle).
        lwork = max(64 * cols, 1)
        work = np.empty(lwork, dtype=self.dtype)
        info = ctypes.c_int(0)
        self._f["ormqr"](
            _char("L"), _char("T" if transpose else "N"), _int(n - 1), _int(cols), _int(n - 1),
            _at(s, 1), _int(n), _at(tau), _at(c, 1), _int(rows), _at(work), _int(lwork),
            ctypes.byref(info),
        )  # fmt: skip
        _raise_on(info, "ormqr")

    def eigenvalues(
        self, diagonal: np.ndarray[Any, Any], off: np.ndarray[Any, Any]
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Eigenvalues (ascending) of the symmetric tridiagonal matrix, in float64."""
        values = np.array(diagonal, dtype=np.float64)
        scratch = np.array(off, dtype=np.float64)
        info = ctypes.c_int(0)
        self._t["sterf"](_int(values.shape[0]), _at(values), _at(scratch), ctypes.byref(info))
        _raise_on(info, "sterf")
        return values

    def solve_shifted(
        self,
        diagonal: np.ndarray[Any, Any],
        off: np.ndarray[Any, Any],
        shift: float,
        rhs: np.ndarray[Any, Any],
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        """``(T + shift I)⁻¹ rhs`` for the float64 tridiagonal ``T`` (LU, partial pivoting)."""
        n = diagonal.shape[0]
        lower = np.array(off, dtype=np.float64)
        upper = np.array(off, dtype=np.float64)
        main = diagonal + shift
        solution = np.array(rhs, dtype=np.float64)
        info = ctypes.c_int(0)
        self._t["gtsv"](
            _int(n), _int(1), _at(lower), _at(main), _at(upper), _at(solution), _int(n),
            ctypes.byref(info),
        )  # fmt: skip
        _raise_on(info, "gtsv")
        return solution

    def shifted(
        self, diagonal: np.ndarray[Any, Any], off: np.ndarray[Any, Any]
    ) -> ShiftedTridiagonal:
        """Factorizations and solves of ``T + tI`` for many shifts ``t``."""
        return ShiftedTridiagonal(self, diagonal, off)

    def count_below(
        self, diagonal: np.ndarray[Any, Any], off: np.ndarray[Any, Any], bound: float
    ) -> int:
        """How many eigenvalues of the float64 tridiagonal ``T`` are at most ``bound``.

        A Sturm count (O(n)): no eigenvalue is computed, however many there are.
        """
        n = diagonal.shape[0]
        d = np.ascontiguousarray(diagonal, dtype=np.float64)
        e = np.ascontiguousarray(off, dtype=np.float64)
        pivmin = float(np.finfo(np.float64).tiny) * max(1.0, float(np.max(e * e, initial=0.0)))
        inside, left, right, info = (ctypes.c_int(0) for _ in range(4))
        self._t["larrc"](
            _char("T"), _int(n), ctypes.byref(ctypes.c_double(bound - 1.0)),
            ctypes.byref(ctypes.c_double(bound)), _at(d), _at(e),
            ctypes.byref(ctypes.c_double(pivmin)), ctypes.byref(inside), ctypes.byref(left),
            ctypes.byref(right), ctypes.byref(info),
        )  # fmt: skip
        _raise_on(info, "larrc")
        return int(right.value)

    def largest(self, diagonal: np.ndarray[Any, Any], off: np.ndarray[Any, Any]) -> float:
        """The largest eigenvalue of the float64 tridiagonal ``T`` (bisection)."""
        n = diagonal.shape[0]
        count, values = self._stebz("I", diagonal, off, index=n)
        return float(values[0]) if count else 0.0

    def _stebz(
        self,
        which: str,
        diagonal: np.ndarray[Any, Any],
        off: np.ndarray[Any, Any],
        *,
        index: int = 1,
    ) -> tuple[int, np.ndarray[Any, Any]]:
        n = diagonal.shape[0]
        d = np.ascontiguousarray(diagonal, dtype=np.float64)
        e = np.ascontiguousarray(off, dtype=np.float64)
        found = ctypes.c_int(0)
        blocks = ctypes.c_int(0)
        values = np.empty(max(n, 1))
        iblock = np.empty(max(n, 1), dtype=np.intc)
        isplit = np.empty(max(n, 1), dtype=np.intc)
        work = np.empty(max(4 * n, 1))
        iwork = np.empty(max(3 * n, 1), dtype=np.intc)
        info = ctypes.c_int(0)
        self._t["stebz"](
            _char(which), _char("E"), _int(n), ctypes.byref(ctypes.c_double(0.0)),
            ctypes.byref(ctypes.c_double(0.0)), _int(index), _int(index),
            ctypes.byref(ctypes.c_double(0.0)), _at(d), _at(e), ctypes.byref(found),
            ctypes.byref(blocks), _at(values), _at(iblock), _at(isplit), _at(work), _at(iwork),
            ctypes.byref(info),
        )  # fmt: skip
        _raise_on(info, "stebz")
        return found.value, values[: found.value]


class ShiftedTridiagonal:
    """``T + tI`` for one float64 tridiagonal ``T`` and many shifts ``t``.

    LogME's fixed point asks for a few ``L D Lᵀ`` factorizations and solves per target
    column and iteration, each O(n): buffers and call arguments are made once here, so a
    call costs microseconds rather than the tens that fresh arrays and ctypes objects take.
    Not thread-safe: one instance per thread.
    """

    def __init__(self, lapack: Lapack, diagonal: np.ndarray[Any, Any], off: np.ndarray[Any, Any]):
        self._pttrf = lapack._t["pttrf"]
        self._pttrs = lapack._t["pttrs"]
        n = int(diagonal.shape[0])
        self.n = n
        self.diagonal = np.ascontiguousarray(diagonal, dtype=np.float64)
        self.off = np.ascontiguousarray(off, dtype=np.float64)
        self._reversed = (self.diagonal[::-1].copy(), self.off[::-1].copy())
        self.pivots = np.empty(n)
        self._multipliers = np.empty(max(n - 1, 1))
        self._rpivots = np.empty(n)
        self._rmultipliers = np.empty(max(n - 1, 1))
        self._x = np.empty(n)
        self._scratch = np.empty(n)
        self._n = ctypes.c_int(n)
        self._one = ctypes.c_int(1)
        self._info = ctypes.c_int(0)
        self._ptr = {
            name: _at(getattr(self, name))
            for name in ("pivots", "_multipliers", "_rpivots", "_rmultipliers", "_x")
        }

    def _pttrf_into(self, pivots: str, multipliers: str) -> bool:
        self._pttrf(
            ctypes.byref(self._n), self._ptr[pivots], self._ptr[multipliers],
            ctypes.byref(self._info),
        )  # fmt: skip
        return self._info.value == 0

    def factor(self, shift: float) -> bool:
        """Factor ``T + shift I`` from the top; False if it is not positive definite."""
        np.add(self.diagonal, shift, out=self.pivots)
        self._multipliers[: self.n - 1] = self.off
        return self._pttrf_into("pivots", "_multipliers")

    def inverse_trace(self, shift: float) -> float | None:
        """``tr((T + shift I)⁻¹)`` after :meth:`factor` (the same shift); None if it fails.

        ``(T + tI)⁻¹_ii = 1 / (d⁺_i + d⁻_i - (a_i + t))``, ``d⁺``/``d⁻`` the pivots of the
        factorizations from the top and from the bottom.
        """
        diagonal, off = self._reversed
        np.add(diagonal, shift, out=self._rpivots)
        self._rmultipliers[: self.n - 1] = off
        if not self._pttrf_into("_rpivots", "_rmultipliers"):
            return None
        scratch = self._scratch
        np.add(self.pivots, self._rpivots[::-1], out=scratch)
        scratch -= self.diagonal
        scratch -= shift
        return float(np.reciprocal(scratch, out=scratch).sum())

    def solve(self, rhs: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """``(T + shift I)⁻¹ rhs`` after :meth:`factor`; the result is overwritten next time."""
        self._x[:] = rhs
        self._pttrs(
            ctypes.byref(self._n), ctypes.byref(self._one), self._ptr["pivots"],
            self._ptr["_multipliers"], self._ptr["_x"], ctypes.byref(self._n),
            ctypes.byref(self._info),
        )  # fmt: skip
        _raise_on(self._info, "pttrs")
        return self._x

    def log_det(self) -> float:
        """``log|T + shift I|`` after a successful :meth:`factor`."""
        return float(np.log(self.pivots).sum())


def _raise_on(info: ctypes.c_int, routine: str) -> None:
    if info.value != 0:
        raise np.linalg.LinAlgError(f"LAPACK {routine} failed (info={info.value})")


@functools.cache
def load(dtype: str) -> Lapack:
    """The routines of ``dtype`` (``"float64"`` or ``"float32"``), bound once.

    Raises:
        ImportError: SciPy is not installed, or its LAPACK table lacks a routine.
    """
    try:
        return Lapack(np.dtype(dtype))
    except (KeyError, AttributeError) as exc:
        raise ImportError(f"SciPy's LAPACK table lacks a routine: {exc}") from None
