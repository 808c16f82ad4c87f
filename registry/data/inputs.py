"""What a build read: the Debian package, its version, and the SHA-256 of its files.

The task files are a function of the installed input, and inputs differ between machines
(another Debian release, a newer package). The SHA-256 of the files read is recorded in
``tasks.json``, so that a check can tell "the builder changed its output" (a bug) from
"this machine has another input" (nothing to compare). The package version is recorded
for people; the digest decides.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DPKG_STATUS", "InputIdentity", "InputMissingError", "identify", "installed_version"]

DPKG_STATUS = Path("/var/lib/dpkg/status")


class InputMissingError(FileNotFoundError):
    """The files a source reads are not installed."""


@dataclass(frozen=True)
class InputIdentity:
    """The installed input of one source."""

    package: str
    version: str  # "unknown" where dpkg does not know the package
    sha256: str  # over the names and digests of the files, in order


def installed_version(package: str, status: Path = DPKG_STATUS) -> str:
    """The version of an installed Debian package, or ``"unknown"``."""
    try:
        text = status.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "unknown"
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            name, sep, value = line.partition(":")
            if sep and not line.startswith((" ", "\t")):
                fields[name] = value.strip()
        if fields.get("Package") == package and fields.get("Status", "").endswith(" installed"):
            return fields.get("Version", "unknown")
    return "unknown"


def identify(package: str, input_dir: Path, files: tuple[str, ...]) -> InputIdentity:
    """Hash the input files of a source.

    Raises:
        InputMissingError: a file is missing; the message says what to install.
    """
    missing = [name for name in files if not (input_dir / name).is_file()]
    if missing:
        raise InputMissingError(
            f"{input_dir} lacks {', '.join(missing)}: install the Debian package {package} "
            f"(apt-get install {package})"
        )
    digest = hashlib.sha256()
    for name in files:
        file_digest = hashlib.sha256((input_dir / name).read_bytes()).hexdigest()
        digest.update(f"{name}\0{file_digest}\n".encode())
    return InputIdentity(package, installed_version(package), digest.hexdigest())
