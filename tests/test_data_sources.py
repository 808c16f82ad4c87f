"""The readers of each source, on small samples written like the Debian files."""

from __future__ import annotations

from registry.data import core
from registry.data.sources import wordnet


def test_gloss_splitting() -> None:
    definition, examples = wordnet.split_gloss(
        'significant progress (especially in the phrase "make strides"); '
        '"they made big strides in productivity"; "a; b"'
    )
    assert definition == 'significant progress (especially in the phrase "make strides")'
    assert examples == ["they made big strides in productivity", "a; b"]


def test_first_sentence() -> None:
    assert core.first_sentence("One two.  Three four.") == "One two."
    assert core.first_sentence("Made in the U.S. Army since 1950. Next.") == (
        "Made in the U.S. Army since 1950."
    )
    assert core.first_sentence("To mail. \u201cMail me\u201d, he said.") == "To mail."
    assert core.first_sentence("no end") == "no end"


def test_select_balances_caps_and_claims() -> None:
    spec: core.TaskSpec[list[core.Candidate]] = core.TaskSpec(
        name="t/x",
        role="target",
        description="",
        candidates=lambda rows: rows,
        per_label=2,
        test_per_label=1,
        min_per_label=3,
        max_words=5,
    )
    rows = [(f"a text number {i}", "a") for i in range(5)]
    rows += [(f"b text number {i}", "b") for i in range(3)]
    rows += [("c text number 0", "c"), ("too short", "a"), ("far too long a text here", "b")]
    rows += [("both labels here", "a"), ("both labels here", "b")]
    claimed = {"a text number 4"}
    labels, splits = core.select(spec, rows, claimed)
    assert labels == ["a", "b"]  # c has too few examples
    assert [len(splits["train"]), len(splits["test"])] == [4, 2]
    texts = {t for rows_ in splits.values() for t, _ in rows_}
    assert "a text number 4" not in texts and "both labels here" not in texts
    assert texts <= claimed
    assert core.select(spec, rows, set()) == core.select(spec, list(reversed(rows)), set())


def test_gzip_files_do_not_depend_on_time() -> None:
    data = core.gzip_jsonl([("a b c", "x")])
    assert data[3:8] == b"\0\0\0\0\0"
    assert core.read_jsonl_gz(data) == [{"text": "a b c", "label": "x"}]
