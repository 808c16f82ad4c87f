"""Where the shipped card templates and JSON Schema are, installed or in a source checkout.

In a wheel they sit in ``registry/_data``; in a source checkout (editable install, tests)
they are the top-level ``templates/`` and ``metadata/`` folders.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_TEMPLATE", "data_dir"]

_PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_TEMPLATE = "esm_card.md.j2"


def data_dir(name: str) -> Path:
    """The folder ``templates`` or ``metadata`` that ships with this installation."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"esm-registry is installed without its '{name}' folder")
