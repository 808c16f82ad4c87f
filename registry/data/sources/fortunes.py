"""Quotes from the fortune cookie files (Debian packages ``fortunes`` and ``fortunes-min``).

Each fortune file collects quotes on one theme (``computers``, ``law``, ``food``) or of one
kind (``definitions``, ``riddles``, Zippy the Pinhead); the file a quote comes from is its
label. Overstrike sequences (``_\\b``) are removed, and so are attributions
(``-- Mark Twain``): the label should be learnt from the quote, not from who said it.
Long quotes (stories, song lyrics) are dropped. Files of doubtful taste (``ethnic``,
``men-women``, ``drugs``) and grab-bags (``cookie``, ``miscellaneous``) are not used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from ..core import Candidate, Source, TaskSpec

__all__ = ["SOURCE", "read_fortunes", "split_fortunes"]

#: The target's labels: what a quote is about.
TOPICS = ("art", "computers", "education", "food", "law", "love", "politics", "science", "work")
#: Collections defined by the kind of quote or who said it.
COLLECTIONS = (
    "definitions",
    "humorists",
    "literature",
    "people",
    "platitudes",
    "riddles",
    "startrek",
    "wisdom",
    "zippy",
)
#: Computing humour, by community.
COMPUTING = ("computers", "linux", "perl")

_FILES = tuple(sorted({*TOPICS, *COLLECTIONS, *COMPUTING}))
_OVERSTRIKE = re.compile(r".\x08")
_ATTRIBUTION = re.compile(r"^\s*(?:--|\u2014|\u2015)\s*\S")
_SEPARATOR = re.compile(r"(?m)^%\n")
_QUOTED_ATTRIBUTION = re.compile(r"([\"\u201d])\s+(?:--|\u2014|\u2015)\s*[A-Z].*$")

Fortunes = dict[str, list[str]]  # file name -> quotes


def _without_attributions(lines: list[str]) -> list[str]:
    """Drop attributions: a last line opening with a dash, and any indented line opening
    with a dash together with its indented continuation lines.

    A dash at the start of an unindented line inside a quote continues its sentence.
    """
    if len(lines) > 1 and _ATTRIBUTION.match(lines[-1]):
        lines = lines[:-1]
    kept: list[str] = []
    in_attribution = False
    for line in lines:
        if line[:1].isspace() and _ATTRIBUTION.match(line):
            in_attribution = True
        elif not (in_attribution and line[:1].isspace() and line.strip()):
            in_attribution = False
            kept.append(line)
    return kept


def split_fortunes(raw: str) -> list[str]:
    """The quotes of one fortune file (``%`` lines separate them), attributions removed.

    Attributions are dropped as lines (see :func:`_without_attributions`) and when a dash
    and a name follow the closing quotation mark of a quote on the same line.
    """
    quotes = []
    for chunk in _SEPARATOR.split(raw):
        lines = _without_attributions(_OVERSTRIKE.sub("", chunk).rstrip().split("\n"))
        text = _QUOTED_ATTRIBUTION.sub(r"\1", " ".join(" ".join(lines).split()))
        if text and "\ufffd" not in text:  # drop the rare quote that is not UTF-8
            quotes.append(text)
    return quotes


def read_fortunes(directory: Path) -> Fortunes:
    """The quotes of the fortune files this source uses."""
    return {
        name: split_fortunes((directory / name).read_bytes().decode("utf-8", "replace"))
        for name in _FILES
    }


def _quotes_of(files: tuple[str, ...]) -> Callable[[Fortunes], Iterable[Candidate]]:
    def candidates(fortunes: Fortunes) -> Iterable[Candidate]:
        for name in files:
            for quote in fortunes[name]:
                yield quote, name

    return candidates


#: In claiming order: the target first, then the computing task (which takes the
#: ``computers`` quotes the target left).
TASKS: tuple[TaskSpec[Fortunes], ...] = (
    TaskSpec(
        name="fortunes/topic",
        role="target",
        description="Quotes from the fortune cookie files, labelled with the topic of the "
        "file they come from (art, computers, education, food, law, love, politics, "
        "science, work). A target task: its quotes appear in no intermediate task.",
        candidates=_quotes_of(TOPICS),
        per_label=100,
        test_per_label=40,
        min_per_label=140,
        max_words=60,
    ),
    TaskSpec(
        name="fortunes/collection",
        role="intermediate",
        description="Quotes from the fortune cookie files, labelled with the collection "
        "they come from, which says what kind of quote it is: mock dictionary "
        "definitions, riddles, platitudes, Star Trek lines, Zippy the Pinhead, ...",
        candidates=_quotes_of(COLLECTIONS),
        per_label=150,
        min_per_label=100,
        max_words=60,
    ),
    TaskSpec(
        name="fortunes/computing",
        role="intermediate",
        description="Computing quotes from the fortune cookie files, labelled with their "
        "file: computers in general, Linux (kernel comments, mailing lists) or Perl.",
        candidates=_quotes_of(COMPUTING),
        per_label=250,
        min_per_label=200,
        max_words=60,
    ),
)

SOURCE: Source[Fortunes] = Source(
    name="fortunes",
    title="fortune cookie files (fortune-mod)",
    package="fortunes",
    input_dir=Path("/usr/share/games/fortunes"),
    input_files=_FILES,
    read=read_fortunes,
    tasks=TASKS,
    license="bsd-3-clause",
    license_name="bsd-3-clause",
    license_file="LICENSE-Fortunes.txt",
    shipped=True,
)
