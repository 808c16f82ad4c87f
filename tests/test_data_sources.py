"""The readers of each source, on small samples written like the Debian files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from registry.data import core, dictd
from registry.data.sources import fortunes, gcide, jargon, vera, wordnet
from registry.data.sources.foldoc import parse_senses


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


def test_fortune_files() -> None:
    raw = (
        "Premature optimization is the root of all evil.\n\t\t-- Donald Knuth\n%\n"
        "_\bu_\bn_\bd_\be_\br_\bl_\bi_\bn_\be_\bd words\n  here\n%\n"
        "A critic creates nothing.\n-- he hates all equally.\n\t\t-- Robert Heinlein\n%\n"
        "First one.\n\t\t-- Someone, in a wrapped\n\t\t   attribution\n\nSecond one.\n"
        "\t\t-- Someone\n%\n"
        '"It is so." -- Dennis Ritchie (1941-2011)\n%\nOne line\n-- Mark Twain\n%\n'
    )
    assert fortunes.split_fortunes(raw) == [
        "Premature optimization is the root of all evil.",
        "underlined words here",
        "A critic creates nothing. -- he hates all equally.",
        "First one. Second one.",
        '"It is so."',
        "One line",
    ]


def write_dictd(folder: Path, name: str, entries: list[str]) -> None:
    """A dictd dictionary: base-64 offsets in the index, the text gzipped."""
    body = b""
    lines = []
    for entry in entries:
        encoded = entry.encode("utf-8")
        lines.append(f"{entry.split(chr(10))[0]}\t{b64(len(body))}\t{b64(len(encoded))}")
        body += encoded
    lines.append(f"00-database-short\t{b64(0)}\t{b64(1)}")
    (folder / f"{name}.index").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / f"{name}.dict.dz").write_bytes(gzip.compress(body))


def b64(number: int) -> str:
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    text = ""
    while True:
        number, digit = divmod(number, 64)
        text = digits[digit] + text
        if not number:
            return text


def test_dictd_reader(tmp_path: Path) -> None:
    assert dictd.decode_number("BCy") == 64 * 64 + 2 * 64 + 50
    write_dictd(tmp_path, "d", ["first\n one\n", "second\n two\n"])
    assert dictd.read_entries(tmp_path, "d") == ["first\n one\n", "second\n two\n"]


JARGON_ENTRY = """deadlock
 n.

    1. [techspeak] A situation wherein two or more processes are unable to
    proceed because each is waiting for one of the others. Compare {deadly
    embrace}.

    2. Also used of deadlocked interpersonal situations.

"""


def test_jargon_entries(tmp_path: Path) -> None:
    assert jargon.parse_entry(JARGON_ENTRY) == (
        "n.",
        "A situation wherein two or more processes are unable to proceed because each is "
        "waiting for one of the others.",
    )
    assert jargon.parse_entry("foo\n //\n\n    [common] No part of speech.\n\n") is None
    assert jargon.parse_entry("bar\n n.\n\n    See {baz}.\n\n") is None
    write_dictd(tmp_path, "jargon", [JARGON_ENTRY])
    assert jargon.read_jargon(tmp_path)[0][0] == "n."


def test_foldoc_senses() -> None:
    entry = (
        "backing store\n\n   1. <storage> Computer memory, usually {magnetic disks\n"
        "   (disk.html)}, storing data.  Sections are copied.\n\n"
        "   2. <text, storage> Two subjects.\n\n   3. <jargon> See {foo}.\n\n   (1996-05-28)\n"
    )
    assert parse_senses(entry) == [
        ("storage", "Computer memory, usually magnetic disks, storing data.")
    ]


GCIDE_ENTRY = """Carene \\Ca*rene"\\, n. [LL. carena, corrupted fr. quarentena. See
   {Quarantine}.] (Eccl.)
   A fast of forty days on bread and water. [Obs.]
   [1913 Webster]
"""
GCIDE_SENSES = """Scuffler \\Scuf"fler\\, v. t. [AS. scufan.]
   1. (Naut.) One who scuffles at sea.
      [1913 Webster]

            A quotation that is not a sense. --Shak.
      [1913 Webster]

   2. An implement resembling a scarifier; a {harrow}. --Simmonds.
      [1913 Webster]

   3. A sense taken from WordNet.
      [WordNet 1.5]
"""


def test_gcide_entries() -> None:
    (sense,) = gcide.parse_entry(GCIDE_ENTRY)
    assert sense == gcide.Sense("A fast of forty days on bread and water.", "n.", "Eccl.", "LL")
    first, second = gcide.parse_entry(GCIDE_SENSES)
    assert first == gcide.Sense("One who scuffles at sea.", "v. t.", "Naut.", "AS")
    assert second == gcide.Sense(
        "An implement resembling a scarifier; a harrow.", "v. t.", None, "AS"
    )
    assert gcide.parse_entry("no header here\n   [1913 Webster]\n") == []


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "DNS\n       Domain Name System (Internet, RFC 1034)\n       \n",
            ("Domain Name System", "Internet"),
        ),
        (
            'IA32\n       Intel Architecture - 32 [BIT] (Intel, BIT), "IA-32"\n',
            ("Intel Architecture - 32 BIT", "Intel"),
        ),
        ("CAPP\n       Computer Aided Process Planning\n       \n", None),
    ],
)
def test_vera_entries(entry: str, expected: tuple[str, str] | None) -> None:
    assert vera.parse_entry(entry) == expected
