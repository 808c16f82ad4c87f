"""GCIDE, the GNU Collaborative International Dictionary of English (``dict-gcide``).

Most of GCIDE is Webster's Revised Unabridged Dictionary of 1913. An entry reads::

    Carene \\Ca*rene"\\, n. [LL. carena, ... See {Quarantine}.] (Eccl.)
       A fast of forty days on bread and water. [Obs.]
       [1913 Webster]

that is headword, pronunciation, part of speech, etymology in brackets, an optional field
of knowledge in parentheses, then the senses (numbered when there are several; a sense
may name its own field). Three tasks pair the first sentence of a sense with the field,
the part of speech, or the language the word comes from. Only senses marked
``[1913 Webster]`` are used: GCIDE also holds WordNet glosses, which the WordNet tasks
already use. Usage marks (``[Obs.]``), quotations and their authors (``--Shak.``) and
entries written with GCIDE's accent escapes (``caf['e]``) are left out.

GCIDE is under the GNU GPL and its input is large, so its tasks are not shipped: they are
built on demand from the installed package into the esm-registry home.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..core import Candidate, Source, TaskSpec, clean, first_sentence
from ..dictd import DICTD_DIR, read_entries

__all__ = ["SOURCE", "Sense", "parse_entry", "read_gcide"]

#: Fields of knowledge (the dictionary's abbreviation -> label).
FIELDS = {
    "Anat.": "anatomy",
    "Arch.": "architecture",
    "Astron.": "astronomy",
    "Bot.": "botany",
    "Chem.": "chemistry",
    "Eccl.": "church",
    "Geol.": "geology",
    "Gram.": "grammar",
    "Her.": "heraldry",
    "Law": "law",
    "Math.": "mathematics",
    "Mech.": "mechanics",
    "Med.": "medicine",
    "Mil.": "military",
    "Min.": "mineralogy",
    "Mus.": "music",
    "Naut.": "nautical",
    "Physics": "physics",
    "Print.": "printing",
    "Zool.": "zoology",
}
PARTS_OF_SPEECH = {
    "n.": "noun",
    "a.": "adjective",
    "v. t.": "transitive verb",
    "v. i.": "intransitive verb",
    "adv.": "adverb",
}
#: The language an etymology starts from (``[OF. ...]``) -> label. Webster's ``AS.``
#: (Anglo-Saxon) and ``OE.`` (Old English, 1150-1500) are both native English.
ORIGINS = {
    "AS": "English",
    "OE": "English",
    "F": "French",
    "OF": "French",
    "Gr": "Greek",
    "It": "Italian",
    "L": "Latin",
    "LL": "Latin",
    "NL": "New Latin",
    "Sp": "Spanish",
}

_MARK = "[1913 Webster]"
_HEAD = re.compile(
    r"^.*?\\[^\\]*\\(?:\s*\([^()]*\))?,\s+(?P<pos>(?:[a-z]+\.\s?){1,3}?)(?=[\s,;\[(]|$)"
)
_ORIGIN = re.compile(r"^(?:(?:Cf|Perh|Prob)\.\s+)?([A-Z][A-Za-z]*)\.")
_SENSE_NUMBER = re.compile(r"^\d+\.\s+")
_FIELD = re.compile(r"^\(([A-Z][A-Za-z. ]*)\)\s*")
_USAGE = re.compile(r"\s*\[(?:Obs|R|Colloq|Archaic|Poetic|Prov\. Eng|Eng|Local|Scot|U\. S)\.\]")
_AUTHOR = re.compile(r"\s*--\s*[A-Z][^.]*\.?$")


@dataclass(frozen=True)
class Sense:
    """One sense of a 1913 Webster entry, with what its entry says about the word."""

    text: str  # the first sentence of the definition
    pos: str  # as written: "n.", "v. t.", ...
    field: str | None  # abbreviation, the sense's own or else the entry's
    origin: str | None  # first language of the etymology


def _group(text: str, start: int) -> int:
    """End of the bracket or parenthesis group opening at ``start`` (nesting allowed)."""
    opening = text[start]
    closing = "]" if opening == "[" else ")"
    depth = 0
    for i in range(start, len(text)):
        if text[i] == opening:
            depth += 1
        elif text[i] == closing:
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def _definition(text: str) -> str | None:
    """Clean one definition; ``None`` when it is not a plain 1913 Webster sentence."""
    if not text.endswith(_MARK):
        return None
    text = _USAGE.sub("", text[: -len(_MARK)].strip())
    text = _AUTHOR.sub("", text).replace("{", "").replace("}", "")
    if not text or "[" in text or "\\" in text or text.startswith(("See ", "Same as")):
        return None
    return first_sentence(text)


def parse_entry(entry: str) -> list[Sense]:
    """The 1913 Webster senses of one entry (a quotation, note or synonym list is none)."""
    blocks = entry.split("\n\n")
    head = clean(blocks[0])
    match = _HEAD.match(head)
    if match is None:
        return []
    pos = match.group("pos").strip()
    origin: str | None = None
    entry_field: str | None = None
    i = match.end()
    if head[i : i + 1] in (",", ";"):  # inflections such as "; pl. {Boys}"
        brackets = [j for j in (head.find("[", i), head.find("(", i)) if j >= 0]
        i = min(brackets) if brackets else len(head)
    while True:
        while i < len(head) and head[i] == " ":
            i += 1
        if i >= len(head) or head[i] not in "[(":
            break
        end = _group(head, i)
        inner = head[i + 1 : end - 1]
        if head[i] == "[" and origin is None:
            found = _ORIGIN.match(inner)
            origin = found.group(1) if found else None
        elif head[i] == "(" and inner in FIELDS:
            entry_field = inner
        i = end
    candidates = [head[i:]] + [clean(b) for b in blocks[1:] if b.startswith(("   ", "  "))]
    senses = []
    for raw_index, text in enumerate(candidates):
        if raw_index and not _SENSE_NUMBER.match(text):
            continue  # later blocks: only numbered senses (not quotations or notes)
        text = _SENSE_NUMBER.sub("", text)
        field = entry_field
        own = _FIELD.match(text)
        if own is not None:
            field = own.group(1) if own.group(1) in FIELDS else None
            text = text[own.end() :]
        definition = _definition(text)
        if definition is not None:
            senses.append(Sense(definition, pos, field, origin))
    return senses


def read_gcide(directory: Path) -> list[Sense]:
    """Every 1913 Webster sense of GCIDE, in dictionary order."""
    return [sense for entry in read_entries(directory, "gcide") for sense in parse_entry(entry)]


def _by_field(senses: list[Sense]) -> Iterable[Candidate]:
    for sense in senses:
        if sense.field is not None:
            yield sense.text, FIELDS[sense.field]


def _by_pos(senses: list[Sense]) -> Iterable[Candidate]:
    for sense in senses:
        if sense.pos in PARTS_OF_SPEECH:
            yield sense.text, PARTS_OF_SPEECH[sense.pos]


def _by_origin(senses: list[Sense]) -> Iterable[Candidate]:
    for sense in senses:
        if sense.origin in ORIGINS:
            yield sense.text, ORIGINS[sense.origin]


TASKS: tuple[TaskSpec[list[Sense]], ...] = (
    TaskSpec(
        name="gcide/field",
        role="intermediate",
        description="Definitions from Webster's 1913 dictionary (GCIDE), labelled with the "
        "field of knowledge the dictionary marks them with: zoology, botany, law, "
        "nautical, music, heraldry, ...",
        candidates=_by_field,
        per_label=100,
        min_per_label=80,
        max_words=40,
    ),
    TaskSpec(
        name="gcide/part-of-speech",
        role="intermediate",
        description="Definitions from Webster's 1913 dictionary (GCIDE), labelled with the "
        "part of speech of the word defined: noun, adjective, transitive or intransitive "
        "verb, adverb.",
        candidates=_by_pos,
        per_label=400,
        min_per_label=400,
        max_words=40,
    ),
    TaskSpec(
        name="gcide/origin",
        role="intermediate",
        description="Definitions from Webster's 1913 dictionary (GCIDE), labelled with the "
        "language the word comes from according to its etymology: Latin, French, Greek, "
        "native English, ...",
        candidates=_by_origin,
        per_label=250,
        min_per_label=150,
        max_words=40,
    ),
)

SOURCE: Source[list[Sense]] = Source(
    name="gcide",
    title="GCIDE, the GNU Collaborative International Dictionary of English (Webster 1913)",
    package="dict-gcide",
    input_dir=DICTD_DIR,
    input_files=("gcide.dict.dz", "gcide.index"),
    read=read_gcide,
    tasks=TASKS,
    license="gpl-2.0",
    license_name="gpl-2.0-or-later",
    license_file="LICENSE-GCIDE.txt",
    shipped=False,
)
