"""Read the dictionaries that Debian packages for the DICT server (``/usr/share/dictd``).

A dictionary is ``NAME.index`` (one ``headword<TAB>offset<TAB>length`` line per headword,
numbers in base 64) and ``NAME.dict.dz``, a gzip file (dictzip adds random access, which a
plain gzip reader ignores). Several headwords may point at one entry; each entry is read
once, in file order, and the ``00-database-*`` entries (the dictionary's own metadata)
are skipped.
"""

from __future__ import annotations

import gzip
from pathlib import Path

__all__ = ["DICTD_DIR", "decode_number", "read_entries"]

DICTD_DIR = Path("/usr/share/dictd")
_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_VALUE = {ch: i for i, ch in enumerate(_DIGITS)}


def decode_number(text: str) -> int:
    """A dictd index number (base 64, most significant digit first)."""
    value = 0
    for ch in text:
        value = value * 64 + _VALUE[ch]
    return value


def read_entries(directory: Path, name: str) -> list[str]:
    """The entries of one dictionary, in file order, as text (headword line first).

    Bytes that are not UTF-8 (a few old entries are Latin-1) are replaced, so the
    result does not depend on the locale.
    """
    data = gzip.decompress((directory / f"{name}.dict.dz").read_bytes())
    spans: set[tuple[int, int]] = set()
    with (directory / f"{name}.index").open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 3 or fields[0].startswith(("00-database", "00database")):
                continue
            spans.add((decode_number(fields[1]), decode_number(fields[2])))
    return [data[start : start + size].decode("utf-8", "replace") for start, size in sorted(spans)]
