"""Progress bars for the ranker: one switch for every bar, as the publisher has it."""

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
    """A tqdm bar on stderr that honours ``HF_HUB_DISABLE_PROGRESS_BARS`` too."""
    return tqdm(  # type: ignore[no-untyped-call]
        total=total,
        desc=desc,
        unit=unit,
        disable=not progress_enabled(progress),
        dynamic_ncols=True,
        **kwargs,
    )
