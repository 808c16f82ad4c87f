"""Finding and fetching ESMs as hfselect does, through esm-registry's stores.

The same answers as hfselect's ``find_esm_repo_ids``, ``fetch_esm_configs``,
``fetch_esms`` and ``get_esm_coverage``, with what the stores add: listings checked for
shape, every read bounded, tokens never in messages, ESMs downloaded in parallel (through
the Hugging Face cache), and ``registry=`` to read a local registry or another
Hub-compatible server instead of the Hub.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from ..._json import load_json
from ...errors import EsmRegistryError
from ...ranker.fetch import fetch_esms as _fetch_many
from ...stores import RegistryStore, open_store
from ._config import ESMConfig
from ._esm import ESM

__all__ = ["fetch_esm_configs", "fetch_esms", "find_esm_repo_ids", "get_esm_coverage"]

logger = logging.getLogger(__name__)

_BASE_MODEL_TAG = "base_model:finetune:"


def _store(registry: RegistryStore | str | None, token: str | None) -> RegistryStore:
    if isinstance(registry, str) or registry is None:
        return open_store(registry or "hub", token=token)
    return registry


def _tags(filters: Iterable[str] | str | None) -> list[str]:
    """hfselect's ``filters``: one tag or a list; the caller's list is never changed."""
    if filters is None:
        return []
    if isinstance(filters, str):
        return [filters]
    return list(filters)


def find_esm_repo_ids(
    model_name: str | None = None,
    filters: list[str] | str | None = None,
    *,
    registry: RegistryStore | str | None = None,
    token: str | None = None,
) -> list[str]:
    """The repo ids of the ESMs of ``model_name`` that carry every tag in ``filters``.

    Args:
        model_name: The base model; its current Hub id is looked up first (so
            ``bert-base-uncased`` finds the ESMs of ``google-bert/bert-base-uncased``).
        filters: More tags, as for ``HfApi.list_models(filter=...)``.
        registry: ``"hub"`` (default), a Hub-compatible URL, a folder, or a store.
        token: Hub token.

    Raises:
        RepoNotFoundError: the Hub knows no such base model.
        StoreError: the registry cannot be listed.
    """
    store = _store(registry, token)
    tags = _tags(filters)
    if model_name:
        canonical = store.canonical_model_id(model_name) or model_name
        tags.append(f"base_model:{canonical}")
    return [info.repo_id for info in store.list_esms(tags=tags)]


def get_esm_coverage(
    filters: list[str] | str | None = None,
    *,
    registry: RegistryStore | str | None = None,
    token: str | None = None,
) -> dict[str | None, int]:
    """How many ESMs each base model has, most first (``None``: ESMs that name none).

    Args:
        filters: Tags every ESM must carry.
        registry: ``"hub"`` (default), a Hub-compatible URL, a folder, or a store.
        token: Hub token.
    """
    store = _store(registry, token)
    bases: list[str | None] = []
    for info in store.list_esms(tags=_tags(filters)):
        found = [tag for tag in info.tags if tag.startswith(_BASE_MODEL_TAG)]
        bases.append(found[0][len(_BASE_MODEL_TAG) :] if found else None)
    return dict(sorted(Counter(bases).items(), key=lambda item: -item[1]))


def fetch_esm_configs(
    repo_ids: list[str],
    *,
    registry: RegistryStore | str | None = None,
    token: str | None = None,
) -> list[ESMConfig]:
    """The configs of ESMs; repos whose config cannot be read or is not valid are left
    out (and counted in a warning), as hfselect leaves them out.

    Args:
        repo_ids: The ESMs' repo ids.
        registry: ``"hub"`` (default), a Hub-compatible URL, a folder, or a store.
        token: Hub token.
    """
    store = _store(registry, token)
    configs: list[ESMConfig] = []
    errors: Counter[str] = Counter()
    for repo_id in repo_ids:
        try:
            data = load_json(store.read_file(repo_id, "config.json"))
            if not isinstance(data, dict):
                raise ValueError("config.json is not a JSON object")
            config = ESMConfig.from_dict(data)
            if not config.is_valid:
                raise ValueError("config.json names no task or no base model")
        except (EsmRegistryError, OSError, ValueError) as exc:
            errors[type(exc).__name__] += 1
            logger.debug("cannot read the config of %s: %s", repo_id, exc)
            continue
        configs.append(config)
    if errors:
        logger.warning(
            "fetching ESM configs failed for %d of %d repo ids (%s)",
            sum(errors.values()),
            len(repo_ids),
            ", ".join(f"{name}: {count}" for name, count in errors.items()),
        )
    return configs


def fetch_esms(
    repo_ids: list[str],
    *,
    registry: RegistryStore | str | None = None,
    token: str | None = None,
    jobs: int = 8,
    progress: bool | None = None,
) -> list[ESM]:
    """Load ESMs by repo id, ``jobs`` at a time; ESMs that cannot be loaded or have an
    invalid config are left out (and counted in a warning).

    Args:
        repo_ids: The ESMs' repo ids.
        registry: ``"hub"`` (default), a Hub-compatible URL, a folder, or a store.
        token: Hub token.
        jobs: Downloads at the same time.
        progress: Show a progress bar; ``None``: only when stderr is a terminal.
    """
    store = _store(registry, token)
    esms: list[ESM] = []
    failed = 0
    for fetched in _fetch_many(list(repo_ids), store, jobs=jobs, progress=progress):
        if fetched.esm is None or not fetched.ok:
            failed += 1
            logger.debug("cannot load %s: %s", fetched.source, fetched.error)
            continue
        esms.append(ESM.from_esm(fetched.esm))
    if failed:
        logger.warning("fetching ESMs failed for %d of %d repo ids", failed, len(repo_ids))
    return esms
