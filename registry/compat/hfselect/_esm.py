"""``ESM``: an Embedding Space Map as hfselect presents it, callable on tensors.

hfselect's ``ESM`` is a ``torch.nn.Module``; this one wraps esm-registry's
:class:`~registry.esm.Esm` (weights read from safetensors only, checked against the
metadata) and applies it to a torch tensor (result on the tensor's device, in its dtype)
or to a numpy array. torch is needed only for tensors and for :attr:`ESM.model`.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import UsageError
from ...esm import Esm
from ...metadata import EsmMetadata
from ...stores import RegistryStore, open_store
from ._config import ESMConfig, InvalidESMConfigError
from ._extras import import_extra

__all__ = ["ESM", "ESMNotInitializedError"]

_LINEAR = "linear"


class ESMNotInitializedError(UsageError):
    """The ESM has no architecture or embedding dimension to build its layer from."""


def _store(registry: RegistryStore | str | None, token: str | None) -> RegistryStore:
    if registry is None:
        return open_store("hub", token=token)
    if isinstance(registry, str):
        return open_store(registry, token=token)
    return registry


class ESM:
    """A linear ESM, ``x -> W x + b``; call it on embeddings (``esm(x)``).

    Args:
        architecture: ``"linear"`` (the only architecture); default the config's.
        embedding_dim: ``D``; default the config's ``esm_embedding_dim``.
        config: An :class:`ESMConfig` or a ``config.json`` mapping.

    A new ESM's layer is initialised like a fresh ``torch.nn.Linear`` (uniform in
    ``±1/sqrt(D)``), as hfselect's is; :meth:`from_pretrained` loads trained weights.

    Raises:
        ESMNotInitializedError: a linear ESM without an embedding dimension.
        NotImplementedError: another architecture.
    """

    def __init__(
        self,
        architecture: str | None = None,
        embedding_dim: int | None = None,
        config: ESMConfig | dict[str, Any] | None = None,
    ) -> None:
        if config is None:
            config = ESMConfig()
        elif not isinstance(config, ESMConfig):
            config = ESMConfig.from_dict(config)
        architecture = architecture or config.esm_architecture or _LINEAR
        dim = embedding_dim or config.esm_embedding_dim
        if architecture != _LINEAR:
            raise NotImplementedError(
                f"Could not create ESM with custom architecture: {architecture}"
            )
        if not isinstance(dim, int) or dim < 1:
            raise ESMNotInitializedError(
                "ESM was not initialized correctly: the embedding dimension is not known"
            )
        self.config = config
        bound = 1.0 / math.sqrt(dim)
        rng = np.random.default_rng()
        self._weight = rng.uniform(-bound, bound, (dim, dim)).astype(np.float32)
        self._bias = rng.uniform(-bound, bound, dim).astype(np.float32)
        self._esm: Esm | None = None

    @classmethod
    def from_esm(cls, esm: Esm) -> ESM:
        """Wrap an esm-registry :class:`~registry.esm.Esm` (no copy of the weights)."""
        wrapped = cls.__new__(cls)
        wrapped.config = ESMConfig.from_metadata(esm.metadata)
        wrapped._weight = esm.weight
        wrapped._bias = esm.bias
        wrapped._esm = esm
        return wrapped

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike[str],
        *,
        revision: str | None = None,
        token: str | None = None,
        registry: RegistryStore | str | None = None,
    ) -> ESM:
        """Load an ESM from a folder, or from a repo of a registry (default: the Hub).

        The current and the legacy (hfselect 0.1.0) layouts load; pickled checkpoints are
        refused.

        Args:
            pretrained_model_name_or_path: An ESM folder, or a repo id.
            revision: Branch, tag or commit of the repo (default: main).
            token: Hub token (default: ``HF_TOKEN`` or the saved login).
            registry: Where repo ids are read from: ``"hub"`` (default), a Hub-compatible
                URL, a folder, or a store.

        Raises:
            RepoNotFoundError: no such repo, revision or file.
            EsmArtifactError, MetadataError: the files are not a valid ESM.
        """
        path = Path(pretrained_model_name_or_path)
        if path.is_dir():
            return cls.from_esm(Esm.load(path))
        store = _store(registry, token)
        repo_id = str(pretrained_model_name_or_path)
        config = store.local_path(repo_id, "config.json", revision)
        weights = store.local_path(repo_id, "model.safetensors", revision)
        return cls.from_esm(Esm.from_files(config, weights))

    # --- what hfselect's ESM offers -------------------------------------------------------------

    @property
    def esm(self) -> Esm:
        """The esm-registry :class:`~registry.esm.Esm` behind this one.

        Raises:
            InvalidESMConfigError: the config names no base model or task.
        """
        if self._esm is None:
            if not self.config.is_valid:
                raise InvalidESMConfigError()
            metadata: EsmMetadata = self.config.to_metadata()
            self._esm = Esm(metadata, self._weight, self._bias)
        return self._esm

    @property
    def weight(self) -> np.ndarray[Any, np.dtype[np.float32]]:
        """``W``, shape ``(D, D)`` (``torch.nn.Linear.weight`` layout)."""
        return self._weight

    @property
    def bias(self) -> np.ndarray[Any, np.dtype[np.float32]]:
        """``b``, shape ``(D,)``."""
        return self._bias

    @property
    def embedding_dim(self) -> int:
        """``D``."""
        return int(self._weight.shape[1])

    @property
    def is_initialized(self) -> bool:
        """Always true: an ESM here always has its layer."""
        return True

    @property
    def is_legacy_model(self) -> bool:
        """Always false: legacy (0.1.0) files are converted when they are read."""
        return False

    def convert_legacy_to_new(self) -> None:
        """Nothing to do: legacy files are converted when they are read."""

    def create_config(self) -> ESMConfig:
        """The ESM's :class:`ESMConfig`."""
        return self.config

    def __call__(self, x: Any) -> Any:
        """``x @ W.T + b`` for a torch tensor (same device and dtype) or a numpy array."""
        return self.forward(x)

    def forward(self, x: Any) -> Any:
        """See :meth:`__call__`."""
        if self._esm is not None:
            return self._esm.apply(x)
        torch = _torch_if_tensor(x)
        if torch is not None:
            weight = torch.from_numpy(self._weight).to(device=x.device, dtype=x.dtype)
            bias = torch.from_numpy(self._bias).to(device=x.device, dtype=x.dtype)
            return torch.nn.functional.linear(x, weight, bias)
        array = np.asarray(x)
        if array.shape[-1:] != (self.embedding_dim,):
            raise UsageError(
                f"the ESM maps embeddings of dimension {self.embedding_dim}, got {array.shape}"
            )
        return array @ self._weight.T.astype(array.dtype) + self._bias.astype(array.dtype)

    @property
    def model(self) -> Any:
        """The layer as a ``torch.nn.Linear`` (a copy; needs torch)."""
        torch = import_extra("torch", "ESM.model")
        layer = torch.nn.Linear(self.embedding_dim, self.embedding_dim)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(np.array(self._weight)))
            layer.bias.copy_(torch.from_numpy(np.array(self._bias)))
        return layer

    def to(self, device: Any) -> ESM:
        """Returns the ESM itself: it follows the device of what it is applied to."""
        return self

    def eval(self) -> ESM:
        """Returns the ESM itself (nothing changes between training and evaluation)."""
        return self

    def save_pretrained(self, save_directory: str | os.PathLike[str]) -> None:
        """Write ``model.safetensors`` and ``config.json`` (what hfselect and we read)."""
        self.esm.save(save_directory)

    def publish(self, repo_id: str, config: ESMConfig | dict[str, Any] | None = None) -> None:
        """Publish to the Hub as one commit with a complete card (see ``esm-registry publish``).

        Args:
            repo_id: ``namespace/name``.
            config: Metadata to publish with instead of the ESM's own.

        Raises:
            InvalidESMConfigError: the config names no base model or task.
        """
        from ...publish import publish_esm  # noqa: PLC0415 - only when publishing

        esm = self.esm
        if config is not None:
            chosen = config if isinstance(config, ESMConfig) else ESMConfig.from_dict(config)
            if not chosen.is_valid:
                raise InvalidESMConfigError()
            esm = Esm(chosen.to_metadata(), self._weight, self._bias)
        publish_esm(esm, open_store("hub"), repo_id=repo_id)

    def __repr__(self) -> str:
        task = self.config.get("task_id", "N/A")
        subset = self.config.get("task_subset", "N/A")
        return f"ESM - Task ID: {task} - Subset: {subset}"

    __str__ = __repr__


def _torch_if_tensor(x: Any) -> Any:
    """torch, when ``x`` is a tensor (torch is then already imported), else ``None``."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return torch
    return None
