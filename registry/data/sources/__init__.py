"""The Debian packages the tasks are made from, in build order.

Order matters: a source never uses a text of a shipped task of a source before it, so the
shipped sources come first and the sources built on demand after them (which then avoid
every shipped text without depending on each other).

Every source reads files of a versioned package. Debian's package lists (descriptions and
their sections or debtags) would make good tasks but are not used: they change with every
mirror update, so no two machines would rebuild the same files, and each description is
under its own package's license.
"""

from __future__ import annotations

from typing import Any

from ..core import Source
from . import foldoc, fortunes, gcide, jargon, vera, wordnet

__all__ = ["SOURCES", "source_named"]

SOURCES: tuple[Source[Any], ...] = (
    wordnet.SOURCE,
    fortunes.SOURCE,
    jargon.SOURCE,
    foldoc.SOURCE,
    gcide.SOURCE,
    vera.SOURCE,
)


def source_named(name: str) -> Source[Any]:
    """The source called ``name``.

    Raises:
        KeyError: no source has this name (the message lists them).
    """
    for source in SOURCES:
        if source.name == name:
            return source
    raise KeyError(f"no source named {name!r}; sources: {', '.join(s.name for s in SOURCES)}")
