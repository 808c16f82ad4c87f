"""``compute_scores`` and ``compute_task_ranking``: hfselect's ESM-LogME, computed faster.

By default the scores are hfselect 0.2.1's (within rounding, 1e-6): the same embeddings
(hfselect's pooling, texts truncated to 128 tokens), the same labels (integer labels
scored as ``range(max + 1)`` classes) and the same LogME value, also with no more examples
than dimensions, where hfselect leaves out part of the prior's determinant;
``rank_correction=True`` reports the corrected evidence instead (as ``esm-registry rank``
does). What is faster: batches are padded to their longest text rather than to 128
tokens, embeddings are cached, ESMs are downloaded in parallel, and linear ESMs are scored
from one factorisation of the target instead of one SVD of ``N x D`` features each.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..._progress import progress_bar
from ...embedding import Embedder
from ...embedding.pooling import pooled_output, pooling_rule
from ...errors import NoEsmsFoundError, UsageError
from ...esm import Esm
from ...ranker.backends import BackendName
from ...ranker.scoring import TargetStatistics, logme, score_linear_stream
from ...stores import RegistryStore
from ._dataset import Dataset
from ._esm import ESM
from ._extras import import_extra
from ._hub import fetch_esms, find_esm_repo_ids
from ._ranking import TaskRanking

__all__ = ["NoESMsFoundError", "compute_scores", "compute_task_ranking"]

logger = logging.getLogger(__name__)

#: Tokens per text, as hfselect truncates.
MAX_LENGTH = 128
#: hfselect's name for :class:`~registry.errors.NoEsmsFoundError`.
NoESMsFoundError = NoEsmsFoundError


def compute_scores(
    dataset: Dataset,
    base_model: Any,
    esms: Sequence[Any],
    tokenizer: Any,
    batch_size: int = 128,
    device_name: str = "cpu",
    *,
    rank_correction: bool = False,
) -> list[float]:
    """The ESM-LogME score of each ESM for ``dataset``, in the order of ``esms``.

    Args:
        dataset: The target dataset.
        base_model: The base model (a ``transformers`` model) that embeds the texts.
        esms: The ESMs of the intermediate tasks: :class:`ESM`, esm-registry's
            :class:`~registry.esm.Esm`, or any callable that maps a tensor of embeddings.
        tokenizer: The base model's tokenizer.
        batch_size: Texts embedded at a time.
        device_name: ``"cpu"``, ``"cuda"``, ...
        rank_correction: With no more examples than dimensions, report the corrected
            evidence rather than hfselect's value.

    Returns:
        One score per ESM; ``nan`` for an ESM that failed (counted in a warning), as in
        hfselect.
    """
    pooling = pooling_rule(type(base_model), str(getattr(base_model, "name_or_path", "")))
    if pooling is None:
        raise UsageError(
            f"hfselect has no pooling rule for {type(base_model).__name__}; use a BERT, "
            "DistilBERT, RoBERTa or sentence-transformers model"
        )
    features = _embed(
        base_model,
        tokenizer,
        dataset.texts(),
        pooling=pooling,
        batch_size=batch_size,
        device_name=device_name,
    )
    return _scores(features, dataset, esms, rank_correction=rank_correction)


def compute_task_ranking(
    dataset: Dataset,
    model_name: str,
    esms: Sequence[Any] | None = None,
    esm_repo_ids: list[str] | None = None,
    batch_size: int = 128,
    device_name: str = "cpu",
    *,
    rank_correction: bool = False,
    registry: RegistryStore | str | None = None,
    token: str | None = None,
) -> TaskRanking:
    """Rank intermediate tasks for ``dataset`` by the ESM-LogME scores of their ESMs.

    Args:
        dataset: The target dataset.
        model_name: The base model's Hub id (or a local copy of it).
        esms: The ESMs to rank; default those of ``esm_repo_ids``, else every ESM of the
            base model in the registry.
        esm_repo_ids: Repo ids of the ESMs to rank.
        batch_size: Texts embedded at a time.
        device_name: ``"cpu"``, ``"cuda"``, ...
        rank_correction: See :func:`compute_scores`.
        registry: Where ESMs are found and read: ``"hub"`` (default), a Hub-compatible URL,
            a folder, or a store.
        token: Hub token.

    Returns:
        The tasks ranked best first; ESMs that failed are left out.

    Raises:
        NoESMsFoundError: no ESM to rank.
    """
    if esms is None:
        if esm_repo_ids is None:
            esm_repo_ids = find_esm_repo_ids(model_name, registry=registry, token=token)
        esms = fetch_esms(esm_repo_ids, registry=registry, token=token)
    if not esms:
        raise NoESMsFoundError(
            "No ESMs matching the search criteria could be found; get_esm_coverage() shows "
            "which base models have ESMs."
        )
    embedder = Embedder(model_name, device=device_name)
    features = embedder.embed(dataset.texts(), batch_size=batch_size, max_length=MAX_LENGTH)
    scores = _scores(features, dataset, esms, rank_correction=rank_correction)
    return TaskRanking([_config(esm) for esm in esms], scores)


def _config(esm: Any) -> Any:
    if isinstance(esm, ESM):
        return esm.create_config()
    if isinstance(esm, Esm):
        return ESM.from_esm(esm).create_config()
    return esm.create_config()  # hfselect's own ESM objects work too


def _embed(
    model: Any,
    tokenizer: Any,
    texts: list[str],
    *,
    pooling: Any,
    batch_size: int,
    device_name: str,
) -> np.ndarray[Any, Any]:
    """Embeddings in input order; each length-sorted batch padded to its longest text."""
    torch = import_extra("torch", "compute_scores")
    device = torch.device(device_name)
    model.to(device)
    model.eval()
    tokens = tokenizer(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]
    order = sorted(range(len(texts)), key=lambda i: -len(tokens[i]))
    out = np.empty((len(texts), int(model.config.hidden_size)), dtype=np.float32)
    batches = -(-len(texts) // batch_size)
    with (
        progress_bar(total=batches, desc="embedding", unit="batch", progress=None) as bar,
        torch.inference_mode(),
    ):
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=MAX_LENGTH,
                return_tensors="pt",
                return_token_type_ids=False,
            )
            pooled = pooled_output(
                model,
                batch["input_ids"].to(device),
                batch["attention_mask"].to(device),
                pooling,
            )
            out[rows] = pooled.float().cpu().numpy()
            bar.update(1)
    return out


def _targets(dataset: Dataset) -> tuple[np.ndarray[Any, Any], int | None]:
    """Labels and, for classes, hfselect's number of LogME columns (``max + 1``)."""
    labels = dataset.labels()
    if dataset.is_regression:
        return labels, None
    if labels.min() < 0:
        raise UsageError(
            "labels below 0 cannot be scored; drop those rows (from_hugging_face drops -1)"
        )
    return labels, int(labels.max()) + 1


def _scores(
    features: np.ndarray[Any, Any],
    dataset: Dataset,
    esms: Sequence[Any],
    *,
    rank_correction: bool,
) -> list[float]:
    """LogME per ESM: linear ones from the target's factorisation, others on their outputs."""
    labels, num_classes = _targets(dataset)
    if len(np.unique(labels)) < 2 or len(labels) < 2:
        logger.warning(
            "the target has %d example(s) and %d label value(s): every ESM scores alike",
            len(labels),
            len(np.unique(labels)),
        )
    dim = features.shape[1]
    stats = TargetStatistics.from_embeddings(
        features, labels, regression=dataset.is_regression, num_classes=num_classes
    )
    scores = [math.nan] * len(esms)
    linear: list[int] = []
    failed = 0
    for index, esm in enumerate(esms):
        weight = getattr(esm, "weight", None)
        if isinstance(esm, ESM | Esm) and weight is not None:
            if weight.shape != (dim, dim):
                failed += 1
                continue
            linear.append(index)
            continue
        try:  # any other callable: its outputs, scored as hfselect scores them
            outputs = _outputs(esm, features)
            scores[index] = logme(
                outputs,
                labels,
                regression=dataset.is_regression,
                num_classes=num_classes,
                rank_correction=rank_correction,
            ).score
        except Exception as exc:  # hfselect gives a failing ESM no score, never an error
            failed += 1
            logger.debug("ESM %d cannot be scored: %s", index, exc)
    pairs = ((esms[i].weight, esms[i].bias) for i in linear)
    # With N <= D hfselect's fixed point is ill-conditioned (the target can be fitted
    # exactly) and its value hinges on the eigenvalues themselves: the eigen-decomposition
    # backend reproduces it to 1e-6; the faster tridiagonal one differed by 3e-4 in tests.
    backend: BackendName = "numpy" if len(labels) <= dim else "auto"
    stream = score_linear_stream(stats, pairs, rank_correction=rank_correction, backend=backend)
    for index, result in zip(linear, stream, strict=True):
        scores[index] = result.score
    if failed:
        logger.warning("computing scores failed for %d of %d ESMs", failed, len(esms))
    return scores


def _outputs(esm: Any, features: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    torch = import_extra("torch", "compute_scores")
    with torch.no_grad():
        result = esm(torch.from_numpy(features))
    return np.asarray(result.detach().cpu().numpy(), dtype=np.float64)
