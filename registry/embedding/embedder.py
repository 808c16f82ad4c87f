"""Embed texts with a base language model, pooled exactly as hfselect pools them.

Training fits an ESM on embeddings and ranking applies it to embeddings, so both embed
through :class:`Embedder`: the same model loading (packaged models, local folders, Hub ids
offline), the same pooling (:mod:`.pooling`) and the same cache (:mod:`.cache`). The
chosen rule is :attr:`Embedder.pooling`, a plain string that the trainer records next to
an ESM and the ranker uses for the target.

hfselect pads every text to ``max_length`` (128) tokens. Padding is masked out, so the
embeddings do not depend on it (up to float rounding); :meth:`Embedder.embed` therefore
sorts texts by length, pads each batch only to its longest text, and restores the input
order, which is several times faster on short texts. As in hfselect the model receives
``input_ids`` and ``attention_mask`` only (no ``token_type_ids``) and texts are truncated
to ``max_length`` tokens. Several text columns are joined into one text before embedding
(:func:`registry.labelled.join_columns`).

A second call with the same inputs reads the cache and does not load the model. torch
and transformers are imported only when a model must run: what the cache key needs from
the model's config (the pooling rule, the longest input) is remembered next to the cached
embeddings the first time it is looked up, keyed by the model's commit, so a later
process that finds its embeddings cached never imports them.

Example:
    >>> embedder = Embedder("google-bert/bert-base-uncased")  # doctest: +SKIP
    >>> embedder.embed(["a great movie", "a dull one"]).shape  # doctest: +SKIP
    (2, 768)
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, cast

import numpy as np
from huggingface_hub import HfApi, try_to_load_from_cache
from huggingface_hub import constants as hf_constants

from .._progress import library_bars, progress_bar
from ..errors import ModelLoadError, UsageError
from .cache import (
    cache_key,
    cache_path,
    default_cache_dir,
    facts_path,
    folder_fingerprint,
    read_cache,
    read_facts,
    write_cache,
    write_facts,
)
from .models import packaged_model_path
from .pooling import POOLINGS, Pooling, pooled_output, pooling_rule

if TYPE_CHECKING:
    import torch

__all__ = ["Embedder", "Padding", "default_device", "embed_texts"]

logger = logging.getLogger(__name__)

Padding = Literal["dynamic", "max_length"]

_SHA_RE = re.compile(r"[0-9a-f]{40}")
#: Texts tokenized and length-sorted together; bounds the token lists held at once.
_WINDOW: Final = 16384
#: Model types whose position ids start after the padding index (RoBERTa's scheme).
_OFFSET_POSITIONS = frozenset({"roberta", "xlm-roberta", "camembert", "data2vec-text"})


def default_device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    import torch  # noqa: PLC0415 - heavy, only when a model runs

    return "cuda" if torch.cuda.is_available() else "cpu"


def _offline() -> bool:
    """``HF_HUB_OFFLINE`` as set now (huggingface_hub reads it once, at import)."""
    value = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return value in {"1", "ON", "YES", "TRUE"} or bool(hf_constants.HF_HUB_OFFLINE)


class Embedder:
    """A base language model with its tokenizer and pooling, loaded on first use.

    Args:
        model: A Hub model id (``google-bert/bert-base-uncased``) or a local folder with a
            ``save_pretrained`` model and tokenizer.
        model_id: The Hub id that ``model`` stands for, when ``model`` is a local folder
            (a copy of a Hub model). It is what the pooling rule looks at (as hfselect
            looks at the name it loaded) and what the cache key names. Default: ``model``.
        revision: Branch, tag or commit of a Hub model (default: the main branch).
        pooling: ``"auto"`` (hfselect's rules, see :mod:`.pooling`) or one of
            :data:`POOLINGS` to override them.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, … Default: :func:`default_device`.
        cache_dir: Folder of the embedding cache; default ``<esm-registry home>/embeddings``
            (:func:`.cache.default_cache_dir`); ``False`` disables the cache.
        local_files_only: Never download; default: when ``HF_HUB_OFFLINE`` is set, and
            always for a local folder.

    Raises:
        UsageError: an unknown pooling.

    Example:
        >>> embedder = Embedder("/models/minilm", model_id="sentence-transformers/"
        ...                     "all-MiniLM-L6-v2")  # doctest: +SKIP
        >>> embedder.pooling  # doctest: +SKIP
        'mean'
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        model_id: str | None = None,
        revision: str | None = None,
        pooling: Pooling | Literal["auto"] = "auto",
        device: str | torch.device | None = None,
        cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
        local_files_only: bool | None = None,
    ) -> None:
        if pooling != "auto" and pooling not in POOLINGS:
            raise UsageError(f"unknown pooling {pooling!r}; use 'auto' or one of {POOLINGS}")
        path = Path(model).expanduser()
        self._folder: Path | None = path.absolute() if path.is_dir() else None
        if self._folder is None and isinstance(model, os.PathLike):
            raise ModelLoadError(f"no such model folder: {path}")
        if self._folder is None:
            # A Hub id that a pip package ships (.models) loads from it, offline.
            packaged = packaged_model_path(str(model))
            if packaged is not None:
                self._folder = packaged
                model_id = model_id or str(model)
        self.model_name = str(self._folder) if self._folder is not None else str(model)
        self.model_id = model_id or str(model)
        self._explicit_id = model_id
        self._revision = revision
        self._requested_pooling = pooling
        self._device = device
        self._cache_dir: Path | None
        if cache_dir is False:
            self._cache_dir = None
        else:
            self._cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._local_files_only = local_files_only
        self._lock = threading.RLock()
        self._config: Any = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._pooling: Pooling | None = None
        self._commit: str | None = None
        self._commit_resolved = False
        self._warned_lengths: set[int] = set()
        self._facts: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Embedder({self.model_name!r}, model_id={self.model_id!r})"

    # --- what is loaded ---------------------------------------------------------------------

    @property
    def local_files_only(self) -> bool:
        """Whether loading may download (never for local folders or offline mode)."""
        if self._folder is not None:
            return True
        return _offline() if self._local_files_only is None else self._local_files_only

    @property
    def config(self) -> Any:
        """The model's ``transformers`` config (loaded without the weights)."""
        with self._lock:
            if self._config is None:
                from transformers import AutoConfig  # noqa: PLC0415 - heavy, only when used

                self._config = self._load("config", AutoConfig)
            return self._config

    @property
    def embedding_dim(self) -> int:
        """``hidden_size`` of the model: the ``D`` of its ESMs."""
        remembered = self._remembered("embedding_dim")
        if remembered is not None:
            return int(remembered)
        dim = getattr(self.config, "hidden_size", None) or getattr(self.config, "dim", None)
        if not isinstance(dim, int):
            raise ModelLoadError(f"{self.model_name} does not say its hidden size")
        return dim

    @property
    def pooling(self) -> Pooling:
        """The pooling rule in use (resolved from the config when ``"auto"``)."""
        with self._lock:
            if self._pooling is None:
                self._pooling = self._resolve_pooling()
            return self._pooling

    @property
    def revision(self) -> str | None:
        """The commit of a Hub model, ``sha256:…`` of a local folder's files, or ``None``
        when the commit cannot be told (the cache is then not used)."""
        with self._lock:
            if not self._commit_resolved:
                self._commit = self._resolve_commit()
                self._commit_resolved = True
            return self._commit

    @property
    def device(self) -> str:
        """The device the model runs on."""
        return str(self._device) if self._device is not None else default_device()

    @property
    def model(self) -> Any:
        """The ``transformers`` model (loaded on first access, in eval mode)."""
        with self._lock:
            if self._model is None:
                from transformers import AutoModel  # noqa: PLC0415 - heavy, only when used

                model = self._load("model", AutoModel)
                model.eval()
                self._model = model.to(self.device)
                logger.info(
                    "loaded %s (%s, pooling %s) on %s",
                    self.model_name,
                    type(model).__name__,
                    self.pooling,
                    self.device,
                )
            return self._model

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (loaded on first access)."""
        with self._lock:
            if self._tokenizer is None:
                from transformers import AutoTokenizer  # noqa: PLC0415 - heavy, only when used

                self._tokenizer = self._load("tokenizer", AutoTokenizer)
            return self._tokenizer

    def _load(self, what: str, factory: Any) -> Any:
        revision = None if self._folder is not None else (self.revision or self._revision)
        try:
            return factory.from_pretrained(
                self.model_name, revision=revision, local_files_only=self.local_files_only
            )
        except (OSError, ValueError, KeyError) as exc:
            hint = (
                " (offline: download it once online, or pass a local folder)"
                if self.local_files_only and self._folder is None
                else ""
            )
            raise ModelLoadError(
                f"cannot load the {what} of {self.model_name}{hint}: {exc}"
            ) from exc

    def _resolve_pooling(self) -> Pooling:
        if self._requested_pooling != "auto":
            return self._requested_pooling
        remembered = self._remembered("pooling")
        if remembered in POOLINGS and self._model is None:
            return cast(Pooling, remembered)
        if self._model is not None:
            model_class: type = type(self._model)
        else:
            # Heavy, only when the pooling is looked up.
            from transformers.models.auto.modeling_auto import (  # noqa: PLC0415
                MODEL_MAPPING,
            )

            try:
                found: Any = MODEL_MAPPING[type(self.config)]
            except (KeyError, ValueError) as exc:
                raise ModelLoadError(
                    f"transformers has no AutoModel class for {self.model_name} "
                    f"({type(self.config).__name__})"
                ) from exc
            model_class = found[0] if isinstance(found, tuple) else found
        # A folder's own files only speak for it when no Hub id says what it is.
        folder = self._folder if self._explicit_id is None else None
        pooling = pooling_rule(model_class, self.model_id, folder)
        if pooling is None:
            raise UsageError(
                f"hfselect has no pooling rule for {model_class.__name__} ({self.model_id}); "
                f"pass pooling= one of {', '.join(POOLINGS)} (it must match how the ESMs "
                "of this model were trained)"
            )
        logger.debug("pooling for %s (%s): %s", self.model_id, model_class.__name__, pooling)
        return pooling

    def _resolve_commit(self) -> str | None:
        if self._folder is not None:
            return folder_fingerprint(self._folder)
        revision = self._revision
        if revision is not None and _SHA_RE.fullmatch(revision):
            return revision
        if not self.local_files_only:
            try:
                sha = HfApi().model_info(self.model_name, revision=revision).sha
                if sha:
                    return str(sha)
            except Exception as exc:  # the local cache may still know it
                logger.debug("cannot ask the Hub for the commit of %s: %s", self.model_name, exc)
        cached = try_to_load_from_cache(self.model_name, "config.json", revision=revision)
        if isinstance(cached, str):
            return Path(cached).parent.name
        logger.info("cannot tell the commit of %s: embeddings will not be cached", self.model_name)
        return None

    # --- embedding --------------------------------------------------------------------------

    def cache_key(self, texts: Sequence[str], *, max_length: int = 128) -> str | None:
        """The cache key of these texts, or ``None`` when the model's commit is unknown."""
        revision = self.revision
        if revision is None:
            return None
        return cache_key(
            # A folder without a Hub id is known by its files alone, wherever it lies.
            model_id=self._explicit_id or (None if self._folder else self.model_id),
            revision=revision,
            pooling=self.pooling,
            max_length=max_length,
            texts=list(texts),
        )

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        max_length: int = 128,
        device: str | torch.device | None = None,
        padding: Padding = "dynamic",
        progress: bool | None = None,
        use_cache: bool = True,
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Pooled embeddings of ``texts``, one row per text in input order.

        Args:
            texts: The texts (join several columns first, see :mod:`registry.labelled`).
            batch_size: Texts per forward pass.
            max_length: Tokens per text at most (longer texts are truncated), as in hfselect.
            device: Run on this device instead of the embedder's.
            padding: ``"dynamic"`` pads each length-sorted batch to its longest text;
                ``"max_length"`` pads every text to ``max_length`` as hfselect does (slower,
                for comparisons; both give the same embeddings up to rounding).
            progress: Show a progress bar; ``None``: only when stderr is a terminal.
            use_cache: Read and write the on-disk cache (when the embedder has one).

        Returns:
            float32 array of shape ``(len(texts), D)``.

        Raises:
            UsageError: invalid arguments, or texts that are not strings.
            ModelLoadError: the model or tokenizer cannot be loaded.
        """
        texts = list(texts)
        if batch_size < 1:
            raise UsageError(f"batch_size must be at least 1, got {batch_size}")
        if max_length < 2:
            raise UsageError(f"max_length must be at least 2 tokens, got {max_length}")
        if padding not in ("dynamic", "max_length"):
            raise UsageError(f"padding must be 'dynamic' or 'max_length', got {padding!r}")
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise UsageError(f"text {bad} is {type(texts[bad]).__name__}, not a string")
        if device is not None and str(device) != self.device:
            with self._lock:
                self._device = device
                if self._model is not None:
                    self._model = self._model.to(str(device))
        if not texts:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        max_length = self._fit_max_length(max_length)
        key = self.cache_key(texts, max_length=max_length) if use_cache else None
        path = self._cache_path(key)
        if path is not None and key is not None:
            cached = read_cache(path, key, len(texts))
            if cached is not None:
                logger.info("embeddings of %d texts read from the cache %s", len(texts), path)
                self._remember()
                return cached
        embeddings = self._compute(
            texts, batch_size=batch_size, max_length=max_length, padding=padding, progress=progress
        )
        if path is not None and key is not None:
            self._write_cache(path, key, embeddings, max_length)
            self._remember()
        return embeddings

    def _position_limit(self) -> int | None:
        """The most tokens the model's position embeddings take (``None``: no limit)."""
        facts = self._load_facts()
        if facts is not None:
            limit = facts.get("position_limit")
            return limit if isinstance(limit, int) else None
        limit = getattr(self.config, "max_position_embeddings", None)
        if not isinstance(limit, int):
            return None
        if getattr(self.config, "model_type", "") in _OFFSET_POSITIONS:
            limit -= int(getattr(self.config, "pad_token_id", 0) or 0) + 1
        return int(limit)

    def _fit_max_length(self, max_length: int) -> int:
        """``max_length``, lowered to what the model's position embeddings allow."""
        limit = self._position_limit()
        if limit is None:
            return max_length
        if max_length > limit:
            if max_length in self._warned_lengths:
                return limit
            self._warned_lengths.add(max_length)
            logger.warning(
                "%s takes at most %d tokens; truncating texts to %d instead of %d",
                self.model_id,
                limit,
                limit,
                max_length,
            )
            return limit
        return max_length

    # --- what the cache key needs from the config, remembered across processes -------------

    def _facts_path(self) -> Path | None:
        """Where the facts of this model (at its commit, with this pooling) are remembered."""
        if self._cache_dir is None:
            return None
        revision = self.revision
        if revision is None:
            return None
        return facts_path(
            self._cache_dir,
            model_id=self._explicit_id or (None if self._folder else self.model_id),
            revision=revision,
            pooling=self._requested_pooling,
        )

    def _load_facts(self) -> dict[str, Any] | None:
        with self._lock:
            if self._facts is None and self._config is None:
                path = self._facts_path()
                self._facts = read_facts(path) if path is not None else None
            return self._facts

    def _remembered(self, name: str) -> Any:
        facts = self._load_facts()
        return None if facts is None else facts.get(name)

    def _remember(self) -> None:
        """Write the facts looked up through transformers, for the next process."""
        if self._facts is not None or self._config is None:
            return
        path = self._facts_path()
        if path is None:
            return
        dim = getattr(self.config, "hidden_size", None) or getattr(self.config, "dim", None)
        write_facts(
            path,
            {
                "pooling": self.pooling,
                "position_limit": self._position_limit(),
                "embedding_dim": dim if isinstance(dim, int) else None,
            },
        )

    def _cache_path(self, key: str | None) -> Path | None:
        if key is None or self._cache_dir is None:
            return None
        return cache_path(self._cache_dir, key)

    def _write_cache(
        self, path: Path, key: str, embeddings: np.ndarray[Any, Any], max_length: int
    ) -> None:
        metadata = {
            "model_id": self.model_id,
            "revision": str(self.revision),
            "pooling": self.pooling,
            "max_length": str(max_length),
        }
        write_cache(path, key, embeddings, metadata)

    def _compute(
        self,
        texts: list[str],
        *,
        batch_size: int,
        max_length: int,
        padding: Padding,
        progress: bool | None,
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        import torch  # noqa: PLC0415 - heavy, only when a model runs

        with library_bars(progress):  # transformers draws a bar while loading weights
            model, tokenizer, pooling = self.model, self.tokenizer, self.pooling
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        left = getattr(tokenizer, "padding_side", "right") == "left"
        device = next(model.parameters()).device
        out = np.empty((len(texts), self.embedding_dim), dtype=np.float32)
        total = -(-len(texts) // batch_size)
        with (
            progress_bar(total=total, desc="embedding", unit="batch", progress=progress) as bar,
            torch.inference_mode(),
        ):
            for start in range(0, len(texts), _WINDOW):
                window = texts[start : start + _WINDOW]
                ids = tokenizer(
                    window,
                    truncation=True,
                    max_length=max_length,
                    padding=False,
                    return_attention_mask=False,
                    return_token_type_ids=False,
                )["input_ids"]
                # Longest first: a batch that does not fit in memory fails at once.
                order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
                for first in range(0, len(order), batch_size):
                    rows = order[first : first + batch_size]
                    width = max_length if padding == "max_length" else len(ids[rows[0]])
                    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
                    mask = torch.zeros((len(rows), width), dtype=torch.long)
                    for row, index in enumerate(rows):
                        tokens = ids[index]
                        span = slice(width - len(tokens), width) if left else slice(0, len(tokens))
                        input_ids[row, span] = torch.tensor(tokens, dtype=torch.long)
                        mask[row, span] = 1
                    pooled = pooled_output(model, input_ids.to(device), mask.to(device), pooling)
                    out[[start + i for i in rows]] = pooled.float().cpu().numpy()
                    bar.update(1)
        if not np.isfinite(out).all():
            raise ModelLoadError(f"{self.model_name} produced non-finite embeddings")
        return out


def embed_texts(
    model: str | os.PathLike[str],
    texts: Sequence[str],
    *,
    model_id: str | None = None,
    pooling: Pooling | Literal["auto"] = "auto",
    batch_size: int = 32,
    max_length: int = 128,
    device: str | None = None,
    cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
    progress: bool | None = None,
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """One-shot :meth:`Embedder.embed`; see :class:`Embedder` for the arguments."""
    embedder = Embedder(
        model, model_id=model_id, pooling=pooling, device=device, cache_dir=cache_dir
    )
    return embedder.embed(texts, batch_size=batch_size, max_length=max_length, progress=progress)
