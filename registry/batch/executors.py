"""Where batch tasks run: in this process, or on a Ray cluster, behind one small interface.

The batch drivers (:mod:`.ranking`, :mod:`.training`) only ever call
:meth:`Executor.submit`, :meth:`Executor.next_done` and :meth:`Executor.outcome` with the task
functions of :mod:`.tasks`, so both executors run the same decomposition and differ only in
where a function runs:

* :class:`LocalExecutor` runs each task in this process when the driver waits for it, in
  the order submitted: no scheduler, no copies, the reference for the Ray results;
* :class:`RayExecutor` submits each task to Ray (``ray`` is imported only here): a handle
  passed to another task is resolved by Ray on the worker, so a large value made by one
  task (a target's statistics) goes into the object store once and every task that needs
  it reads it from there, never through the driver. Ray retries a task whose worker died
  (``retries``); exceptions raised by the task itself are not retried.

Example:
    >>> with LocalExecutor() as executor:
    ...     (double,) = executor.submit(lambda x: 2 * x, 21)
    ...     (plus_one,) = executor.submit(lambda x: x + 1, double)  # a handle as an argument
    ...     executor.outcome(plus_one).value
    43
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Protocol

from ..errors import UsageError

__all__ = [
    "DEFAULT_RETRIES",
    "EXECUTORS",
    "Executor",
    "LocalExecutor",
    "Outcome",
    "RayExecutor",
    "Resources",
    "TaskLost",
    "open_executor",
]

logger = logging.getLogger(__name__)

#: The executors ``--executor`` accepts.
EXECUTORS = ("local", "ray")
#: How often Ray re-runs a task whose worker died (a crash, a lost node, an OOM kill).
DEFAULT_RETRIES = 3


@dataclass(frozen=True)
class Resources:
    """What one task needs from a node (Ray schedules by it; in-process it is ignored)."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0


@dataclass(frozen=True)
class Outcome:
    """What a task gave: its value, or the exception that ended it."""

    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """True when the task returned."""
        return self.error is None


class TaskLost(RuntimeError):
    """A task could not be completed by the cluster (its worker kept dying, a node was lost)."""


class Executor(Protocol):
    """Runs task functions; the same calls for every backend."""

    name: str

    @property
    def parallelism(self) -> int:
        """Tasks that can run at the same time (CPUs of the cluster; 1 in-process)."""
        ...

    def gpus(self) -> float:
        """GPUs in the cluster (0 without)."""
        ...

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        resources: Resources | None = None,
        returns: int = 1,
        retries: int = DEFAULT_RETRIES,
    ) -> list[Any]:
        """Schedule ``fn(*args)``; return ``returns`` handles (one per item of a tuple result).

        Handles among ``args`` are replaced by their values before ``fn`` runs.
        """
        ...

    def next_done(self, handles: Sequence[Any]) -> Any:
        """One of ``handles`` whose task has finished (waiting for it when needed)."""
        ...

    def outcome(self, handle: Any) -> Outcome:
        """The value or exception behind a finished handle."""
        ...

    def close(self) -> None:
        """Release what the executor started."""
        ...

    def __enter__(self) -> Executor: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


# --- in-process ------------------------------------------------------------------------------


class _LocalTask:
    """A call that runs on first demand; its arguments are dropped once it has run."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._call: tuple[Callable[..., Any], tuple[Any, ...]] | None = (fn, args)
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        if self._call is None:
            return
        fn, args = self._call
        self._call = None
        try:
            resolved = [arg.get() if isinstance(arg, _LocalHandle) else arg for arg in args]
            self.value = fn(*resolved)
        except Exception as exc:  # the driver decides what a failure means
            self.error = exc


@dataclass(frozen=True, eq=False)
class _LocalHandle:
    task: _LocalTask
    index: int | None = None

    def get(self) -> Any:
        self.task.run()
        if self.task.error is not None:
            raise self.task.error
        return self.task.value if self.index is None else self.task.value[self.index]


class LocalExecutor:
    """Runs every task in this process, one at a time, in the order they were submitted.

    Nothing runs at :meth:`submit`; a task runs when the driver asks for the next finished
    handle (or when a task that needs its value runs), so progress is reported task by
    task and memory holds only what the driver still refers to.
    """

    name = "local"

    @property
    def parallelism(self) -> int:
        """One task at a time (each task still uses every core through numpy and torch)."""
        return 1

    def gpus(self) -> float:
        """Not asked: in-process tasks use whatever device torch finds."""
        return 0.0

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        resources: Resources | None = None,
        returns: int = 1,
        retries: int = DEFAULT_RETRIES,
    ) -> list[Any]:
        """Record the call; see :meth:`Executor.submit`."""
        task = _LocalTask(fn, args)
        if returns == 1:
            return [_LocalHandle(task)]
        return [_LocalHandle(task, index) for index in range(returns)]

    def next_done(self, handles: Sequence[Any]) -> Any:
        """The first handle: its task runs now if it has not yet."""
        if not handles:
            raise ValueError("no handles to wait for")
        handle = handles[0]
        handle.task.run()
        return handle

    def outcome(self, handle: Any) -> Outcome:
        """The value or exception of a handle (running its task if needed)."""
        try:
            return Outcome(value=handle.get())
        except Exception as exc:
            return Outcome(error=exc)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- Ray --------------------------------------------------------------------------------------


def _invoke(fn: Callable[..., Any], *args: Any) -> Any:
    """The one remote function: runs ``fn``, so that any picklable callable can be a task."""
    return fn(*args)


class RayExecutor:
    """Runs tasks on Ray: a local instance started here, or an existing cluster.

    Args:
        address: A cluster to join (``ray://host:10001``, ``host:6379`` or ``auto``);
            ``None`` starts a local instance on this machine, unless Ray is already
            initialised in this process (then that connection is used and left open).
        num_cpus: CPUs of a local instance (default: all of this machine).
        runtime_env: Ray's runtime environment for the workers (e.g. ``env_vars``).

    Raises:
        UsageError: Ray is not installed.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        runtime_env: dict[str, Any] | None = None,
    ) -> None:
        try:
            import ray  # noqa: PLC0415 - optional dependency, imported only by this executor
        except ImportError:
            raise UsageError(
                "the ray executor needs Ray: pip install 'esm-registry[ray]'"
            ) from None
        self._ray: Any = ray
        self._owned = False
        if ray.is_initialized():
            if address is not None:
                logger.warning("Ray is already initialised here; %s is not joined", address)
        else:
            options: dict[str, Any] = {
                "logging_level": logging.WARNING,
                "runtime_env": runtime_env,
            }
            if address is None:
                # "local" always starts a new instance, never joins one that happens to run.
                ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **options)
            else:
                ray.init(address=address, **options)
            self._owned = True
        self._remote = ray.remote(_invoke)

    @property
    def parallelism(self) -> int:
        """The CPUs of the cluster."""
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def gpus(self) -> float:
        """The GPUs of the cluster."""
        return float(self._ray.cluster_resources().get("GPU", 0.0))

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        resources: Resources | None = None,
        returns: int = 1,
        retries: int = DEFAULT_RETRIES,
    ) -> list[Any]:
        """Submit ``fn(*args)`` as a Ray task; see :meth:`Executor.submit`."""
        need = resources or Resources()
        remote = self._remote.options(
            name=getattr(fn, "__name__", "task"),
            num_cpus=need.num_cpus,
            num_gpus=need.num_gpus,
            num_returns=returns,
            max_retries=retries,
            retry_exceptions=False,
        )
        refs = remote.remote(fn, *args)
        return list(refs) if returns > 1 else [refs]

    def next_done(self, handles: Sequence[Any]) -> Any:
        """The first of ``handles`` to finish."""
        ready, _ = self._ray.wait(list(handles), num_returns=1)
        return ready[0]

    def outcome(self, handle: Any) -> Outcome:
        """The value, or the task's own exception (not Ray's wrapper around it)."""
        exceptions = self._ray.exceptions
        try:
            return Outcome(value=self._ray.get(handle))
        except exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            return Outcome(error=cause if isinstance(cause, BaseException) else exc)
        except exceptions.RayError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return Outcome(error=TaskLost(f"the cluster lost the task: {first}"))

    def close(self) -> None:
        """Shut down the Ray instance if this executor started or joined it."""
        if self._owned:
            self._ray.shutdown()
            self._owned = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_executor(kind: Literal["local", "ray"] | str, *, address: str | None = None) -> Executor:
    """The executor ``--executor`` and ``--ray-address`` name.

    Raises:
        UsageError: an unknown executor, an address for the local one, or Ray missing.
    """
    if kind == "local":
        if address is not None:
            raise UsageError("--ray-address needs --executor ray")
        return LocalExecutor()
    if kind == "ray":
        return RayExecutor(address)
    raise UsageError(f"unknown executor {kind!r}; use one of {', '.join(EXECUTORS)}")
