"""The optional modules hfselect's API needs (torch, transformers, datasets, pandas)."""

from __future__ import annotations

import importlib
from typing import Any

from ..._install import extra_of_module, missing_extra_error

__all__ = ["import_extra"]


def import_extra(module: str, what: str) -> Any:
    """Import ``module`` of an optional extra, or raise a one-line install hint.

    Args:
        module: The module, e.g. ``torch`` or ``transformers``.
        what: What needs it, for the message (e.g. ``'ESM.from_pretrained'``).

    Raises:
        MissingExtraError: the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = (exc.name or module).split(".", maxsplit=1)[0]
        extra = extra_of_module(top) or extra_of_module(module) or "rank"
        raise missing_extra_error(extra, what, top) from None
