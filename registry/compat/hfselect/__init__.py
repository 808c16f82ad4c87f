"""hf-dataset-selector 0.2.1 (``hfselect``), on esm-registry: change one import line.

::

    from registry.compat import hfselect        # was: import hfselect

    dataset = hfselect.Dataset.from_hugging_face(
        name="stanfordnlp/imdb", split="train", text_col="text", label_col="label",
        is_regression=False, num_examples=1000, seed=42,
    )
    ranking = hfselect.compute_task_ranking(dataset, model_name="bert-base-multilingual-uncased")
    ranking.to_pandas()                           # "Task ID", "Score", ... indexed by "Rank"

The names, arguments and defaults are hfselect's; the scores are hfselect's within 1e-6,
also for targets with no more examples than dimensions (``rank_correction=True`` gives
the corrected evidence of ``esm-registry rank`` instead). Every function that reads ESMs
also takes ``registry=`` (``"hub"`` by default, a Hub-compatible URL, a local registry
folder, or a store). Not provided: training (``ESMTrainer``, ``EmbeddingDataset``; use
``esm-registry train``) and ``Dataset.save``/``from_disk`` (they pickle).

Importing this module loads nothing heavy; torch, transformers, datasets and pandas are
imported when a function needs them, with a one-line install hint when they are missing.
"""

from __future__ import annotations

from ...esm import FORMAT_VERSION as __version__
from ._config import ESMConfig, InvalidESMConfigError
from ._dataset import Dataset, EmptyDatasetError
from ._esm import ESM, ESMNotInitializedError
from ._hub import fetch_esm_configs, fetch_esms, find_esm_repo_ids, get_esm_coverage
from ._ranking import InvalidTaskRankingError, TaskRanking
from ._scores import NoESMsFoundError, compute_scores, compute_task_ranking

__all__ = [
    "ESM",
    "Dataset",
    "ESMConfig",
    "ESMNotInitializedError",
    "EmptyDatasetError",
    "InvalidESMConfigError",
    "InvalidTaskRankingError",
    "NoESMsFoundError",
    "TaskRanking",
    "__version__",
    "compute_scores",
    "compute_task_ranking",
    "fetch_esm_configs",
    "fetch_esms",
    "find_esm_repo_ids",
    "get_esm_coverage",
]
