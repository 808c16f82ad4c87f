"""Files that are never half-written: write under a temporary name, flush, rename.

Readers see the old content or the new one, never a mix, and a power loss cannot undo a
rename whose folder was flushed. Every module that replaces a file goes through here.

A target that exists and is not a regular file (``/dev/null``, a FIFO, a terminal) is
written to directly: renaming over it would replace the device with a file.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "card.md"
    >>> atomic_write(path, "hello")
    >>> path.read_text()
    'hello'
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_output", "atomic_write", "fsync_path", "is_special", "temporary_sibling"]


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a file or folder to disk; best effort (some platforms cannot open folders)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def is_special(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` exists and is not a regular file or folder (a device, FIFO, …)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def temporary_sibling(path: Path) -> Path:
    """A hidden, unique name next to ``path`` (same folder, so a rename is atomic)."""
    return path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` in one rename.

    For writers that want a file name (pyarrow, safetensors). On error the temporary file
    is removed and ``path`` is left as it was.
    """
    target = Path(path)
    if is_special(target):  # /dev/null, a FIFO: write through, never rename over it
        yield target
        return
    temporary = temporary_sibling(target)
    try:
        yield temporary
        fsync_path(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_path(target.parent)


def atomic_write(path: str | os.PathLike[str], content: bytes | str) -> None:
    """Replace ``path`` with ``content`` (text is written as UTF-8) in one rename."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    with (
        atomic_output(path) as temporary,
        temporary.open("wb" if is_special(temporary) else "xb") as handle,
    ):
        handle.write(data)
