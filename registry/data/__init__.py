"""Small text classification tasks made from Debian packages, for offline use.

The suite holds intermediate tasks (ESMs are trained on them) and target tasks (to rank
for), each made from one source: WordNet glosses, fortune cookie quotes, the Jargon File,
FOLDOC, Webster's 1913 dictionary (GCIDE) and V.E.R.A.'s acronyms (see
:mod:`registry.data.sources` and the ``LICENSE-*.txt`` notices). No target text appears in
any intermediate task. Tasks under permissive licenses ship inside the package; the others
(GFDL, GPL) are built on demand from the installed Debian package into
``<esm-registry home>/data`` the first time they are loaded. :mod:`registry.data.build`
rebuilds or checks them byte for byte.

:func:`list_tasks` lists the WordNet tasks by default (the quickstart's one target and
four intermediates); ``source=None`` lists the whole suite.

Every task has a ``text`` column, a string ``label`` column and a ``train`` split (targets
also have ``test``).

Example:
    >>> from registry import data
    >>> "wordnet/noun-supersense" in data.list_tasks(shipped=True)
    True
    >>> info = data.task_info("wordnet/noun-supersense")
    >>> info.text_column, info.label_column, info.language
    ('text', 'label', ('en',))
    >>> rows = data.load_records("wordnet/noun-supersense")
    >>> sorted(rows[0])
    ['label', 'text']
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DatasetError

if TYPE_CHECKING:
    import datasets

__all__ = [
    "DEFAULT_SOURCE",
    "TaskInfo",
    "data_home",
    "is_packaged_task",
    "list_sources",
    "list_tasks",
    "load_records",
    "load_task",
    "task_info",
]

logger = logging.getLogger(__name__)

_INDEX = "tasks.json"
#: The source :func:`list_tasks` lists by default: the quickstart's tasks.
DEFAULT_SOURCE = "wordnet"


@dataclass(frozen=True)
class TaskInfo:
    """What is known about one shipped task; recorded in the metadata of ESMs trained on it.

    Attributes:
        name: Task id, e.g. ``wordnet/noun-supersense`` (used as the ESM's ``task_id``).
        role: ``intermediate`` (ESMs are trained on it) or ``target`` (to rank for).
        description: What the texts and labels are.
        text_column: Name of the text column (``text``).
        label_column: Name of the label column (``label``; string labels).
        labels: The label names, in class-index order (as a ``ClassLabel`` would list them).
        splits: Split name -> number of examples.
        language: Language codes of the texts.
        license: Hub license id of the data (``other`` for WordNet's own license).
        license_name: Name of that license.
        source: Where the texts come from: what they are and the Debian package version.
        source_id: Short name of the source (``wordnet``); task names start with it.
        package: The Debian package the task is built from.
        package_version: Its version when the task was built.
        license_file: The license notice in ``registry/data``.
        shipped: Whether the files ship in the package (else built on demand).
        cap: The size limits the task was drawn with (examples per label, ...).
        rebuild: The command that rebuilds the task.
    """

    name: str
    role: str
    description: str
    text_column: str
    label_column: str
    labels: tuple[str, ...]
    splits: Mapping[str, int]
    language: tuple[str, ...]
    license: str
    license_name: str
    source: str
    source_id: str
    package: str
    package_version: str
    license_file: str
    shipped: bool
    cap: Mapping[str, int | None]
    rebuild: str


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, tuple[TaskInfo, dict[str, Any]]]:
    text = resources.files(__name__).joinpath(_INDEX).read_text(encoding="utf-8")
    tasks: dict[str, tuple[TaskInfo, dict[str, Any]]] = {}
    for entry in json.loads(text)["tasks"]:
        info = TaskInfo(
            name=entry["name"],
            role=entry["role"],
            description=entry["description"],
            text_column=entry["text_column"],
            label_column=entry["label_column"],
            labels=tuple(entry["labels"]),
            splits={split: s["num_examples"] for split, s in entry["splits"].items()},
            language=tuple(entry["language"]),
            license=entry["license"],
            license_name=entry["license_name"],
            source=entry["source"],
            source_id=entry["source_id"],
            package=entry["package"],
            package_version=entry["package_version"],
            license_file=entry["license_file"],
            shipped=entry["shipped"],
            cap=entry["cap"],
            rebuild=entry["rebuild"],
        )
        tasks[info.name] = (info, entry["splits"])
    return tasks


def list_tasks(
    role: str | None = None, source: str | None = None, *, shipped: bool | None = None
) -> list[str]:
    """Names of the tasks of the suite, optionally only those of one role or source.

    Args:
        role: ``"intermediate"`` or ``"target"``; ``None`` lists both.
        source: A source (:func:`list_sources`, e.g. ``wordnet``); ``None``: every source.
        shipped: ``True``: only the tasks whose files ship in the package (usable at once,
            offline); ``False``: only those built on demand from a Debian package.
    """
    return [
        name
        for name, (info, _) in _index().items()
        if (role is None or info.role == role)
        and (source is None or info.source_id == source)
        and (shipped is None or info.shipped == shipped)
    ]


def list_sources() -> list[str]:
    """The sources of the suite, in build order (``wordnet``, ``fortunes``, ...)."""
    return list(dict.fromkeys(info.source_id for info, _ in _index().values()))


def is_packaged_task(name: str) -> bool:
    """Whether ``name`` is a task of this package's suite (shipped or built on demand)."""
    return name in _index()


def data_home() -> Path:
    """Where tasks built on demand live: ``<esm-registry home>/data``."""
    from ..paths import default_home  # noqa: PLC0415 - keeps this module light

    return default_home() / "data"


def task_info(name: str) -> TaskInfo:
    """The description of one task of the suite.

    Raises:
        DatasetError: no task of the suite has this name.
    """
    try:
        return _index()[name][0]
    except KeyError:
        known = ", ".join(_index())
        raise DatasetError(f"no task named {name!r} in esm-registry; its tasks: {known}") from None


def load_records(name: str, split: str = "train") -> list[dict[str, str]]:
    """The examples of one split as a list of ``{"text": ..., "label": ...}`` dicts.

    :func:`load_task` wraps it in a ``datasets.Dataset``. The file's SHA-256 is checked,
    so a damaged install is reported instead of silently training on broken data. A task
    that is not shipped is built first if needed (once, from its Debian package).

    Raises:
        DatasetError: unknown task or split, a file that does not match its checksum, or a
            task built on demand whose Debian package is not installed (the message says
            which one to install).
    """
    info = task_info(name)
    splits = _index()[name][1]
    if split not in splits:
        raise DatasetError(
            f"task {name!r} has no split {split!r}; its splits: {', '.join(info.splits)}"
        )
    entry = splits[split]
    if info.shipped:
        data = resources.files(__name__).joinpath(entry["file"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise DatasetError(
                f"{entry['file']} does not match its checksum in {_INDEX}; reinstall esm-registry"
            )
    else:
        data = _built_on_demand(info, entry)
    rows = [json.loads(line) for line in gzip.decompress(data).decode("utf-8").splitlines()]
    logger.debug("loaded %d examples of %s (%s)", len(rows), name, split)
    return rows


def _built_on_demand(info: TaskInfo, entry: Mapping[str, Any]) -> bytes:
    """The bytes of a split that is not shipped, building its source first if needed."""
    path: Path = data_home() / str(entry["file"])
    if path.is_file():
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() == entry["sha256"]:
            return data
    from .inputs import InputMissingError  # noqa: PLC0415 - only when building
    from .suite import BuildError, build_on_demand  # noqa: PLC0415

    logger.info("building the %s tasks into %s (once)", info.source_id, data_home())
    try:
        build_on_demand(info.source_id, home=data_home())
    except InputMissingError:
        raise DatasetError(
            f"{info.name} is not shipped (license {info.license_name}); it is built on demand "
            f"from the Debian package {info.package}, which is not installed: "
            f"apt-get install {info.package}"
        ) from None
    except BuildError as exc:
        raise DatasetError(f"{info.name} cannot be built here: {exc}") from exc
    return path.read_bytes()


def load_task(name: str, split: str = "train") -> datasets.Dataset:
    """One split of a task as a ``datasets.Dataset`` with ``text`` and ``label``.

    The labels stay strings (as in many Hub datasets); their class order is
    :attr:`TaskInfo.labels`. The dataset's ``info`` carries the description and license.
    A task that is not shipped is built on demand first (see :func:`load_records`).

    Raises:
        DatasetError: unknown task or split, or a task built on demand whose Debian
            package is missing (the message names it).
        ImportError: ``datasets`` is not installed (use :func:`load_records` instead).

    Example:
        >>> ds = load_task("wordnet/noun-example-category", split="test")
        >>> ds.column_names
        ['text', 'label']
    """
    try:
        import datasets  # noqa: PLC0415 - optional heavy dependency
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from .._install import install_command  # noqa: PLC0415

        raise ImportError(
            f"load_task needs the 'datasets' package ({install_command('rank')}); "
            "load_records returns the same examples as plain dicts"
        ) from exc
    info = task_info(name)
    rows = load_records(name, split)
    features = datasets.Features(
        {info.text_column: datasets.Value("string"), info.label_column: datasets.Value("string")}
    )
    dataset_info = datasets.DatasetInfo(
        description=info.description, license=info.license_name, features=features
    )
    return datasets.Dataset.from_dict(
        {
            info.text_column: [row[info.text_column] for row in rows],
            info.label_column: [row[info.label_column] for row in rows],
        },
        features=features,
        info=dataset_info,
        split=datasets.NamedSplit(split),
    )
