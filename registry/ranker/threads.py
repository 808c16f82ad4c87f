"""Thread counts of the numeric libraries, set explicitly while ESMs are scored.

OpenBLAS, MKL and torch each size their thread pools to the whole machine. Scoring runs
one decomposition per worker thread, so left alone they would start ``workers × cores``
threads; on a machine that is already busy, threads that spin-wait for each other then
make a decomposition several times slower. :func:`limited_threads` pins BLAS and OpenMP
(through ``threadpoolctl``) and torch's intra-op pool to a given count for the duration of
the scoring and restores what was there before.

BLAS and torch limits are process-wide (that is how the libraries work); scorings that
overlap in one process share them: the first one sets them, the last one to finish
restores them. OpenMP keeps its thread count per thread, so each worker thread pins its
own with :func:`pin_this_thread` when it starts.

Example:
    >>> with limited_threads(1):
    ...     pass  # every BLAS call here runs on one thread
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["limited_threads", "pin_this_thread", "usable_cores"]

logger = logging.getLogger(__name__)


class _Limits:
    """How many scorings hold the limits, and what restores them (under ``lock``)."""

    lock = threading.Lock()
    depth = 0
    saved: list[Any] = []  # noqa: RUF012 - shared on purpose, guarded by the lock


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _apply(threads: int) -> list[Any]:
    """Set the limits; return what restores them."""
    restore: list[Any] = []
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - only while scoring
    except ImportError:
        logger.debug("threadpoolctl is not installed: BLAS thread counts are left alone")
    else:
        restore.append(threadpool_limits(limits=threads))
    torch = sys.modules.get("torch")  # never imported for this: only if already in use
    if torch is not None:
        restore.append(("torch", torch.get_num_threads()))
        torch.set_num_threads(threads)
    logger.debug("numeric libraries limited to %d thread(s)", threads)
    return restore


def pin_this_thread(threads: int) -> None:
    """Limit OpenMP in the calling thread (a new thread starts with the process default).

    Meant as the initializer of a worker thread that lives only while scoring runs, so
    nothing is restored.
    """
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - only while scoring
    except ImportError:
        return
    threadpool_limits(limits=threads, user_api="openmp")


def _undo(restore: list[Any]) -> None:
    for item in reversed(restore):
        if isinstance(item, tuple):
            sys.modules["torch"].set_num_threads(item[1])
        else:
            item.restore_original_limits()


@contextmanager
def limited_threads(threads: int) -> Iterator[None]:
    """Run the block with BLAS, OpenMP and torch limited to ``threads`` threads each.

    Args:
        threads: Threads per library call (at least 1).

    Raises:
        ValueError: ``threads`` is below 1.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    with _Limits.lock:
        if _Limits.depth == 0:
            _Limits.saved = _apply(threads)
        _Limits.depth += 1
    try:
        yield
    finally:
        with _Limits.lock:
            _Limits.depth -= 1
            if _Limits.depth == 0:
                _undo(_Limits.saved)
                _Limits.saved = []
