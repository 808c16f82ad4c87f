"""Where esm-registry keeps its files, and the file names of an ESM repo.

Everything lives under one home folder, ``$ESM_REGISTRY_HOME``, which defaults to
``$HF_HOME/esm-registry`` (``~/.cache/huggingface/esm-registry`` when ``HF_HOME`` is unset
too), next to the Hugging Face cache:

========================  ==========================================  =======================
what                      where                                       override
========================  ==========================================  =======================
local registry            ``<home>/local``                            ``--registry PATH``
catalog                   ``<home>/catalog.sqlite``                   ``ESM_REGISTRY_CATALOG``
embedding cache           ``<home>/embeddings``                       ``cache_dir=``
quickstart workspace      ``<home>/quickstart``                       ``--workspace DIR``
========================  ==========================================  =======================

The environment is read when a function is called, not at import, so tests and programs
may change it at run time.

Example:
    >>> import os
    >>> os.environ["ESM_REGISTRY_HOME"] = "/srv/esm"
    >>> str(default_catalog_path())
    '/srv/esm/catalog.sqlite'
    >>> del os.environ["ESM_REGISTRY_HOME"]
"""

from __future__ import annotations

import os
from pathlib import Path

from huggingface_hub import constants

__all__ = [
    "CATALOG_FILENAME",
    "CONFIG_NAME",
    "README_NAME",
    "WEIGHTS_NAME",
    "default_catalog_path",
    "default_embedding_cache",
    "default_home",
    "default_local_registry",
    "default_quickstart_workspace",
]

#: The flat metadata hfselect reads and writes.
CONFIG_NAME = "config.json"
#: The ESM's tensors (``model.weight``, ``model.bias``).
WEIGHTS_NAME = "model.safetensors"
#: The model card.
README_NAME = "README.md"
#: File name of the catalog inside the home folder.
CATALOG_FILENAME = "catalog.sqlite"


def default_home() -> Path:
    """``$ESM_REGISTRY_HOME``, else ``$HF_HOME/esm-registry``."""
    explicit = os.environ.get("ESM_REGISTRY_HOME")
    if explicit:
        return Path(explicit).expanduser()
    hf_home = os.environ.get("HF_HOME") or constants.HF_HOME
    return Path(hf_home).expanduser() / "esm-registry"


def default_local_registry() -> Path:
    """Folder of the embedded local registry: ``<home>/local``."""
    return default_home() / "local"


def default_catalog_path() -> Path:
    """``$ESM_REGISTRY_CATALOG``, else ``<home>/catalog.sqlite``."""
    explicit = os.environ.get("ESM_REGISTRY_CATALOG")
    if explicit:
        return Path(explicit).expanduser()
    return default_home() / CATALOG_FILENAME


def default_embedding_cache() -> Path:
    """Folder of the embedding cache: ``<home>/embeddings``."""
    return default_home() / "embeddings"


def default_quickstart_workspace() -> Path:
    """Folder of the quickstart's ESMs, registry and catalog: ``<home>/quickstart``."""
    return default_home() / "quickstart"
