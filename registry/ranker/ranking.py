"""The result of a ranking: intermediate tasks sorted by their ESM-LogME score.

A :class:`Ranking` is a sequence of :class:`RankedEsm` (best first) plus what did not make
it into the ranking (:attr:`Ranking.skipped`, each with its reason) and notes from the
scoring (e.g. LogME iterations that hit their cap). It prints as a table of the ten best
and exports to pandas, Markdown, JSON and CSV. Flat rows use the ``config.json`` key names
(``task_id``, ``task_subset``, ``text_column``, …), as hfselect and the catalog do.

Example:
    >>> from registry.metadata import EsmMetadata
    >>> meta = EsmMetadata.model_validate(
    ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
    ... )
    >>> ranking = Ranking([RankedEsm(1, -0.5, "alice/esm", None, meta)], base_model="bert")
    >>> ranking[0].task_id, len(ranking)
    ('stanfordnlp/imdb', 1)
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from ..metadata import EsmMetadata, MetadataShortcuts, to_config

if TYPE_CHECKING:
    import pandas

__all__ = ["COLUMNS", "RankedEsm", "Ranking", "SkippedEsm"]

#: The leading columns of every flat row; the ``config.json`` keys of the ESM follow.
COLUMNS: tuple[str, ...] = ("rank", "score", "repo_id", "sha", "converged")
#: Columns of the Markdown table (the full set is in the other exports).
_MARKDOWN_COLUMNS = (
    "rank",
    "score",
    "task_id",
    "task_subset",
    "text_column",
    "label_column",
    "task_split",
    "num_examples",
    "esm_architecture",
    "repo_id",
)
_SHOWN = 10


@dataclass(frozen=True)
class RankedEsm(MetadataShortcuts):
    """One intermediate task in a ranking.

    Attributes:
        rank: 1 for the best score; tied scores get consecutive ranks.
        score: The ESM-LogME score (mean log evidence per example; higher is better).
        repo_id: The ESM's repo (``None`` for an ESM given as an object or a folder).
        sha: The commit the ESM was read at, when known.
        metadata: Everything its ``config.json`` says.
        converged: Whether LogME's fixed-point iteration converged for every target column.
        source: Where the ESM came from (repo id or folder), for messages.
    """

    rank: int
    score: float
    repo_id: str | None
    sha: str | None
    metadata: EsmMetadata
    converged: bool = True
    source: str | None = None

    @property
    def name(self) -> str:
        """The repo id, else the source, else the task (for tables and messages)."""
        return self.repo_id or self.source or self.display_name

    def to_dict(self) -> dict[str, Any]:
        """A flat row: :data:`COLUMNS`, then the ``config.json`` keys of the metadata."""
        row: dict[str, Any] = {
            "rank": self.rank,
            "score": self.score,
            "repo_id": self.repo_id,
            "sha": self.sha,
            "converged": self.converged,
        }
        for key, value in to_config(self.metadata).items():
            row.setdefault(key, value)
        return row


@dataclass(frozen=True)
class SkippedEsm:
    """An ESM left out of the ranking.

    Attributes:
        source: Repo id or folder of the ESM.
        reason: Why (download failed, invalid weights, wrong dimension, scoring failed, …).
    """

    source: str
    reason: str


@dataclass(frozen=True)
class _Info:
    base_model: str
    pooling: str | None
    target: Mapping[str, Any]
    skipped: tuple[SkippedEsm, ...]
    notes: tuple[str, ...]


class Ranking(Sequence[RankedEsm]):
    """Intermediate tasks ordered by ESM-LogME score, best first.

    Args:
        entries: The scored ESMs, in any order; they are sorted by descending score (ties
            by name) and ranked 1, 2, …
        base_model: The base model the target was embedded with.
        pooling: The pooling used for the target's embeddings.
        target: A summary of the target (see :meth:`registry.ranker.target.Target.describe`).
        skipped: ESMs left out, with their reasons.
        notes: Remarks from scoring, e.g. how many LogME iterations did not converge.

    Indexing with an integer gives a :class:`RankedEsm`; a slice gives a :class:`Ranking`
    of those entries that keeps their ranks.
    """

    def __init__(
        self,
        entries: Iterable[RankedEsm],
        *,
        base_model: str,
        pooling: str | None = None,
        target: Mapping[str, Any] | None = None,
        skipped: Iterable[SkippedEsm] = (),
        notes: Iterable[str] = (),
        _presorted: bool = False,
    ) -> None:
        items = list(entries)
        if not _presorted:
            items.sort(key=lambda e: (-_sortable(e.score), e.name))
            items = [
                RankedEsm(rank, e.score, e.repo_id, e.sha, e.metadata, e.converged, e.source)
                for rank, e in enumerate(items, start=1)
            ]
        self._entries = items
        self._info = _Info(base_model, pooling, dict(target or {}), tuple(skipped), tuple(notes))

    # --- sequence ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> RankedEsm: ...
    @overload
    def __getitem__(self, index: slice) -> Ranking: ...
    def __getitem__(self, index: int | slice) -> RankedEsm | Ranking:
        if isinstance(index, slice):
            info = self._info
            return Ranking(
                self._entries[index],
                base_model=info.base_model,
                pooling=info.pooling,
                target=info.target,
                skipped=info.skipped,
                notes=info.notes,
                _presorted=True,
            )
        return self._entries[index]

    def __iter__(self) -> Iterator[RankedEsm]:
        return iter(self._entries)

    # --- what else the ranking knows -----------------------------------------------------------

    @property
    def base_model(self) -> str:
        """The base model the target was embedded with."""
        return self._info.base_model

    @property
    def pooling(self) -> str | None:
        """The pooling of the target's embeddings."""
        return self._info.pooling

    @property
    def target(self) -> dict[str, Any]:
        """A summary of the target (source, columns, sample size, seed, …)."""
        return dict(self._info.target)

    @property
    def skipped(self) -> tuple[SkippedEsm, ...]:
        """ESMs left out of the ranking, with their reasons."""
        return self._info.skipped

    @property
    def notes(self) -> tuple[str, ...]:
        """Remarks from scoring (convergence of LogME, …)."""
        return self._info.notes

    @property
    def scores(self) -> list[float]:
        """The scores, best first."""
        return [e.score for e in self._entries]

    @property
    def repo_ids(self) -> list[str | None]:
        """The repo ids, best first."""
        return [e.repo_id for e in self._entries]

    # --- output -----------------------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"Ranking({len(self)} tasks for {self.base_model!r}"
            f"{f', {len(self.skipped)} skipped' if self.skipped else ''})"
        )

    def __str__(self) -> str:
        return self.to_table(top=_SHOWN)

    def to_table(self, top: int | None = _SHOWN) -> str:
        """A plain-text table of the ``top`` best (all with ``None``), then a summary.

        Example:
            >>> print(Ranking([], base_model="bert").to_table())
            no ESM was ranked for bert
        """
        shown = self._entries if top is None else self._entries[:top]
        lines: list[str] = []
        if shown:
            rows = [("RANK", "SCORE ", "TASK", "ESM")]
            rows += [
                (
                    str(e.rank),
                    _score_text(e.score) + (" " if e.converged else "*"),
                    e.display_name,
                    e.repo_id or e.source or "-",
                )
                for e in shown
            ]
            widths = [max(len(row[i]) for row in rows) for i in range(3)]
            for row in rows:
                cells = [row[0].rjust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2])]
                lines.append("  ".join([*cells, row[3]]).rstrip())
            if len(shown) < len(self._entries):
                lines.append(f"… {len(self._entries) - len(shown)} more")
        else:
            lines.append(f"no ESM was ranked for {self.base_model}")
        if any(not e.converged for e in shown):
            lines.append("* LogME did not converge for this ESM (see notes)")
        if self.skipped:
            lines.append(f"{len(self.skipped)} ESM(s) skipped:")
            lines += [f"  {s.source}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per entry (see :meth:`RankedEsm.to_dict`), best first."""
        return [e.to_dict() for e in self._entries]

    def _columns(self, records: list[dict[str, Any]]) -> list[str]:
        columns = list(COLUMNS)
        for record in records:
            columns += [key for key in record if key not in columns]
        return columns

    def to_pandas(self) -> pandas.DataFrame:
        """A DataFrame with one row per entry, indexed by rank.

        Raises:
            ImportError: pandas is not installed.
        """
        try:
            import pandas as pd  # noqa: PLC0415 - optional dependency
        except ImportError as exc:
            raise ImportError("to_pandas() needs pandas: pip install pandas") from exc
        records = self.to_records()
        frame = pd.DataFrame(records, columns=self._columns(records))
        return frame.set_index("rank")

    def to_markdown(self, top: int | None = None) -> str:
        """A GitHub-flavoured Markdown table (the main columns), ``top`` rows or all."""
        entries = self._entries if top is None else self._entries[:top]
        lines = [
            "| " + " | ".join(_MARKDOWN_COLUMNS) + " |",
            "|"
            + "|".join(
                "---:" if c in ("rank", "score", "num_examples") else "---"
                for c in _MARKDOWN_COLUMNS
            )
            + "|",
        ]
        for entry in entries:
            row = entry.to_dict()
            row["score"] = _score_text(entry.score)
            row["text_column"] = entry.text_column
            cells = [_markdown_cell(row.get(column)) for column in _MARKDOWN_COLUMNS]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def to_json(self, top: int | None = None, *, indent: int | None = 2) -> str:
        """The ranking as JSON: base model, pooling, target, entries, skipped and notes."""
        entries = self._entries if top is None else self._entries[:top]
        payload = {
            "base_model": self.base_model,
            "pooling": self.pooling,
            "target": self._info.target,
            "entries": [_json_ready(e.to_dict()) for e in entries],
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
            "notes": list(self.notes),
        }
        return json.dumps(payload, indent=indent, ensure_ascii=False)

    def to_csv(self, top: int | None = None) -> str:
        """CSV with a header row; list values are joined with commas."""
        records = self.to_records() if top is None else self[:top].to_records()
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self._columns(records), lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({k: _csv_cell(v) for k, v in record.items()})
        return buffer.getvalue()


def _sortable(score: float) -> float:
    return score if math.isfinite(score) else -math.inf


def _score_text(score: float) -> str:
    return f"{score:.6f}"


def _markdown_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else value


def _json_ready(row: dict[str, Any]) -> dict[str, Any]:
    score = row.get("score")
    if isinstance(score, float) and not math.isfinite(score):
        row["score"] = None
    return row
