"""Build, check and index the whole task suite: every source of :mod:`.sources`, in order.

``tasks.json`` records each source's input (package, version, SHA-256 of the files read)
and each task's files with their SHA-256. Shipped sources write their files into the
package; the others are built on demand into ``<esm-registry home>/data``, and only their
index entries ship. Rebuilding one source keeps the other sources' entries as they are.

Two rules keep the texts of different tasks apart:

* within a source, and from one shipped source to the next, a text claimed by an earlier
  task is never used again (targets claim first);
* a source built on demand avoids every shipped text; whether it shares a text with
  another source built on demand is checked after a build (which then fails).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write
from .core import Source, gzip_jsonl, read_jsonl_gz, select, task_file_name, text_key
from .inputs import InputIdentity, InputMissingError, identify
from .sources import SOURCES, source_named

__all__ = [
    "INDEX_FORMAT",
    "INDEX_NAME",
    "PACKAGE_DIR",
    "BuildError",
    "BuiltSource",
    "CheckResult",
    "InputChangedError",
    "Status",
    "build",
    "build_on_demand",
    "build_source",
    "check",
    "rebuild_command",
]

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
INDEX_NAME = "tasks.json"
INDEX_FORMAT = 2

Texts = dict[str, dict[str, list[str]]]  # task -> split -> texts


class BuildError(RuntimeError):
    """The suite cannot be built as asked (overlapping tasks, missing earlier sources)."""


class InputChangedError(BuildError):
    """The installed input differs from the one ``tasks.json`` was built from."""


class Status(enum.Enum):
    """Outcome of checking one source, worst last."""

    SAME = "same"
    INPUT_MISSING = "input missing"
    OTHER_INPUT = "other input"
    DIFFERS = "differs"


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check` found for one source."""

    source: str
    status: Status
    detail: str


@dataclass(frozen=True)
class BuiltSource:
    """The files and index entries of one source, built in memory."""

    source: Source[Any]
    identity: InputIdentity
    files: dict[str, bytes]  # path relative to the data folder -> bytes
    texts: Texts
    record: dict[str, Any]  # the source's entry in the index
    entries: list[dict[str, Any]]  # its tasks' entries


def rebuild_command(source: str) -> str:
    """The command that rebuilds one source's tasks."""
    return f"python -m registry.data.build --source {source}"


# --- building one source ------------------------------------------------------------------


def _task_entry(
    source: Source[Any],
    identity: InputIdentity,
    spec_index: int,
    labels: list[str],
    splits: dict[str, dict[str, object]],
) -> dict[str, Any]:
    spec = source.tasks[spec_index]
    return {
        "name": spec.name,
        "role": spec.role,
        "description": spec.description,
        "text_column": "text",
        "label_column": "label",
        "labels": labels,
        "splits": splits,
        "language": list(source.language),
        "license": source.license,
        "license_name": source.license_name,
        "license_file": source.license_file,
        "source": f"{source.title}, Debian package {source.package} {identity.version}",
        "source_id": source.name,
        "package": source.package,
        "package_version": identity.version,
        "shipped": source.shipped,
        "cap": spec.cap(),
        "rebuild": rebuild_command(source.name),
    }


def _source_record(source: Source[Any], identity: InputIdentity) -> dict[str, Any]:
    return {
        "name": source.name,
        "title": source.title,
        "package": source.package,
        "version": identity.version,
        "input_dir": str(source.input_dir),
        "input_files": list(source.input_files),
        "input_sha256": identity.sha256,
        "license": source.license,
        "license_name": source.license_name,
        "license_file": source.license_file,
        "shipped": source.shipped,
        "rebuild": rebuild_command(source.name),
    }


def build_source(
    source: Source[Any], identity: InputIdentity, claimed: set[str], input_dir: Path | None = None
) -> BuiltSource:
    """Read the input of one source and make its tasks; adds their texts to ``claimed``."""
    data = source.read(input_dir or source.input_dir)
    files: dict[str, bytes] = {}
    texts: Texts = {}
    entries = []
    for number, spec in enumerate(source.tasks):
        labels, splits = select(spec, spec.candidates(data), claimed)
        split_info: dict[str, dict[str, object]] = {}
        for split, rows in splits.items():
            name = task_file_name(spec.name, split)
            files[name] = gzip_jsonl(rows)
            split_info[split] = {
                "file": name,
                "num_examples": len(rows),
                "sha256": hashlib.sha256(files[name]).hexdigest(),
            }
        texts[spec.name] = {split: [text for text, _ in rows] for split, rows in splits.items()}
        entries.append(_task_entry(source, identity, number, labels, split_info))
        logger.info(
            "%s: %d labels, %s",
            spec.name,
            len(labels),
            ", ".join(f"{s}={len(r)}" for s, r in splits.items()),
        )
    return BuiltSource(source, identity, files, texts, _source_record(source, identity), entries)


# --- the index ----------------------------------------------------------------------------


def read_index(directory: Path = PACKAGE_DIR) -> dict[str, Any]:
    """``tasks.json`` under ``directory`` (empty if there is none, or of another format)."""
    path = directory / INDEX_NAME
    index: dict[str, Any] = {"format": INDEX_FORMAT, "sources": [], "tasks": []}
    if path.is_file():
        found = json.loads(path.read_text(encoding="utf-8"))
        if found.get("format") == INDEX_FORMAT:  # an older format is rebuilt from scratch
            index = found
    return index


def dump_index(index: dict[str, Any]) -> bytes:
    """The bytes of ``tasks.json``."""
    return (json.dumps(index, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def merge_index(index: dict[str, Any], built: Iterable[BuiltSource]) -> dict[str, Any]:
    """``index`` with the records and tasks of the ``built`` sources replaced."""
    records = {r["name"]: r for r in index.get("sources", [])}
    tasks: dict[str, list[dict[str, Any]]] = {}
    for entry in index.get("tasks", []):
        tasks.setdefault(entry["source_id"], []).append(entry)
    for item in built:
        records[item.source.name] = item.record
        tasks[item.source.name] = item.entries
    order = [s.name for s in SOURCES if s.name in records]
    return {
        "format": INDEX_FORMAT,
        "sources": [records[name] for name in order],
        "tasks": [entry for name in order for entry in tasks.get(name, [])],
    }


def _record(index: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((r for r in index.get("sources", []) if r["name"] == name), None)


def _entries(index: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in index.get("tasks", []) if e["source_id"] == name]


def _read_texts(entries: list[dict[str, Any]], directory: Path) -> Texts | None:
    """The texts of some tasks, read from their files; ``None`` if a file is off."""
    texts: Texts = {}
    for entry in entries:
        texts[entry["name"]] = {}
        for split, info in entry["splits"].items():
            path = directory / info["file"]
            if not path.is_file():
                return None
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != info["sha256"]:
                return None
            texts[entry["name"]][split] = [row["text"] for row in read_jsonl_gz(data)]
    return texts


def _keys(texts: Texts) -> set[str]:
    return {text_key(t) for splits in texts.values() for items in splits.values() for t in items}


def _claimed_before(
    source: Source[Any], index: dict[str, Any], package_dir: Path, fresh: dict[str, BuiltSource]
) -> set[str]:
    """The texts of the shipped tasks of the sources before ``source``."""
    claimed: set[str] = set()
    for earlier in SOURCES:
        if earlier.name == source.name:
            break
        if not earlier.shipped:
            continue
        entries = _entries(index, earlier.name)
        texts = (
            fresh[earlier.name].texts
            if earlier.name in fresh
            else _read_texts(entries, package_dir)
            if entries
            else None
        )
        if texts is None:
            raise BuildError(
                f"{source.name} avoids the texts of {earlier.name}, whose shipped files are "
                f"missing or damaged: rebuild it first ({rebuild_command(earlier.name)})"
            )
        claimed.update(_keys(texts))
    return claimed


def _check_disjoint(texts: Texts) -> None:
    """Fail when a text is in two tasks, or in two splits of one task."""
    seen: dict[str, str] = {}
    problems = []
    for task, splits in texts.items():
        for split, items in splits.items():
            for text in items:
                where = f"{task} ({split})"
                first = seen.setdefault(text_key(text), where)
                if first != where:
                    problems.append(f"{text!r} is in {first} and in {where}")
    if problems:
        raise BuildError(
            f"{len(problems)} texts are shared between tasks: "
            + "; ".join(problems[:5])
            + ". A source avoids the texts of the shipped sources before it: after changing "
            "one, rebuild the ones after it too (python -m registry.data.build)"
        )


# --- the commands -------------------------------------------------------------------------


def _selected(names: Sequence[str] | None) -> list[Source[Any]]:
    if not names:
        return list(SOURCES)
    wanted = {source_named(name).name for name in names}
    return [s for s in SOURCES if s.name in wanted]


def _default_home() -> Path:
    from . import data_home  # noqa: PLC0415 - the loader owns the location

    return data_home()


def build(
    names: Sequence[str] | None = None,
    *,
    package_dir: Path = PACKAGE_DIR,
    home: Path | None = None,
    input_dir: Path | None = None,
) -> list[Path]:
    """Rebuild some sources (all by default) and write their files and ``tasks.json``.

    Shipped tasks go to ``package_dir``, the others to ``home`` (default: the data folder
    of the esm-registry home). Returns the paths written.

    Raises:
        InputMissingError: a source's Debian package is not installed.
        BuildError: two tasks would share a text, or an earlier source is not built.
    """
    index = read_index(package_dir)
    fresh: dict[str, BuiltSource] = {}
    for source in _selected(names):
        identity = identify(source.package, input_dir or source.input_dir, source.input_files)
        claimed = _claimed_before(source, index, package_dir, fresh)
        fresh[source.name] = build_source(source, identity, claimed, input_dir)
    merged = merge_index(index, fresh.values())
    home = home or _default_home()
    texts: Texts = {}
    for source in SOURCES:
        if source.name in fresh:
            texts.update(fresh[source.name].texts)
        else:  # what is in hand: the shipped files, and valid builds in the home
            where = package_dir if source.shipped else home
            texts.update(_read_texts(_entries(merged, source.name), where) or {})
    _check_disjoint(texts)
    written = []
    for item in fresh.values():
        target = package_dir if item.source.shipped else home
        for name, data in item.files.items():
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data)
            written.append(path)
    atomic_write(package_dir / INDEX_NAME, dump_index(merged))
    written.append(package_dir / INDEX_NAME)
    return written


def _same_input(source: Source[Any], record: dict[str, Any], input_dir: Path) -> InputIdentity:
    """The installed input, with the recorded version when the files are the same.

    Raises:
        InputMissingError: the package is not installed.
        InputChangedError: its files differ from the recorded ones.
    """
    identity = identify(source.package, input_dir, source.input_files)
    if identity.sha256 != record["input_sha256"]:
        raise InputChangedError(
            f"{source.name}: tasks.json was built from {source.package} {record['version']} "
            f"(input sha256 {record['input_sha256'][:12]}), this machine has "
            f"{identity.version} (input sha256 {identity.sha256[:12]}); the rebuild cannot "
            f"be compared. To adopt this input: {rebuild_command(source.name)}"
        )
    return dataclasses.replace(identity, version=record["version"])


def check(
    names: Sequence[str] | None = None,
    *,
    package_dir: Path = PACKAGE_DIR,
    input_dir: Path | None = None,
) -> list[CheckResult]:
    """Rebuild some sources (all by default) in memory and compare with what is recorded.

    Shipped files are compared byte for byte, the files built on demand by their SHA-256
    in ``tasks.json`` (which is compared byte for byte too).
    """
    index = read_index(package_dir)
    shipped_index = (package_dir / INDEX_NAME).read_bytes()
    results = []
    for source in _selected(names):
        record = _record(index, source.name)
        try:
            if record is None:
                raise BuildError(f"{source.name} is not in {INDEX_NAME}")
            identity = _same_input(source, record, input_dir or source.input_dir)
            claimed = _claimed_before(source, index, package_dir, {})
        except InputMissingError as exc:
            detail = f"{source.name}: not checked, {exc}"
            results.append(CheckResult(source.name, Status.INPUT_MISSING, detail))
            continue
        except InputChangedError as exc:
            results.append(CheckResult(source.name, Status.OTHER_INPUT, str(exc)))
            continue
        except BuildError as exc:
            results.append(CheckResult(source.name, Status.DIFFERS, str(exc)))
            continue
        built = build_source(source, identity, claimed, input_dir)
        differ = []
        if source.shipped:
            differ = [
                name
                for name, data in built.files.items()
                if not (package_dir / name).is_file() or (package_dir / name).read_bytes() != data
            ]
        if dump_index(merge_index(index, [built])) != shipped_index:
            differ.append(INDEX_NAME)
        if differ:
            results.append(
                CheckResult(
                    source.name,
                    Status.DIFFERS,
                    f"{source.name}: the same input gives other files: {', '.join(differ)}; "
                    f"rebuild with {rebuild_command(source.name)}",
                )
            )
        else:
            results.append(
                CheckResult(
                    source.name,
                    Status.SAME,
                    f"{source.name}: rebuilds byte for byte from "
                    f"{source.package} {identity.version}",
                )
            )
    return results


def build_on_demand(
    name: str, *, package_dir: Path = PACKAGE_DIR, home: Path | None = None
) -> list[Path]:
    """Build the tasks of a source that is not shipped into ``home``, as recorded.

    Raises:
        InputMissingError: its Debian package is not installed.
        InputChangedError: the installed package differs from the recorded one.
        BuildError: the rebuild does not match the recorded checksums.
    """
    source = source_named(name)
    index = read_index(package_dir)
    record = _record(index, source.name)
    if record is None:
        raise BuildError(f"{source.name} is not in {INDEX_NAME}")
    identity = _same_input(source, record, source.input_dir)
    built = build_source(source, identity, _claimed_before(source, index, package_dir, {}))
    expected = {
        info["file"]: info["sha256"]
        for entry in _entries(index, source.name)
        for info in entry["splits"].values()
    }
    got = {file: hashlib.sha256(data).hexdigest() for file, data in built.files.items()}
    if got != expected:
        raise BuildError(
            f"the rebuild of {source.name} from the recorded input does not match "
            f"{INDEX_NAME}; please report this"
        )
    home = home or _default_home()
    written = []
    for file, data in built.files.items():
        path = home / file
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
        written.append(path)
    logger.info("built %s into %s", ", ".join(e["name"] for e in built.entries), home)
    return written
