"""Tokens never reach output: one list of the secrets in play, and one redaction.

The Hub store redacts its own messages; the command line redacts everything it prints
and logs (client debug lines and logged tracebacks included), so that a server echoing
a token back, or a stack frame showing one, cannot leak it at any verbosity.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

from huggingface_hub import get_token

__all__ = ["REDACTED", "known_tokens", "redact"]

REDACTED = "***"
#: Shorter strings are not treated as secrets (they would mangle ordinary text).
_MIN_SECRET = 8


def known_tokens() -> list[str]:
    """Hub tokens this process may send: ``HF_TOKEN`` and the saved login.

    The saved token is read with huggingface_hub's public ``get_token`` (no request).
    """
    found = [os.environ.get(name, "") for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")]
    with contextlib.suppress(Exception):  # redaction must never fail what it protects
        found.append(get_token() or "")
    return [token.strip() for token in found if len(token.strip()) >= _MIN_SECRET]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret (and every known token) replaced by ``***``."""
    for secret in {*secrets, *known_tokens()}:
        if len(secret) >= _MIN_SECRET:
            text = text.replace(secret, REDACTED)
    return text
