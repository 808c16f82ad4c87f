"""WordNet 3.0 glosses (Debian package ``wordnet-base``): the quickstart's five tasks.

Definitions and the example sentences quoted in them, labelled with what WordNet records
about the word: its supersense (lexicographer file), its part of speech, the cluster of a
satellite adjective, and the broad category of a noun. The target's texts (example
sentences of nouns) are claimed first, so no intermediate task uses them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..core import Candidate, Source, TaskSpec, clean

__all__ = ["SOURCE", "WordNet", "split_gloss"]

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
            examples.append(clean(segment[1 : segment.index('"', 1)]))
        else:
            definition.append(clean(segment))
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
        """Parse the four ``data.*`` files under ``wordnet_dir``."""
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


# --- tasks --------------------------------------------------------------------------------


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
TASKS: tuple[TaskSpec[WordNet], ...] = (
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


SOURCE: Source[WordNet] = Source(
    name="wordnet",
    title="WordNet 3.0 (Princeton University)",
    package="wordnet-base",
    input_dir=Path("/usr/share/wordnet"),
    input_files=tuple(sorted(_POS_FILES.values())),
    read=WordNet.read,
    tasks=TASKS,
    license="other",
    license_name="wordnet-3.0",
    license_file="LICENSE-WordNet.txt",
    shipped=True,
)
