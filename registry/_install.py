"""How to install esm-registry and its extras: one place for the hints that name an install.

Cards, error messages and the README tell people what to ``pip install``. Until the package
is on the Python Package Index, only an install from the repository works, so every hint
is built here from the repository URL that ``pyproject.toml`` declares
(``[project.urls] Repository``), read from the installed distribution's metadata.

Example:
    >>> install_command("rank").startswith('pip install "esm-registry[rank] @ git+https://')
    True
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from typing import Final

from .errors import MissingExtraError

__all__ = [
    "DISTRIBUTION",
    "EXTRAS",
    "ON_PACKAGE_INDEX",
    "extra_of_module",
    "install_command",
    "missing_extra_error",
    "missing_modules",
    "repository_url",
    "require_extra",
]

DISTRIBUTION: Final = "esm-registry"
#: True once a release is on the Python Package Index; hints then name the plain install.
ON_PACKAGE_INDEX: Final = False
#: The ``Repository`` URL of ``pyproject.toml``, for checkouts whose metadata lacks it (a
#: test keeps the two equal).
FALLBACK_REPOSITORY: Final = "https://github.com/esm-registry/esm-registry"
#: The optional extras and the top-level modules each one brings.
EXTRAS: Final[Mapping[str, tuple[str, ...]]] = {
    "rank": ("torch", "transformers", "datasets", "pandas"),
    "catalog": ("pyarrow",),
}
_EXTRA_PURPOSE: Final = {"rank": "ranking", "catalog": "catalog"}


@cache
def repository_url() -> str:
    """The project's repository, from the installed metadata (else the known URL)."""
    try:
        urls: list[str] = metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        url = url.strip()
        if label.strip().lower() in ("repository", "source") and url.startswith("https://"):
            return url.rstrip("/")
    return FALLBACK_REPOSITORY


def install_command(extra: str | None = None) -> str:
    """The ``pip install`` line that installs esm-registry (with ``extra``) today.

    Args:
        extra: An optional extra (``rank``, ``catalog``), or ``None`` for the light core.
    """
    name = f"{DISTRIBUTION}[{extra}]" if extra else DISTRIBUTION
    if ON_PACKAGE_INDEX:
        return f'pip install "{name}"'
    return f'pip install "{name} @ git+{repository_url()}"'


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (none: the extra is there)."""
    missing = []
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken install, or a None in sys.modules
            found = False
        if not found:
            missing.append(module)
    return missing


def extra_of_module(module: str) -> str | None:
    """The extra that brings the top-level ``module``, if one does."""
    top = module.split(".", maxsplit=1)[0]
    return next((extra for extra, modules in EXTRAS.items() if top in modules), None)


def require_extra(extra: str, what: str) -> None:
    """Raise a one-line install hint when a module of ``extra`` is missing.

    Args:
        extra: The extra ``what`` needs.
        what: What needs it, for the message (e.g. ``'rank'``).

    Raises:
        MissingExtraError: a module of the extra cannot be imported.
    """
    missing = missing_modules(extra)
    if missing:
        raise missing_extra_error(extra, what, missing[0])


def missing_extra_error(extra: str, what: str, module: str) -> MissingExtraError:
    """The error that says ``what`` needs ``extra`` (``module`` is missing) and how to get it."""
    purpose = _EXTRA_PURPOSE.get(extra, extra)
    return MissingExtraError(
        f"{what} needs the {purpose} extra ({module} is not installed): {install_command(extra)}",
        extra=extra,
        name=module,
    )
