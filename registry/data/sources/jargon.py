"""The Jargon File 4.4.7 (Debian package ``dict-jargon``): hacker slang, public domain.

An entry reads ``headword``, then a line with its pronunciation and part of speech
(``/dev·nuhl/, n.``), then its senses. The task pairs the first sentence of an entry's
first sense with the entry's part of speech; entries with several parts of speech
(``n.,vt.``) are left out, and so are the usage tags in brackets (``[Usenet]``) that open
a sense: they say where a word is used, not what it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from ..core import Candidate, Source, TaskSpec, first_sentence
from ..dictd import DICTD_DIR, read_entries

__all__ = ["SOURCE", "JargonEntry", "parse_entry", "read_jargon"]

#: Part-of-speech abbreviations of the Jargon File and the label they get.
PARTS_OF_SPEECH = {
    "n.": "noun",
    "adj.": "adjective",
    "v.": "verb",
    "vt.": "verb",
    "vi.": "verb",
}
_POS = re.compile(r"(?:^|,\s*)([a-z]+\.)\s*$")
_SENSE_NUMBER = re.compile(r"^\d+\.\s+")
_LEADING_TAG = re.compile(r"^\[[^\]]*\]\s*")
_BRACES = re.compile(r"\{([^{}]*)\}")
#: Senses that only point elsewhere, or open with a parenthetical aside, define nothing.
_CROSS_REFERENCE = ("See ", "Syn", "Same as", "(")

JargonEntry = tuple[str, str]  # (part of speech as written, first sentence)


def parse_entry(entry: str) -> JargonEntry | None:
    """The part of speech and the first sentence of one entry, if it has both."""
    head, _, body = entry.partition("\n\n")
    lines = head.split("\n")
    match = _POS.search(lines[1].strip()) if len(lines) > 1 else None
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    if match is None or not paragraphs:
        return None
    text = " ".join(paragraphs[0].split())
    text = _LEADING_TAG.sub("", _SENSE_NUMBER.sub("", text))
    text = _BRACES.sub(lambda m: " ".join(m.group(1).split()), text)
    if text.startswith(_CROSS_REFERENCE):
        return None
    return match.group(1), first_sentence(text)


def read_jargon(directory: Path) -> list[JargonEntry]:
    """The entries of the Jargon File that have a part of speech and a definition."""
    return [e for e in map(parse_entry, read_entries(directory, "jargon")) if e is not None]


def _definitions_by_pos(entries: list[JargonEntry]) -> Iterable[Candidate]:
    for pos, text in entries:
        if pos in PARTS_OF_SPEECH:
            yield text, PARTS_OF_SPEECH[pos]


TASKS: tuple[TaskSpec[list[JargonEntry]], ...] = (
    TaskSpec(
        name="jargon/part-of-speech",
        role="intermediate",
        description="First sentences of Jargon File definitions (hacker slang), labelled "
        "with the part of speech of the word defined: noun, verb or adjective.",
        candidates=_definitions_by_pos,
        per_label=200,
        min_per_label=100,
        max_words=60,
    ),
)

SOURCE: Source[list[JargonEntry]] = Source(
    name="jargon",
    title="The Jargon File 4.4.7",
    package="dict-jargon",
    input_dir=DICTD_DIR,
    input_files=("jargon.dict.dz", "jargon.index"),
    read=read_jargon,
    tasks=TASKS,
    license="other",
    license_name="public-domain",
    license_file="LICENSE-Jargon.txt",
    shipped=True,
)
