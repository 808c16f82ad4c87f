"""V.E.R.A., Virtual Entity of Relevant Acronyms (Debian package ``dict-vera``).

An entry is an acronym and its expansion, followed by where the acronym is used in
parentheses: ``Advanced TV Enhancement Forum (org.)``, ``Basic Transmission Unit (IBM,
SNA)``. The task pairs the expansion with the first of those contexts (a vendor, a field,
``org.`` for organisations, ``slang``, ...). Square brackets around optional words are
dropped, their words kept; an alternative spelling after the contexts (``, "IA-32"``) is
dropped. A few expansions are German.

V.E.R.A. is under the GNU Free Documentation License, so its task is not shipped: it is
built on demand from the installed package into the esm-registry home.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from ..core import Candidate, Source, TaskSpec, clean
from ..dictd import DICTD_DIR, read_entries

__all__ = ["SOURCE", "parse_entry", "read_vera"]

_CONTEXT = re.compile(r'^(?P<text>.*?)\s*\((?P<context>[^()]+)\)\s*(?:,\s*"[^"]*")?$')

Expansion = tuple[str, str]  # (expansion, first context)


def parse_entry(entry: str) -> Expansion | None:
    """The expansion and its first context, for an entry that names a context."""
    _, _, body = entry.partition("\n")
    match = _CONTEXT.match(clean(body))
    if match is None:
        return None
    text = clean(match.group("text").replace("[", "").replace("]", ""))
    return text, match.group("context").split(",")[0].strip()


def read_vera(directory: Path) -> list[Expansion]:
    """Every expansion of V.E.R.A. that names its context, in dictionary order."""
    return [e for e in map(parse_entry, read_entries(directory, "vera")) if e is not None]


def _by_context(expansions: list[Expansion]) -> Iterable[Candidate]:
    yield from expansions


TASKS: tuple[TaskSpec[list[Expansion]], ...] = (
    TaskSpec(
        name="vera/context",
        role="intermediate",
        description="Expansions of computing acronyms from V.E.R.A., labelled with the "
        "first context the dictionary gives for the acronym: a vendor (IBM, MS, Intel), a "
        "field (DB, cryptography), org. for organisations, slang, ...; the 20 largest.",
        candidates=_by_context,
        per_label=100,
        min_per_label=40,
        max_labels=20,
        label_order="size",
    ),
)

SOURCE: Source[list[Expansion]] = Source(
    name="vera",
    title="V.E.R.A., Virtual Entity of Relevant Acronyms (Oliver Heidelbach)",
    package="dict-vera",
    input_dir=DICTD_DIR,
    input_files=("vera.dict.dz", "vera.index"),
    read=read_vera,
    tasks=TASKS,
    license="gfdl",
    license_name="gfdl-1.1-or-later",
    license_file="LICENSE-VERA.txt",
    shipped=False,
)
