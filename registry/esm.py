"""The ESM artifact: the weights of one Embedding Space Map, checked against its metadata.

An ESM directory holds ``model.safetensors`` (the weights), ``config.json`` (the flat
metadata hfselect writes, see :func:`registry.metadata.to_config`) and optionally a
``README.md`` card. This module reads and writes such directories so that hfselect
(``hfselect.ESM.from_pretrained``, a ``PyTorchModelHubMixin``) loads what we write, and we
load what hfselect wrote, in its current and in its legacy 0.1.0 layout.

Only safetensors are read: pickled checkpoints (``pytorch_model.bin``) can run arbitrary
code when loaded, so they are refused rather than unpickled. torch is optional and only
imported when :meth:`Esm.apply` is handed a torch tensor.

Example:
    >>> import numpy as np
    >>> from registry.metadata import EsmMetadata
    >>> meta = EsmMetadata.model_validate(
    ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
    ... )
    >>> esm = Esm(meta, weight=2 * np.eye(3), bias=np.ones(3))
    >>> esm.metadata.embedding_dim  # inferred from the weight
    3
    >>> esm.apply(np.array([1.0, 2.0, 3.0])).tolist()
    [3.0, 5.0, 7.0]
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import struct
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import safetensors
import safetensors.numpy

from ._io import fsync_path, temporary_sibling
from ._json import dump_json, load_json
from .architectures import get_architecture
from .errors import EsmArtifactError, UsageError
from .metadata import EsmMetadata, load_metadata
from .metadata import to_config as metadata_to_config
from .paths import CONFIG_NAME, README_NAME, WEIGHTS_NAME

__all__ = [
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "LEGACY_FORMAT_VERSION",
    "MAX_HEADER_BYTES",
    "README_NAME",
    "WEIGHTS_NAME",
    "Esm",
]

logger = logging.getLogger(__name__)


#: The ``version`` hfselect reads as its legacy layout (tensors ``sequential.0.*``).
LEGACY_FORMAT_VERSION = "0.1.0"
#: The ``version`` written instead of the legacy one, since we always write ``model.*``.
FORMAT_VERSION = "0.2.1"

_CURRENT_PREFIX = "model."
_LEGACY_PREFIX = "sequential.0."

#: safetensors dtype code -> numpy dtype name; everything else is refused.
_FLOAT_DTYPES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64"}

#: Largest safetensors header read (its JSON lists two tensors in a few hundred bytes).
MAX_HEADER_BYTES = 64 * 1024

#: Checkpoint files we recognise but never open, because loading them means unpickling.
_PICKLE_NAMES = ("pytorch_model.bin", "model.bin", "model.pt", "model.pth", "model.ckpt")

#: ``hfselect.ESM.__init__`` parameters; PyTorchModelHubMixin passes config.json keys of
#: these names to it, so a config carrying them would change how hfselect builds the ESM.
_HFSELECT_INIT_PARAMETERS = ("architecture", "config", "embedding_dim")

Layout = Literal["current", "legacy"]


class Esm:
    """One ESM: its metadata plus the ``D×D`` weight and ``D`` bias of the linear map.

    The arrays are validated (shapes from the architecture registry, floating dtype, finite
    values), stored as read-only contiguous float32 and never change afterwards, so an
    ``Esm`` can be shared between threads and its torch copies cached.

    Args:
        metadata: The ESM's metadata. When ``embedding_dim`` is unset it is inferred from
            ``weight`` and filled in (on a copy; the argument is not modified).
        weight: Weight matrix ``W`` of shape ``(D, D)``, as in ``torch.nn.Linear``.
        bias: Bias vector ``b`` of shape ``(D,)``.
        layout: Tensor layout the weights were read in (``"legacy"`` for hfselect 0.1.0's
            ``sequential.0.*``); informational, :meth:`save` always writes ``model.*``.

    Raises:
        EsmArtifactError: unknown architecture, wrong shape or dtype, non-finite values.

    Example:
        >>> import numpy as np
        >>> from registry.metadata import EsmMetadata
        >>> meta = EsmMetadata.model_validate(
        ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"},
        ...      "embedding_dim": 2}
        ... )
        >>> Esm(meta, weight=np.eye(2), bias=np.zeros(2)).apply(np.ones((1, 2))).tolist()
        [[1.0, 1.0]]
    """

    __slots__ = ("_torch_cache", "bias", "layout", "metadata", "weight")

    metadata: EsmMetadata
    weight: np.ndarray[Any, np.dtype[np.float32]]
    bias: np.ndarray[Any, np.dtype[np.float32]]
    layout: Layout

    def __init__(
        self,
        metadata: EsmMetadata,
        weight: npt.ArrayLike,
        bias: npt.ArrayLike,
        *,
        layout: Layout = "current",
    ) -> None:
        tensors = _check_tensors(
            {"model.weight": np.asarray(weight), "model.bias": np.asarray(bias)},
            metadata,
            source="the arrays passed to Esm",
        )
        if metadata.embedding_dim is None:
            metadata = metadata.model_copy(
                update={"embedding_dim": tensors["model.weight"].shape[0]}
            )
        self.metadata = metadata
        self.weight = tensors["model.weight"]
        self.bias = tensors["model.bias"]
        self.layout = layout
        self._torch_cache: dict[tuple[Any, Any], tuple[Any, Any]] = {}

    # --- reading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Esm:
        """Load an ESM directory (``model.safetensors`` + ``config.json``).

        Args:
            directory: A local folder, e.g. a ``save_pretrained`` output or a Hub snapshot.

        Raises:
            FileNotFoundError: the folder, its config.json or its model.safetensors is missing.
            EsmArtifactError: only a pickled checkpoint is present, or the weights are invalid.
            MetadataError: config.json is not valid ESM metadata.

        Example:
            >>> import tempfile
            >>> import numpy as np
            >>> from registry.metadata import EsmMetadata
            >>> meta = EsmMetadata.model_validate(
            ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
            ... )
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     path = Esm(meta, np.eye(4), np.zeros(4)).save(f"{tmp}/esm")
            ...     Esm.load(path).metadata.embedding_dim
            4
        """
        path = Path(directory)
        if not path.is_dir():
            raise FileNotFoundError(f"no such ESM directory: {path}")
        weights = path / WEIGHTS_NAME
        if not weights.is_file():
            pickles = [name for name in _PICKLE_NAMES if (path / name).is_file()]
            if pickles:
                raise EsmArtifactError(
                    f"{path} holds {', '.join(pickles)} but no {WEIGHTS_NAME}; pickled "
                    "checkpoints are never loaded because unpickling can run arbitrary code. "
                    "Convert it where you trust it (torch.load, then "
                    f"safetensors.torch.save_file) and ship {WEIGHTS_NAME}"
                )
            raise FileNotFoundError(f"{path} has no {WEIGHTS_NAME}")
        config = path / CONFIG_NAME
        if not config.is_file():
            raise FileNotFoundError(f"{path} has no {CONFIG_NAME}")
        return cls.from_files(config, weights)

    @classmethod
    def from_files(
        cls, config_path: str | os.PathLike[str], weights_path: str | os.PathLike[str]
    ) -> Esm:
        """Load an ESM from a metadata file and a safetensors file anywhere on disk.

        Args:
            config_path: ``config.json`` (flat hfselect layout) or a metadata JSON/YAML file.
            weights_path: The ``.safetensors`` file with ``model.weight``/``model.bias`` or
                the legacy ``sequential.0.weight``/``sequential.0.bias``.

        Raises:
            FileNotFoundError: either file is missing.
            EsmArtifactError: the weights are unreadable or do not match the metadata.
            MetadataError: the metadata is invalid.

        Example:
            >>> import tempfile
            >>> import numpy as np
            >>> from registry.metadata import EsmMetadata
            >>> meta = EsmMetadata.model_validate(
            ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
            ... )
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     path = Esm(meta, np.eye(2), np.zeros(2)).save(tmp)
            ...     Esm.from_files(path / "config.json", path / "model.safetensors").layout
            'current'
        """
        metadata = load_metadata(Path(config_path))
        weights = Path(weights_path)
        tensors, layout = _read_safetensors(weights, metadata)
        _warn_if_hfselect_misreads(weights, metadata, layout)
        logger.debug("loaded %s (%s layout)", weights, layout)
        return cls(metadata, tensors["model.weight"], tensors["model.bias"], layout=layout)

    # --- writing ---------------------------------------------------------------------------

    def tensors(self) -> dict[str, np.ndarray[Any, np.dtype[np.float32]]]:
        """The tensors as written to ``model.safetensors`` (current layout names)."""
        return {"model.weight": self.weight, "model.bias": self.bias}

    def to_config(self) -> dict[str, Any]:
        """The ``config.json`` mapping :meth:`save` writes, readable by hfselect.

        A legacy ``version`` (0.1.0) is replaced by :data:`FORMAT_VERSION`, because hfselect
        picks the tensor layout from it and we always write the current layout; with 0.1.0
        it would silently keep randomly initialised weights.

        Raises:
            EsmArtifactError: an extra key would be passed by hfselect to ``ESM.__init__``.
        """
        config = metadata_to_config(self.metadata)
        clashes = [key for key in _HFSELECT_INIT_PARAMETERS if key in config]
        if clashes:
            raise EsmArtifactError(
                f"config.json would carry {', '.join(repr(k) for k in clashes)}, which "
                "hfselect.ESM.from_pretrained passes to ESM.__init__ and so changes how the "
                "ESM is built; rename or drop these keys in metadata.extra"
            )
        if config.get("version") == LEGACY_FORMAT_VERSION:
            logger.info(
                "writing version %s instead of the legacy %s: the weights are written in the "
                "current layout (model.*)",
                FORMAT_VERSION,
                LEGACY_FORMAT_VERSION,
            )
            config["version"] = FORMAT_VERSION
        return config

    def to_files(self, *, readme: str | None = None) -> dict[str, bytes]:
        """The exact bytes of the ESM directory's files, as :meth:`save` writes them.

        The publisher pushes these bytes, so a saved and a published ESM are identical.

        Args:
            readme: Text of the model card, added as ``README.md`` when given.
        """
        files = {} if readme is None else {README_NAME: readme.encode("utf-8")}
        config = dump_json(self.to_config(), indent=2, ensure_ascii=False) + "\n"
        files[CONFIG_NAME] = config.encode("utf-8")
        files[WEIGHTS_NAME] = safetensors.numpy.save(self.tensors(), metadata={"format": "pt"})
        return files

    def save(self, directory: str | os.PathLike[str], *, readme: str | None = None) -> Path:
        """Write the ESM directory so that hfselect and :meth:`load` read it.

        Everything is first written to a temporary folder next to ``directory``. A new
        directory then appears in one rename, so it is either complete or absent. Into an
        existing directory the files are moved one by one (each replacement atomic),
        weights first and config.json last; other files there are left alone.

        Args:
            directory: Target folder; created with its parents when missing.
            readme: Text of the model card to write as ``README.md`` in the same step.

        Returns:
            The target directory.

        Raises:
            EsmArtifactError: the config would not be read correctly by hfselect.
            NotADirectoryError: ``directory`` exists and is not a folder.
            OSError: writing failed; the target is then left as it was.

        Example:
            >>> import tempfile
            >>> import numpy as np
            >>> from registry.metadata import EsmMetadata
            >>> meta = EsmMetadata.model_validate(
            ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
            ... )
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     path = Esm(meta, np.eye(2), np.zeros(2)).save(f"{tmp}/esm")
            ...     sorted(p.name for p in path.iterdir())
            ['config.json', 'model.safetensors']
        """
        target = Path(directory).absolute()
        if target.exists() and not target.is_dir():
            raise NotADirectoryError(f"cannot save an ESM to {target}: it is not a directory")
        files = self.to_files(readme=readme)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = temporary_sibling(target)
        staging.mkdir()
        try:
            # Weights first and config.json last: a reader never sees a new config with old
            # weights when files are moved into an existing directory below.
            names = [n for n in (WEIGHTS_NAME, README_NAME, CONFIG_NAME) if n in files]
            for name in names:
                (staging / name).write_bytes(files[name])
            for name in names:
                fsync_path(staging / name)
            if _rename_new_directory(staging, target):
                logger.debug("saved ESM to new directory %s", target)
                return target
            for name in names:
                os.replace(staging / name, target / name)
            fsync_path(target)
            logger.debug("saved ESM into existing directory %s", target)
            return target
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # --- applying --------------------------------------------------------------------------

    def apply(self, embeddings: Any) -> Any:
        """Map embeddings ``X`` to ``X @ W.T + b``, exactly like ``torch.nn.Linear``.

        Args:
            embeddings: A numpy array (or array-like) of shape ``(..., D)``, typically
                ``(N, D)`` or ``(D,)``; or a torch tensor of that shape, which stays on its
                device and dtype (torch is only needed for that case).

        Returns:
            Same type and shape as the input. numpy results are float32, or float64 for
            float64 input; integer input is treated as float.

        Raises:
            UsageError: the last dimension is not ``D``.
            TypeError: the input is not numeric.

        Example:
            >>> import numpy as np
            >>> from registry.metadata import EsmMetadata
            >>> meta = EsmMetadata.model_validate(
            ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
            ... )
            >>> esm = Esm(meta, weight=[[0.0, 1.0], [1.0, 0.0]], bias=[0.5, 0.5])
            >>> esm.apply([[1.0, 2.0]]).tolist()
            [[2.5, 1.5]]
        """
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(embeddings, torch.Tensor):
            return self._apply_torch(embeddings)
        array = np.asarray(embeddings)
        if array.dtype.kind not in "fiu":
            raise TypeError(
                f"embeddings must be a numeric array or a torch tensor, got dtype {array.dtype}"
            )
        self._check_dim(tuple(array.shape))
        dtype = np.dtype(np.float64 if array.dtype == np.float64 else np.float32)
        inputs: np.ndarray[Any, np.dtype[np.floating[Any]]] = array.astype(dtype, copy=False)
        weight = self.weight.astype(dtype, copy=False)
        return inputs @ weight.T + self.bias.astype(dtype, copy=False)

    __call__ = apply

    def _apply_torch(self, embeddings: Any) -> Any:
        import torch  # noqa: PLC0415 - optional dependency, only needed for tensors

        if not torch.is_floating_point(embeddings):
            embeddings = embeddings.to(torch.get_default_dtype())
        self._check_dim(tuple(embeddings.shape))
        key = (embeddings.device, embeddings.dtype)
        params = self._torch_cache.get(key)
        if params is None:
            params = (
                torch.tensor(self.weight, device=embeddings.device, dtype=embeddings.dtype),
                torch.tensor(self.bias, device=embeddings.device, dtype=embeddings.dtype),
            )
            self._torch_cache[key] = params
        return torch.nn.functional.linear(embeddings, *params)

    def _check_dim(self, shape: tuple[int, ...]) -> None:
        dim = self.weight.shape[1]
        if not shape or shape[-1] != dim:
            raise UsageError(
                f"embeddings of shape {shape} do not fit this ESM: the last dimension must be "
                f"the embedding dimension {dim} of {self.metadata.base_model}"
            )

    def __repr__(self) -> str:
        return (
            f"Esm(base_model={self.metadata.base_model!r}, "
            f"task={self.metadata.display_name!r}, architecture={self.metadata.architecture!r}, "
            f"embedding_dim={self.metadata.embedding_dim})"
        )


# --- helpers ---------------------------------------------------------------------------------


def _check_tensors(
    tensors: Mapping[str, np.ndarray[Any, Any]], metadata: EsmMetadata, *, source: str
) -> dict[str, np.ndarray[Any, np.dtype[np.float32]]]:
    """Validate tensors named in the current layout; return read-only float32 copies."""
    expected = _expected_shapes(metadata, {k: tuple(v.shape) for k, v in tensors.items()}, source)
    checked = {}
    for name, shape in expected.items():
        array = tensors[name]
        if array.dtype.kind != "f":
            raise EsmArtifactError(
                f"{source}: tensor {name!r} has dtype {array.dtype}; expected a floating "
                "dtype (float16, bfloat16, float32 or float64)"
            )
        if tuple(array.shape) != shape:
            raise EsmArtifactError(
                f"{source}: tensor {name!r} has shape {tuple(array.shape)}; expected {shape} "
                f"for a {metadata.architecture} ESM of embedding dimension {shape[0]}"
            )
        with np.errstate(over="ignore"):  # float64 beyond float32's range: caught below
            array = np.array(array, dtype=np.float32, order="C", copy=True)
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            index = tuple(int(i) for i in np.unravel_index(bad[0], array.shape))
            raise EsmArtifactError(
                f"{source}: tensor {name!r} has {bad.size} non-finite value(s) (NaN or "
                f"infinite as float32), the first at index {index}; expected finite values"
            )
        array.setflags(write=False)
        checked[name] = array
    return checked


def _expected_shapes(
    metadata: EsmMetadata, found: Mapping[str, tuple[int, ...]], source: str
) -> dict[str, tuple[int, ...]]:
    """The shapes the architecture requires; infers ``D`` from the weight when unset."""
    try:
        architecture = get_architecture(metadata.architecture)
    except KeyError as exc:
        raise EsmArtifactError(f"{source}: {exc.args[0]}") from None
    dim = metadata.embedding_dim
    if dim is None:
        weight_shape = found.get("model.weight", ())
        if len(weight_shape) != 2 or weight_shape[0] < 1:
            raise EsmArtifactError(
                f"{source}: tensor 'model.weight' has shape {weight_shape}; expected (D, D), "
                "and the metadata gives no embedding dimension to check it against"
            )
        dim = weight_shape[0]
    expected = architecture.parameter_shapes(dim)
    if set(expected) != set(found):
        raise EsmArtifactError(
            f"{source}: found tensors {sorted(found)}; expected {sorted(expected)} for a "
            f"{architecture.name} ESM"
        )
    if metadata.embedding_dim is not None:
        for name, shape in expected.items():
            if found[name] != shape:
                raise EsmArtifactError(
                    f"{source}: tensor {name!r} has shape {found[name]}; expected {shape} "
                    f"because the metadata (config.json esm_embedding_dim) gives embedding "
                    f"dimension {dim}"
                )
    return expected


def _read_safetensors(
    path: Path, metadata: EsmMetadata
) -> tuple[dict[str, np.ndarray[Any, Any]], Layout]:
    """Read the tensors of ``path`` under their current-layout names, and the layout found."""
    if not path.is_file():
        raise FileNotFoundError(f"no such weights file: {path}")
    _header_size(path)  # bounded before the safetensors library reads the header
    try:
        with safetensors.safe_open(str(path), framework="np") as handle:
            names = list(handle.keys())
            layout = _detect_layout(path, names)
            prefix = _CURRENT_PREFIX if layout == "current" else _LEGACY_PREFIX
            found: dict[str, tuple[int, ...]] = {}
            dtypes: dict[str, str] = {}
            for name in names:
                tensor_slice = handle.get_slice(name)
                current = _CURRENT_PREFIX + name[len(prefix) :]
                found[current] = tuple(tensor_slice.get_shape())
                dtypes[current] = tensor_slice.get_dtype()
                if dtypes[current] not in _FLOAT_DTYPES:
                    raise EsmArtifactError(
                        f"{path}: tensor {name!r} has dtype {dtypes[current]}; expected a "
                        "floating dtype (F16, BF16, F32 or F64)"
                    )
            # Shapes are checked before any data is read, so a wrong file costs nothing.
            _expected_shapes(metadata, found, str(path))
            tensors = {}
            for current, dtype in dtypes.items():
                name = prefix + current[len(_CURRENT_PREFIX) :]
                if dtype == "BF16":
                    tensors[current] = _read_bfloat16(path, name)
                else:
                    tensors[current] = handle.get_tensor(name)
    except (EsmArtifactError, OSError):
        raise
    except Exception as exc:  # safetensors raises its own SafetensorError and others
        raise EsmArtifactError(f"{path} is not a readable safetensors file: {exc}") from None
    return tensors, layout


def _detect_layout(path: Path, names: list[str]) -> Layout:
    """Tell the current (``model.*``) from the legacy (``sequential.0.*``) tensor names."""
    current = {"model.weight", "model.bias"}
    legacy = {"sequential.0.weight", "sequential.0.bias"}
    if set(names) == current:
        return "current"
    if set(names) == legacy:
        return "legacy"
    raise EsmArtifactError(
        f"{path}: found tensors {sorted(names) or 'none'}; expected {sorted(current)} "
        f"(or the legacy hfselect 0.1.0 names {sorted(legacy)})"
    )


def _header_size(path: Path) -> int:
    """The header length a safetensors file declares, checked against the file and the cap."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
    if len(prefix) < 8:
        raise EsmArtifactError(f"{path} is not a readable safetensors file: {size} bytes")
    (header_size,) = struct.unpack("<Q", prefix)
    if header_size > min(MAX_HEADER_BYTES, size - 8):
        raise EsmArtifactError(
            f"{path} is not a readable safetensors file: its header claims {header_size:,} "
            f"bytes, at most {min(MAX_HEADER_BYTES, size - 8):,} are read"
        )
    return int(header_size)


def _read_bfloat16(path: Path, name: str) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Read one BF16 tensor as float32; numpy has no bfloat16, so widen the raw bits."""
    header_size = _header_size(path)
    with path.open("rb") as handle:
        handle.seek(8)
        try:
            entry = load_json(handle.read(header_size), max_bytes=MAX_HEADER_BYTES)[name]
            start, end = (int(v) for v in entry["data_offsets"])
            shape = tuple(int(v) for v in entry["shape"])
        except (ValueError, TypeError, KeyError) as exc:
            raise EsmArtifactError(f"{path}: unreadable safetensors header: {exc}") from None
        if not 0 <= start <= end or end - start != 2 * math.prod(shape):
            raise EsmArtifactError(f"{path}: tensor {name!r} has inconsistent offsets")
        handle.seek(8 + header_size + start)
        raw = handle.read(end - start)
    if len(raw) != end - start:
        raise EsmArtifactError(f"{path}: tensor {name!r} runs past the end of the file")
    bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32).reshape(shape)


def _warn_if_hfselect_misreads(path: Path, metadata: EsmMetadata, layout: Layout) -> None:
    """hfselect picks the layout from ``version``, and a mismatch silently loads nothing."""
    legacy_version = metadata.version == LEGACY_FORMAT_VERSION
    if legacy_version == (layout == "legacy"):
        return
    logger.warning(
        "%s uses the %s tensor layout but config.json says version %r; "
        "hfselect.ESM.from_pretrained would keep randomly initialised weights for it. "
        "Re-save it with registry.esm.Esm.save to fix the pair",
        path,
        layout,
        metadata.version,
    )


def _rename_new_directory(staging: Path, target: Path) -> bool:
    """Move ``staging`` to ``target`` in one step when ``target`` does not exist yet."""
    if target.exists():
        return False
    try:
        staging.rename(target)
    except OSError:
        if target.is_dir():  # created concurrently: fall back to replacing files
            return False
        raise
    fsync_path(target.parent)
    return True
