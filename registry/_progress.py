"""Progress bars: one switch for every bar the package draws.

``progress=None`` means "only when stderr is a terminal", so bars never end up in logs or
CI output; ``HF_HUB_DISABLE_PROGRESS_BARS`` turns them off too (huggingface_hub's tqdm).
"""

from __future__ import annotations

import sys
from typing import Any

from huggingface_hub.utils import tqdm

__all__ = ["progress_bar", "progress_enabled"]


def progress_enabled(progress: bool | None) -> bool:
    """``None`` means: show bars only when stderr is a terminal (not in logs or CI)."""
    return sys.stderr.isatty() if progress is None else progress


def progress_bar(
    *, total: int | None, desc: str, unit: str, progress: bool | None, **kwargs: Any
) -> Any:
    """A tqdm bar on stderr, shown when :func:`progress_enabled` says so."""
    return tqdm(  # type: ignore[no-untyped-call]
        total=total,
        desc=desc,
        unit=unit,
        disable=not progress_enabled(progress),
        dynamic_ncols=True,
        **kwargs,
    )
