"""JSON from strangers: bounded in size and nesting, standard JSON only.

A ``config.json`` is written by whoever published an ESM. Python's parser would recurse
until ``RecursionError`` on a document nested 100,000 levels deep, accept ``NaN`` and
``Infinity`` (not JSON), and read a file of any size; :func:`load_json` refuses all three
with a ``ValueError`` that says which limit was hit, before any value is used.

Example:
    >>> load_json(b'{"esm_embedding_dim": 768}')
    {'esm_embedding_dim': 768}
    >>> load_json(b"[" * 100 + b"]" * 100)
    Traceback (most recent call last):
    ...
    ValueError: JSON nested deeper than 32 levels
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

__all__ = ["MAX_JSON_BYTES", "MAX_JSON_DEPTH", "dump_json", "load_json", "load_json_file"]

#: Largest JSON document read (an hfselect config.json is about 1 KB).
MAX_JSON_BYTES = 1_000_000
#: Deepest nesting of arrays and objects accepted (configs are flat).
MAX_JSON_DEPTH = 32


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check_depth(text: str, max_depth: int) -> None:
    """Refuse nesting deeper than ``max_depth`` in one linear pass (strings skipped)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                raise ValueError(f"JSON nested deeper than {max_depth} levels")
        elif char in "]}":
            depth -= 1


def load_json(
    data: bytes | str, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse standard JSON within the size and nesting limits.

    Raises:
        ValueError: too large, too deep, ``NaN``/``Infinity``, not UTF-8, or not JSON.
    """
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    if size > max_bytes:
        raise ValueError(f"JSON document of {size:,} bytes; at most {max_bytes:,} are read")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"JSON is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    else:
        text = data
    _check_depth(text, max_depth)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ValueError("JSON nested too deeply") from None


def load_json_file(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """:func:`load_json` of a regular file, reading at most ``max_bytes + 1`` bytes.

    Raises:
        OSError: the file cannot be opened.
        ValueError: not a regular file, or what :func:`load_json` refuses.
    """
    target = Path(path)
    if not stat.S_ISREG(target.stat().st_mode):
        raise ValueError(f"{target} is not a regular file")
    with target.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    return load_json(data, max_bytes=max_bytes, max_depth=max_depth)


def dump_json(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that refuses ``NaN`` and infinities instead of writing non-JSON.

    Raises:
        ValueError: ``value`` holds a non-finite float.
    """
    return json.dumps(value, allow_nan=False, **kwargs)
