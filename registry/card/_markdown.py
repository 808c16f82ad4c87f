"""Markdown escaping that keeps a card's structure intact whatever the field values hold.

Single-line values are escaped so that they render literally (no emphasis, links or HTML)
and :func:`unescape_inline` gives the exact value back. Free-text sections stay Markdown,
but lines that would open a heading, a field line, a setext underline, an HTML block or an
unbalanced code fence are neutralised, so that a description cannot fake or hide a field.
"""

from __future__ import annotations

import re

__all__ = ["escape_inline", "fence_marker", "neutralize_block", "unescape_inline"]

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can
# start markup inside a line.
_INLINE_SPECIALS = re.compile(r"[\\`*\[\]<>&|~!#]|_(?![A-Za-z0-9])|(?<![A-Za-z0-9])_")
_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_STRUCTURAL_LINE = re.compile(
    r" {0,3}(?:#|[-*+]\s+\*\*|[-*+]\s*$|=+\s*$|-+\s*$|-{3}|={3}|\*{3,}\s*$|_{3,}\s*$|MSE:|<|>)"
)


def escape_inline(value: str) -> str:
    """Escape a single-line value so Markdown shows it verbatim."""
    return _INLINE_SPECIALS.sub(lambda m: "\\" + m.group(0), value)


def unescape_inline(value: str) -> str:
    """Invert :func:`escape_inline` (and any other CommonMark backslash escape)."""
    return _UNESCAPE.sub(r"\1", value)


def fence_marker(line: str) -> str | None:
    """The fence characters when ``line`` opens or closes a fenced code block."""
    match = _FENCE.match(line)
    return match.group(1)[0] * 3 if match else None


def neutralize_block(text: str) -> str:
    """Render free text as Markdown that cannot break the surrounding card.

    Balanced fenced code blocks are kept as they are; outside them, structural lines get a
    leading backslash and ``<`` becomes ``&lt;`` so raw HTML cannot hide the rest of the card.
    """
    lines = text.split("\n")
    fences = [i for i, line in enumerate(lines) if fence_marker(line)]
    keep_fences = len(fences) % 2 == 0
    out: list[str] = []
    in_fence = False
    for line in lines:
        marker = fence_marker(line)
        if marker and keep_fences:
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        line = line.replace("<", "&lt;")
        if marker or _STRUCTURAL_LINE.match(line):
            stripped = line.lstrip(" ")
            line = line[: len(line) - len(stripped)] + "\\" + stripped
        out.append(line)
    return "\n".join(out)
