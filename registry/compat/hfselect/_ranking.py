"""``TaskRanking``: the result of ``compute_task_ranking``, shaped exactly as hfselect's.

Same constructor, the same sort (by score, best first; ``NaN`` scores dropped), the same
``str()`` (the top 10, ``"1.   <task id padded to 50>Score: <rounded to 6>"``), ``repr()``
(every row, unrounded), indexing (an ``int`` or a slice gives a ``TaskRanking``) and the
same ``to_pandas()`` columns, indexed by ``"Rank"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from ...errors import UsageError
from ._config import ESMConfig
from ._extras import import_extra

if TYPE_CHECKING:
    import pandas

    from ...ranker import Ranking

__all__ = ["InvalidTaskRankingError", "TaskRanking"]

_SHOWN = 10
_DIGITS = 6


class InvalidTaskRankingError(UsageError):
    """The ranking is empty, or its configs, scores and ranks differ in number."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "The task ranking is invalid.")


class TaskRanking(Sequence["TaskRanking"]):
    """Intermediate tasks (their ESM configs) ranked by ESM-LogME score, best first.

    Args:
        esm_configs: The configs of the ranked ESMs.
        scores: Their scores, in the same order; ``NaN`` marks an ESM that failed and is
            left out.
        ranks: Ranks to keep (when slicing a ranking); default 1, 2, ... after sorting.

    Raises:
        InvalidTaskRankingError: nothing left to rank, or the lengths differ.
    """

    def __init__(
        self,
        esm_configs: list[ESMConfig],
        scores: list[float],
        ranks: list[int] | None = None,
    ) -> None:
        keep = [i for i, score in enumerate(scores) if not math.isnan(score)]
        if len(esm_configs) != len(scores):
            raise InvalidTaskRankingError(
                f"Task ranking contains {len(esm_configs)} ESM configs but {len(scores)} scores."
            )
        if ranks is not None and len(ranks) != len(scores):
            raise InvalidTaskRankingError(
                f"Task ranking contains {len(esm_configs)} ESM configs but {len(ranks)} "
                "provided ranks."
            )
        configs = [esm_configs[i] for i in keep]
        kept = [float(scores[i]) for i in keep]
        if not configs:
            raise InvalidTaskRankingError("Task ranking is empty.")
        # Descending, with ties in hfselect's order (its sort, reversed).
        order = [int(i) for i in np.argsort(kept)[::-1]]
        self.esm_configs: list[ESMConfig] = [configs[i] for i in order]
        self.scores: list[float] = [kept[i] for i in order]
        if ranks is None:
            self.ranks: list[int] = list(range(1, len(order) + 1))
        else:
            kept_ranks = [ranks[i] for i in keep]
            self.ranks = [kept_ranks[i] for i in order]

    @classmethod
    def from_ranking(cls, ranking: Ranking) -> TaskRanking:
        """An esm-registry :class:`~registry.ranker.Ranking`, presented as hfselect does."""
        configs = [ESMConfig.from_metadata(entry.metadata) for entry in ranking]
        return cls(configs, [entry.score for entry in ranking])

    # --- sequence -----------------------------------------------------------------------------

    @overload
    def __getitem__(self, index: int) -> TaskRanking: ...
    @overload
    def __getitem__(self, index: slice) -> TaskRanking: ...
    def __getitem__(self, index: int | slice) -> TaskRanking:
        if isinstance(index, int):
            return TaskRanking([self.esm_configs[index]], [self.scores[index]], [self.ranks[index]])
        if isinstance(index, slice):
            return TaskRanking(self.esm_configs[index], self.scores[index], self.ranks[index])
        raise TypeError(f"TaskRanking could not be indexed with a type {type(index)}.")

    def __len__(self) -> int:
        return len(self.esm_configs)

    # --- output ----------------------------------------------------------------------------------

    def _lines(self, digits: int | None = None) -> list[str]:
        lines = []
        for rank, config, score in zip(self.ranks, self.esm_configs, self.scores, strict=True):
            shown = round(score, digits) if digits else score
            lines.append(f"{f'{rank}.':<5}{config.task_id!s:<50}Score: {shown}")
        return lines

    def __repr__(self) -> str:
        return "\n".join(self._lines())

    def __str__(self) -> str:
        top = "\n".join(self[:_SHOWN]._lines(_DIGITS))
        return top + ("\n..." if len(self) > _SHOWN else "")

    def to_pandas(self) -> pandas.DataFrame:
        """One row per task, indexed by ``Rank``, with hfselect's column names.

        Raises:
            MissingExtraError: pandas is not installed.
        """
        pd: Any = import_extra("pandas", "TaskRanking.to_pandas()")
        configs = self.esm_configs
        frame = pd.DataFrame.from_dict(
            {
                "Rank": self.ranks,
                "Task ID": [c.task_id for c in configs],
                "Task Subset": [c.task_subset for c in configs],
                "Text Column": [c.text_column for c in configs],
                "Label Column": [c.label_column for c in configs],
                "Task Split": [c.task_split for c in configs],
                "Num Examples": [c.num_examples for c in configs],
                "ESM Architecture": [c.esm_architecture for c in configs],
                "Score": self.scores,
            }
        )
        result: pandas.DataFrame = frame.set_index("Rank")
        return result
