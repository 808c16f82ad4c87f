"""Progress bars: one switch for every bar the package draws, and for the libraries' bars.

``progress=None`` means "only when stderr is a terminal", so bars never end up in logs or
CI output; ``HF_HUB_DISABLE_PROGRESS_BARS`` turns them off too (huggingface_hub's tqdm).
huggingface_hub and transformers draw bars of their own (downloads, "Loading weights",
"Writing model shards"); :func:`library_bars` hides those whenever ours are hidden.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from huggingface_hub import constants
from huggingface_hub.utils import (
    are_progress_bars_disabled,
    disable_progress_bars,
    enable_progress_bars,
    tqdm,
)

__all__ = ["library_bars", "progress_bar", "progress_enabled"]


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


def _transformers_logging() -> Any:
    """transformers' logging module if transformers is already imported (never imports it)."""
    return sys.modules.get("transformers.utils.logging")


@contextmanager
def library_bars(progress: bool | None) -> Iterator[None]:
    """Within the block, huggingface_hub's and transformers' bars follow ``progress``.

    Only hides bars (it never shows bars a user turned off), and restores the previous
    state afterwards. transformers reads huggingface_hub's switch when it is imported, so a
    first import inside the block is set back to that switch on the way out.
    """
    if progress_enabled(progress) or constants.HF_HUB_DISABLE_PROGRESS_BARS is False:
        yield  # bars wanted, or forced on by HF_HUB_DISABLE_PROGRESS_BARS=0
        return
    hub_was_disabled = are_progress_bars_disabled()
    before = _transformers_logging()
    transformers_was_enabled = before is not None and before.is_progress_bar_enabled()
    if not hub_was_disabled:
        disable_progress_bars()
    if before is not None:
        before.disable_progress_bar()
    try:
        yield
    finally:
        if not hub_was_disabled:
            enable_progress_bars()
        after = _transformers_logging()
        if after is not None and (
            transformers_was_enabled if before is not None else not hub_was_disabled
        ):
            after.enable_progress_bar()
