"""A Jinja2 sandbox with limits, for card templates that someone else wrote.

Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` stops a template from reaching
Python internals, but not from spending unbounded time or memory: nested loops, ``"x" *
10**9``, ``2 ** 10**9`` or a string doubled in a loop through ``namespace()``. Here every
render has budgets, and going over one raises :class:`~jinja2.exceptions.SecurityError`:

* loop iterations, all loops of one render together (:data:`MAX_LOOP_ITERATIONS`): every
  ``{% for %}`` is rewritten, when the template is loaded, to iterate through a counter;
* sizes of sequences made by ``range``, ``*`` and ``+`` and of strings stored in a
  ``namespace`` (:data:`MAX_SEQUENCE`), and of the integers ``**`` makes;
* the rendered text (:data:`MAX_OUTPUT_BYTES`, the size of the largest valid card), checked
  while it is produced;
* the template file itself (:data:`MAX_TEMPLATE_BYTES`, UTF-8 only).
"""

from __future__ import annotations

import contextvars
import operator
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import Namespace

from ..errors import TemplateError

__all__ = [
    "MAX_LOOP_ITERATIONS",
    "MAX_OUTPUT_BYTES",
    "MAX_SEQUENCE",
    "MAX_TEMPLATE_BYTES",
    "LimitedEnvironment",
    "render_limited",
]

#: Loop iterations per render, all loops together (the bundled card needs a few dozen).
MAX_LOOP_ITERATIONS = 100_000
#: Longest sequence or string that ``range``, ``*``, ``+`` and ``namespace`` may hold.
MAX_SEQUENCE = 100_000
#: Largest rendered card (a larger card would not validate anyway).
MAX_OUTPUT_BYTES = 1_000_000
#: Largest template file read.
MAX_TEMPLATE_BYTES = 256_000
#: Largest integer ``**`` may make, in bits.
_MAX_POWER_BITS = 4096
_BOUNDED = "_esm_bounded_loop"

_iterations: contextvars.ContextVar[list[int]] = contextvars.ContextVar("_iterations")


def _count(amount: int) -> None:
    budget = _iterations.get(None)
    if budget is None:  # rendering outside render_limited: give each call its own budget
        budget = [0]
        _iterations.set(budget)
    budget[0] += amount
    if budget[0] > MAX_LOOP_ITERATIONS:
        raise SecurityError(f"the template ran more than {MAX_LOOP_ITERATIONS:,} loop iterations")


def _bounded_loop(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _count(1)
        yield item


def _check_size(value: Any) -> Any:
    if isinstance(value, str | bytes | list | tuple) and len(value) > MAX_SEQUENCE:
        raise SecurityError(f"the template built a value longer than {MAX_SEQUENCE:,}")
    return value


def _limited_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_SEQUENCE:
        raise SecurityError(f"range of {len(result):,} items; at most {MAX_SEQUENCE:,}")
    return result


def _multiply(left: Any, right: Any) -> Any:
    for sequence, count in ((left, right), (right, left)):
        repeats = isinstance(sequence, str | bytes | list | tuple) and isinstance(count, int)
        if repeats and len(sequence) * max(count, 0) > MAX_SEQUENCE:
            raise SecurityError(f"the template built a value longer than {MAX_SEQUENCE:,}")
    return operator.mul(left, right)


def _power(left: Any, right: Any) -> Any:
    integers = isinstance(left, int) and isinstance(right, int) and right > 0
    if integers and max(abs(left), 2).bit_length() * right > _MAX_POWER_BITS:
        raise SecurityError(f"the template computed an integer over {_MAX_POWER_BITS} bits")
    return operator.pow(left, right)


def _add(left: Any, right: Any) -> Any:
    return _check_size(operator.add(left, right))


class _LimitedNamespace(Namespace):
    """``namespace()`` whose attributes cannot hold oversized strings or lists."""

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, _check_size(value))


class _BoundedLoader(jinja2.FileSystemLoader):
    """Loads templates (UTF-8, size-capped) and rewrites every loop to count iterations."""

    def load(
        self,
        environment: jinja2.Environment,
        name: str,
        globals: MutableMapping[str, Any] | None = None,
    ) -> jinja2.Template:
        source, filename, uptodate = self.get_source(environment, name)
        tree = environment.parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.Name(_BOUNDED, "load"), [loop.iter], [], None, None)
        code = environment.compile(tree, name, filename)
        return environment.template_class.from_code(
            environment, code, environment.make_globals(globals), uptodate
        )

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        for folder in self.searchpath:
            path = Path(folder) / template
            if path.is_file():
                size = path.stat().st_size
                if size > MAX_TEMPLATE_BYTES:
                    raise TemplateError(
                        f"card template {path} is {size:,} bytes; at most "
                        f"{MAX_TEMPLATE_BYTES:,} are read"
                    )
                try:
                    path.read_bytes().decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise TemplateError(
                        f"card template {path} is not UTF-8 text (invalid byte at offset "
                        f"{exc.start}); save it as UTF-8"
                    ) from None
                break
        return super().get_source(environment, template)


class LimitedEnvironment(SandboxedEnvironment):
    """The sandbox with the budgets of the module docstring, loading from one folder."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def __init__(self, template_dir: str) -> None:
        super().__init__(
            loader=_BoundedLoader(template_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # Markdown, escaped by the card's helpers
            keep_trailing_newline=True,
        )
        self.globals["range"] = _limited_range
        self.globals["namespace"] = _LimitedNamespace
        self.globals[_BOUNDED] = _bounded_loop
        self.binop_table = {**self.binop_table, "*": _multiply, "**": _power, "+": _add}


def render_limited(template: jinja2.Template, context: dict[str, Any]) -> str:
    """Render within the budgets; any limit, recursion or memory blow-up is a TemplateError.

    Raises:
        TemplateError: the template failed, or went over a budget.
    """
    token = _iterations.set([0])
    parts: list[str] = []
    size = 0
    try:
        for chunk in template.generate(**context):
            size += len(chunk.encode("utf-8"))
            if size > MAX_OUTPUT_BYTES:
                raise TemplateError(
                    f"the rendered card would exceed {MAX_OUTPUT_BYTES:,} bytes; cards larger "
                    "than that are not valid"
                )
            parts.append(chunk)
    except TemplateError:
        raise
    except SecurityError as exc:
        raise TemplateError(f"card template stopped: {exc}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"card template failed to render: {exc}") from None
    except (RecursionError, MemoryError) as exc:
        raise TemplateError(f"card template failed to render: {type(exc).__name__}") from None
    except Exception as exc:  # a template's own fault (1 / 0, "a" + 1, …), not ours
        raise TemplateError(
            f"card template failed to render: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        _iterations.reset(token)
    return "".join(parts)
