"""Rebuild the shipped WordNet tasks from the Debian package ``wordnet-base``.

The tasks under ``registry/data/wordnet/`` are small text classification datasets made from
WordNet 3.0 glosses (definitions and the example sentences quoted in them). They exist so
that the trainer, the ranker and the quickstart run on real English text without network
access. This module regenerates them byte for byte from ``/usr/share/wordnet``::

    apt-get install wordnet-base
    python -m registry.data.build_wordnet            # rewrites registry/data/
    python -m registry.data.build_wordnet --check    # exit 1 when the shipped files differ

Only the standard library is used. Every choice is deterministic: candidates are ordered by
a SHA-256 of the task name and the text (not by ``random``, whose algorithms may change
between Python versions), and gzip members carry no timestamp or file name.

Each text is used by at most one task, and the target task's texts (example sentences of
nouns) are claimed first, so no target text appears in any intermediate task.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import logging
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_WORDNET_DIR",
    "TASK_SPECS",
    "TaskSpec",
    "build",
    "build_files",
    "main",
    "split_gloss",
]

logger = logging.getLogger(__name__)

DEFAULT_WORDNET_DIR = Path("/usr/share/wordnet")
PACKAGE_DIR = Path(__file__).resolve().parent
INDEX_NAME = "tasks.json"
SOURCE = "WordNet 3.0 (Princeton University), Debian package wordnet-base"
LICENSE = "other"
LICENSE_NAME = "wordnet-3.0"
LICENSE_FILE = "LICENSE-WordNet.txt"

#: Lexicographer file numbers (WordNet's lexnames(5WN)); the part after the dot is the label.
LEXNAMES: tuple[str, ...] = (
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
)

_POS_FILES = {
    "noun": "data.noun",
    "verb": "data.verb",
    "adjective": "data.adj",
    "adverb": "data.adv",
}
_STRUCTURE = re.compile(r'["();]')


# --- reading WordNet -----------------------------------------------------------------------


@dataclass(frozen=True)
class Synset:
    """The parts of one ``data.*`` line that the tasks use."""

    offset: str
    pos: str  # noun, verb, adjective, adverb
    lexname: str
    satellite: bool
    words: tuple[str, ...]
    pointers: tuple[tuple[str, str, str], ...]  # (symbol, target offset, target pos letter)
    definition: str
    examples: tuple[str, ...]


def _clean(text: str) -> str:
    return " ".join(text.split())


def split_gloss(gloss: str) -> tuple[str, list[str]]:
    """Split a gloss into its definition and its quoted example sentences.

    Glosses read ``definition; definition; "example"; "example"``. A ``;`` inside quotes
    or parentheses does not split, and a quoted phrase inside a definition (``the phrase
    "make strides"``) stays part of it: only segments that start with a quote are examples.
    """
    segments: list[str] = []
    begin, in_quote, depth = 0, False, 0
    for match in _STRUCTURE.finditer(gloss):
        ch = match.group()
        if ch == '"':
            in_quote = not in_quote
        elif in_quote:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:  # a ';' that separates two parts
            segments.append(gloss[begin : match.start()])
            begin = match.end()
    segments.append(gloss[begin:])
    definition: list[str] = []
    examples: list[str] = []
    for raw in segments:
        segment = raw.strip()
        if not segment:
            continue
        if segment.startswith('"') and segment.count('"') >= 2:
            examples.append(_clean(segment[1 : segment.index('"', 1)]))
        else:
            definition.append(_clean(segment))
    return "; ".join(d for d in definition if d), [e for e in examples if e]


def read_synsets(wordnet_dir: Path, pos: str) -> dict[str, Synset]:
    """Parse one ``data.<pos>`` file (format: wndb(5WN)) into synsets keyed by offset."""
    synsets: dict[str, Synset] = {}
    path = wordnet_dir / _POS_FILES[pos]
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("  "):  # the license header
                continue
            head, _, gloss = line.partition(" | ")
            fields = head.split()
            offset, lexnum, kind = fields[0], int(fields[1]), fields[2]
            num_words = int(fields[3], 16)
            words = tuple(fields[4 + 2 * i] for i in range(num_words))
            i = 4 + 2 * num_words
            num_pointers = int(fields[i])
            pointers = tuple(
                (fields[i + 1 + 4 * k], fields[i + 2 + 4 * k], fields[i + 3 + 4 * k])
                for k in range(num_pointers)
            )
            definition, examples = split_gloss(gloss.strip())
            synsets[offset] = Synset(
                offset=offset,
                pos=pos,
                lexname=LEXNAMES[lexnum],
                satellite=kind == "s",
                words=words,
                pointers=pointers,
                definition=definition,
                examples=tuple(examples),
            )
    return synsets


@dataclass
class WordNet:
    """All four parts of speech, read once."""

    synsets: dict[str, dict[str, Synset]]

    @classmethod
    def read(cls, wordnet_dir: Path) -> WordNet:
        missing = [name for name in _POS_FILES.values() if not (wordnet_dir / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{wordnet_dir} lacks {', '.join(missing)}; install the Debian package "
                "wordnet-base (apt-get install wordnet-base) or pass --wordnet-dir"
            )
        return cls({pos: read_synsets(wordnet_dir, pos) for pos in _POS_FILES})

    def noun_category(self, synset: Synset, depth: int) -> str | None:
        """The ancestor ``depth`` steps below ``entity`` on the first hypernym path."""
        nouns = self.synsets["noun"]
        path = [synset]
        while True:
            parents = [p for p in path[-1].pointers if p[0] in ("@", "@i")]
            if not parents:
                break
            path.append(nouns[parents[0][1]])
        path.reverse()
        if len(path) <= depth:
            return None
        return path[depth].words[0].replace("_", " ")


# --- task specifications ------------------------------------------------------------------

Candidate = tuple[str, str]  # (text, label)


@dataclass(frozen=True)
class TaskSpec:
    """How one task is drawn from WordNet.

    ``per_label`` caps the examples of each label (so classes are roughly balanced);
    labels with fewer than ``min_per_label`` candidates are dropped. ``test_per_label``
    examples of each label go to a ``test`` split before the ``train`` split is filled.
    """

    name: str
    role: str  # "intermediate" or "target"
    description: str
    candidates: Callable[[WordNet], Iterable[Candidate]]
    per_label: int
    min_per_label: int
    test_per_label: int = 0
    max_labels: int | None = None
    label_order: str = "alphabetical"
    extra: dict[str, str] = field(default_factory=dict)


def _noun_examples_by_category(wn: WordNet) -> Iterable[Candidate]:
    for synset in wn.synsets["noun"].values():
        category = wn.noun_category(synset, 2) if synset.examples else None
        if category is not None:
            for example in synset.examples:
                yield example, category


def _noun_definitions_by_supersense(wn: WordNet) -> Iterable[Candidate]:
    for synset in wn.synsets["noun"].values():
        if synset.lexname not in ("noun.Tops",):
            yield synset.definition, synset.lexname.split(".", 1)[1]


def _verb_examples_by_supersense(wn: WordNet) -> Iterable[Candidate]:
    for synset in wn.synsets["verb"].values():
        for example in synset.examples:
            yield example, synset.lexname.split(".", 1)[1]


def _adjective_definitions_by_cluster(wn: WordNet) -> Iterable[Candidate]:
    adjectives = wn.synsets["adjective"]
    for synset in adjectives.values():
        if not synset.satellite:
            continue
        heads = [p[1] for p in synset.pointers if p[0] == "&"]
        if heads:
            yield synset.definition, adjectives[heads[0]].words[0].replace("_", " ")


def _definitions_by_pos(wn: WordNet) -> Iterable[Candidate]:
    for pos, synsets in wn.synsets.items():
        for synset in synsets.values():
            yield synset.definition, pos


#: In claiming order: a text taken by an earlier task is never used by a later one.
TASK_SPECS: tuple[TaskSpec, ...] = (
    TaskSpec(
        name="wordnet/noun-example-category",
        role="target",
        description="Example sentences of WordNet nouns, labelled with the broad category "
        "of the noun (its ancestor two steps below 'entity': object, attribute, "
        "communication, ...). Meant as the target task of the quickstart; its sentences "
        "appear in no intermediate task.",
        candidates=_noun_examples_by_category,
        per_label=120,
        test_per_label=40,
        min_per_label=150,
    ),
    TaskSpec(
        name="wordnet/noun-supersense",
        role="intermediate",
        description="Definitions of WordNet noun senses, labelled with the noun's "
        "supersense (lexicographer file: animal, artifact, person, ...).",
        candidates=_noun_definitions_by_supersense,
        per_label=80,
        min_per_label=150,
    ),
    TaskSpec(
        name="wordnet/verb-supersense",
        role="intermediate",
        description="Example sentences of WordNet verb senses, labelled with the verb's "
        "supersense (lexicographer file: motion, communication, emotion, ...).",
        candidates=_verb_examples_by_supersense,
        per_label=120,
        min_per_label=60,
    ),
    TaskSpec(
        name="wordnet/adjective-cluster",
        role="intermediate",
        description="Definitions of WordNet satellite adjectives, labelled with the head "
        "adjective of their cluster (large, rough, old, ...); the 20 largest clusters.",
        candidates=_adjective_definitions_by_cluster,
        per_label=50,
        min_per_label=25,
        max_labels=20,
        label_order="size",
    ),
    TaskSpec(
        name="wordnet/lexical-category",
        role="intermediate",
        description="Definitions of WordNet senses labelled with the part of speech of the "
        "word they define: noun, verb, adjective or adverb.",
        candidates=_definitions_by_pos,
        per_label=500,
        min_per_label=500,
    ),
)


# --- building -----------------------------------------------------------------------------


def _key(text: str) -> str:
    """The form under which texts count as the same across tasks."""
    return _clean(text).casefold()


def _rank(task: str, text: str) -> str:
    return hashlib.sha256(f"{task}\n{text}".encode()).hexdigest()


def _select(
    spec: TaskSpec, wn: WordNet, claimed: set[str]
) -> tuple[list[str], dict[str, list[Candidate]]]:
    """Pick the examples of one task; returns its labels and examples per split."""
    labels_of: dict[str, set[str]] = defaultdict(set)
    text_of: dict[str, str] = {}
    for text, label in spec.candidates(wn):
        text = _clean(text)
        if len(text.split()) < 3:  # single words and fragments carry no sentence
            continue
        key = _key(text)
        if key in claimed:
            continue
        labels_of[key].add(label)
        text_of.setdefault(key, text)
    by_label: dict[str, list[str]] = defaultdict(list)
    for key, labels in labels_of.items():
        if len(labels) == 1:  # a text with two labels would contradict itself
            by_label[next(iter(labels))].append(text_of[key])
    eligible = {lab: texts for lab, texts in by_label.items() if len(texts) >= spec.min_per_label}
    names = sorted(eligible, key=lambda lab: (-len(eligible[lab]), lab))
    if spec.max_labels is not None:
        names = names[: spec.max_labels]
    if spec.label_order == "alphabetical":
        names.sort()
    splits: dict[str, list[Candidate]] = {"train": []}
    if spec.test_per_label:
        splits["test"] = []
    for label in names:
        texts = sorted(eligible[label], key=lambda t: _rank(spec.name, t))
        if spec.test_per_label:
            splits["test"].extend((t, label) for t in texts[: spec.test_per_label])
            texts = texts[spec.test_per_label :]
        splits["train"].extend((t, label) for t in texts[: spec.per_label])
    for split, rows in splits.items():
        rows.sort(key=lambda row: _rank(f"{spec.name}:{split}", row[0]))
        claimed.update(_key(text) for text, _ in rows)
    # Texts not chosen stay free for later tasks; the chosen ones are claimed above.
    return names, splits


def _gzip_jsonl(rows: Sequence[Candidate]) -> bytes:
    payload = "".join(
        json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n"
        for text, label in rows
    ).encode("utf-8")
    buffer = io.BytesIO()
    # No file name and mtime 0: the bytes depend on the content only.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(payload)
    return buffer.getvalue()


def task_file_name(name: str, split: str) -> str:
    """Path of a task split's file relative to ``registry/data``."""
    return f"{name}/{split}.jsonl.gz"


def build_files(wordnet_dir: Path = DEFAULT_WORDNET_DIR) -> dict[str, bytes]:
    """The shipped files (relative path -> bytes), computed from the WordNet files."""
    wn = WordNet.read(wordnet_dir)
    claimed: set[str] = set()
    files: dict[str, bytes] = {}
    index: list[dict[str, object]] = []
    for spec in TASK_SPECS:
        labels, splits = _select(spec, wn, claimed)
        split_info: dict[str, object] = {}
        for split, rows in splits.items():
            name = task_file_name(spec.name, split)
            data = _gzip_jsonl(rows)
            files[name] = data
            split_info[split] = {
                "file": name,
                "num_examples": len(rows),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        index.append(
            {
                "name": spec.name,
                "role": spec.role,
                "description": spec.description,
                "text_column": "text",
                "label_column": "label",
                "labels": labels,
                "splits": split_info,
                "language": ["en"],
                "license": LICENSE,
                "license_name": LICENSE_NAME,
                "license_file": LICENSE_FILE,
                "source": SOURCE,
            }
        )
        logger.info(
            "%s: %d labels, %s",
            spec.name,
            len(labels),
            ", ".join(f"{s}={len(r)}" for s, r in splits.items()),
        )
    text = json.dumps({"format": 1, "tasks": index}, indent=2, ensure_ascii=False) + "\n"
    files[INDEX_NAME] = text.encode("utf-8")
    return files


def build(wordnet_dir: Path = DEFAULT_WORDNET_DIR, output_dir: Path = PACKAGE_DIR) -> list[Path]:
    """Write the task files and ``tasks.json`` under ``output_dir``; returns the paths."""
    written = []
    for name, data in build_files(wordnet_dir).items():
        path = output_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: rebuild (default) or ``--check`` the shipped files."""
    parser = argparse.ArgumentParser(
        prog="python -m registry.data.build_wordnet", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--wordnet-dir", type=Path, default=DEFAULT_WORDNET_DIR)
    parser.add_argument("--output-dir", type=Path, default=PACKAGE_DIR)
    parser.add_argument(
        "--check", action="store_true", help="compare with the files in --output-dir"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.check:
        for path in build(args.wordnet_dir, args.output_dir):
            logger.info("wrote %s (%d bytes)", path, path.stat().st_size)
        return 0
    differ = [
        name
        for name, data in build_files(args.wordnet_dir).items()
        if not (args.output_dir / name).is_file() or (args.output_dir / name).read_bytes() != data
    ]
    for name in differ:
        logger.error("differs: %s", name)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
