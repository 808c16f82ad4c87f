"""FOLDOC, the Free On-line Dictionary of Computing (Debian package ``dict-foldoc``).

Each sense of an entry opens with its subject in angle brackets
(``1. <storage> Computer memory, usually ...``). A task pairs the first sentence of a
sense with its subject; senses with two subjects (``<networking, protocol>``) are left
out. Cross-references (``{magnetic disks}``) keep their words and lose their braces.

FOLDOC is under the GNU Free Documentation License, so its tasks are not shipped: they are
built on demand from the installed package into the esm-registry home.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from ..core import Candidate, Source, TaskSpec, first_sentence
from ..dictd import DICTD_DIR, read_entries

__all__ = ["SOURCE", "parse_senses", "read_foldoc"]

#: The target's subjects: nine large, distinct areas of computing.
SUBJECTS = (
    "communications",
    "company",
    "hardware",
    "language",
    "mathematics",
    "networking",
    "operating system",
    "programming",
    "storage",
)
#: The intermediate's subjects: the next largest, none of the target's. ``jargon`` is left
#: out: those senses are copies of the Jargon File, which has a task of its own.
MORE_SUBJECTS = (
    "algorithm",
    "architecture",
    "body",
    "character",
    "chat",
    "computer",
    "database",
    "electronics",
    "graphics",
    "humour",
    "logic",
    "messaging",
    "person",
    "processor",
    "protocol",
    "security",
    "theory",
    "tool",
    "web",
)
_SENSE = re.compile(r"^(?:\d+\.\s+)?<([^<>{}]+)>\s+(.*)$", re.S)
_LINK = re.compile(r"\{([^{}]*?)(?:\s+\([^(){}]*\))?\}")

Sense = tuple[str, str]  # (subject, first sentence)


def parse_senses(entry: str) -> list[Sense]:
    """The subject and first sentence of each sense of one entry."""
    senses = []
    for paragraph in entry.split("\n\n")[1:]:
        match = _SENSE.match(" ".join(paragraph.split()))
        if match is None:
            continue
        subject, text = match.groups()
        text = _LINK.sub(lambda m: m.group(1), text)
        if "," not in subject and not text.startswith("See "):
            senses.append((subject, first_sentence(text)))
    return senses


def read_foldoc(directory: Path) -> list[Sense]:
    """Every single-subject sense of FOLDOC, in dictionary order."""
    return [sense for entry in read_entries(directory, "foldoc") for sense in parse_senses(entry)]


def _senses_about(subjects: tuple[str, ...]) -> Callable[[list[Sense]], Iterable[Candidate]]:
    def candidates(senses: list[Sense]) -> Iterable[Candidate]:
        wanted = set(subjects)
        for subject, text in senses:
            if subject in wanted:
                yield text, subject

    return candidates


TASKS: tuple[TaskSpec[list[Sense]], ...] = (
    TaskSpec(
        name="foldoc/subject",
        role="target",
        description="First sentences of FOLDOC definitions, labelled with the subject of "
        "the sense (hardware, networking, programming, language, ...). A target task: "
        "its sentences appear in no intermediate task.",
        candidates=_senses_about(SUBJECTS),
        per_label=100,
        test_per_label=40,
        min_per_label=140,
        max_words=60,
    ),
    TaskSpec(
        name="foldoc/minor-subject",
        role="intermediate",
        description="First sentences of FOLDOC definitions, labelled with a subject the "
        "target task does not use (processor, protocol, graphics, humour, ...).",
        candidates=_senses_about(MORE_SUBJECTS),
        per_label=100,
        min_per_label=50,
        max_labels=20,
        max_words=60,
    ),
)

SOURCE: Source[list[Sense]] = Source(
    name="foldoc",
    title="FOLDOC, the Free On-line Dictionary of Computing (editor Denis Howe)",
    package="dict-foldoc",
    input_dir=DICTD_DIR,
    input_files=("foldoc.dict.dz", "foldoc.index"),
    read=read_foldoc,
    tasks=TASKS,
    license="gfdl",
    license_name="gfdl-1.1-or-later",
    license_file="LICENSE-FOLDOC.txt",
    shipped=False,
)
