"""Package namespaces whose names load on first use.

``import registry`` must stay light (card validation in CI imports nothing heavy), yet the
packages re-export names from modules that pull in numpy, the Hub client or torch. Each
package lists its exports here and imports the module behind a name when it is first read.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` that import ``exports[name]`` on use.

    Args:
        package: The package's ``__name__``.
        exports: Public name -> module that defines it (absolute, or relative to
            ``package`` when it starts with a dot).
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # the next read is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
