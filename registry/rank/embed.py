"""Embed texts with a base language model, pooled exactly as hfselect pools them.

ESM-LogME compares a target's embeddings with the embeddings an ESM was trained on, so
both must come from the same model *and the same pooling*. :class:`Embedder` reproduces
the rules of ``hfselect.model_utils.get_pooled_output`` (hfselect 0.2.1), decided by the
class ``transformers.AutoModel`` loads:

============================================  ==========  ===============================
model                                         pooling     what is returned
============================================  ==========  ===============================
``BertModel`` whose id contains               ``mean``    mean of the last hidden states
``sentence-transformers``                                 over the attention mask
other ``BertModel``                           ``pooler``  ``pooler_output`` (tanh dense on
                                                          the first token)
``DistilBertModel``                           ``cls``     last hidden state of token 0
``RobertaModel``                              ``cls``     last hidden state of token 0
============================================  ==========  ===============================

hfselect refuses every other model class. hfselect only ever sees Hub ids; for a local
folder the rules look at the Hub id it stands for (``model_id``). Two extensions cover
cases hfselect never meets, so they cannot contradict an hfselect ESM: a local folder given
without ``model_id`` that holds a sentence-transformers model (``modules.json`` or
``config_sentence_transformers.json``) counts as one, and a sentence-transformers model of
another class is mean-pooled too. For anything else pass ``pooling=`` explicitly. The
chosen rule is :attr:`Embedder.pooling`, a plain string that the trainer records next to
an ESM and the ranker uses for the target.

hfselect pads every text to ``max_length`` (128) tokens. Padding is masked out, so the
embeddings do not depend on it (up to float rounding); :meth:`Embedder.embed` therefore
sorts texts by length, pads each batch only to its longest text, and restores the input
order, which is several times faster on short texts. As in hfselect the model receives
``input_ids`` and ``attention_mask`` only (no ``token_type_ids``), texts are truncated to
``max_length`` tokens, and several text columns are joined into one string with
:data:`TEXT_SEPARATOR` (``" [SEP] "``) rather than encoded as a tokenizer pair
(:func:`join_columns`).

Results are cached on disk (``<esm-registry home>/embeddings``) under a key made of the
model id, its commit (or a hash of the files of a local model folder), the pooling, the
maximum length and a hash of the texts; a second call with the same inputs does not load
the model. Cache files are safetensors, never pickles.

Example:
    >>> embedder = Embedder("google-bert/bert-base-uncased")  # doctest: +SKIP
    >>> embedder.embed(["a great movie", "a dull one"]).shape  # doctest: +SKIP
    (2, 768)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import safetensors
import safetensors.numpy

from .. import paths
from .._io import atomic_output
from .._progress import progress_bar
from ..errors import ModelLoadError, UsageError
from ..models import packaged_model_path

if TYPE_CHECKING:
    import torch

__all__ = [
    "CACHE_FORMAT",
    "POOLINGS",
    "TEXT_SEPARATOR",
    "Embedder",
    "Padding",
    "Pooling",
    "default_cache_dir",
    "default_device",
    "embed_texts",
    "join_columns",
    "texts_fingerprint",
]

logger = logging.getLogger(__name__)

#: How hfselect joins the texts of several columns (``hfselect.dataset.TEXT_SEPARATOR``).
TEXT_SEPARATOR: Final = " [SEP] "

Pooling = Literal["pooler", "mean", "cls"]
Padding = Literal["dynamic", "max_length"]
#: The pooling rules: ``pooler`` (BERT's pooler output), ``mean`` (masked mean of the last
#: hidden states, sentence-transformers), ``cls`` (last hidden state of the first token).
POOLINGS: Final[tuple[Pooling, ...]] = ("pooler", "mean", "cls")

#: Version of the cache key and file layout; bumped when either changes meaning.
CACHE_FORMAT: Final = 1

_ST_MARKER = "sentence-transformers"
_ST_FILES = ("modules.json", "config_sentence_transformers.json")
_SHA_RE = re.compile(r"[0-9a-f]{40}")
#: Texts tokenized and length-sorted together; bounds the token lists held at once.
_WINDOW = 16384
#: Model types whose position ids start after the padding index (RoBERTa's scheme).
_OFFSET_POSITIONS = frozenset({"roberta", "xlm-roberta", "camembert", "data2vec-text"})
#: Files of a local model folder that never affect the embeddings.
_IGNORED_FILES = {"README.md", ".gitattributes", ".gitignore"}

_hash_memo: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}
_hash_lock = threading.Lock()


# --- small public helpers --------------------------------------------------------------------


def default_device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    import torch  # noqa: PLC0415 - heavy, only when embedding

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_cache_dir() -> Path:
    """``<esm-registry home>/embeddings`` (see :func:`registry.paths.default_home`)."""
    return paths.default_embedding_cache()


def join_columns(columns: Sequence[Sequence[Any]]) -> list[str]:
    """Join several text columns row by row the way hfselect does (``" [SEP] "``).

    The separator is plain text: BERT-style tokenizers turn it into their ``[SEP]`` token,
    others tokenize the characters, exactly as hfselect's inputs were.

    Args:
        columns: One sequence of strings per column, all of the same length.

    Example:
        >>> join_columns([["a premise", "b"], ["a hypothesis", "c"]])
        ['a premise [SEP] a hypothesis', 'b [SEP] c']
    """
    if not columns:
        raise UsageError("join_columns needs at least one column")
    lengths = {len(column) for column in columns}
    if len(lengths) != 1:
        raise UsageError(f"text columns differ in length: {sorted(lengths)}")
    if len(columns) == 1:
        return [str(text) for text in columns[0]]
    return [TEXT_SEPARATOR.join(str(part) for part in row) for row in zip(*columns, strict=True)]


def texts_fingerprint(texts: Iterable[str]) -> str:
    """sha256 over the texts with their lengths, so ``["ab"]`` and ``["a", "b"]`` differ."""
    digest = hashlib.sha256()
    count = 0
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
        count += 1
    digest.update(count.to_bytes(8, "little"))
    return digest.hexdigest()


def _offline() -> bool:
    """``HF_HUB_OFFLINE`` as set now (huggingface_hub reads it once, at import)."""
    from huggingface_hub import constants  # noqa: PLC0415

    value = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return value in {"1", "ON", "YES", "TRUE"} or bool(constants.HF_HUB_OFFLINE)


def _folder_fingerprint(folder: Path) -> str:
    """sha256 of the files of a local model folder (names and contents), memoised by stat."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in _IGNORED_FILES)
    stats = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    memo_key = (str(folder.resolve()), stats)
    with _hash_lock:
        cached = _hash_memo.get(memo_key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        file_digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                file_digest.update(block)
        digest.update(file_digest.digest())
    result = "sha256:" + digest.hexdigest()
    with _hash_lock:
        _hash_memo[memo_key] = result
    return result


def _pooling_for(model_class: type, name: str, folder: Path | None) -> Pooling | None:
    """hfselect's rule for ``model_class`` (plus the sentence-transformers extension)."""
    from transformers import BertModel, DistilBertModel, RobertaModel  # noqa: PLC0415

    sentence_transformers = _ST_MARKER in name or (
        folder is not None and any((folder / marker).is_file() for marker in _ST_FILES)
    )
    if issubclass(model_class, BertModel):
        return "mean" if sentence_transformers else "pooler"
    if issubclass(model_class, (DistilBertModel, RobertaModel)):
        return "cls"
    return "mean" if sentence_transformers else None


# --- the embedder ---------------------------------------------------------------------------


class Embedder:
    """A base language model with its tokenizer and pooling, loaded on first use.

    Args:
        model: A Hub model id (``google-bert/bert-base-uncased``) or a local folder with a
            ``save_pretrained`` model and tokenizer.
        model_id: The Hub id that ``model`` stands for, when ``model`` is a local folder
            (a copy of a Hub model). It is what the pooling rule looks at (as hfselect
            looks at the name it loaded) and what the cache key names. Default: ``model``.
        revision: Branch, tag or commit of a Hub model (default: the main branch).
        pooling: ``"auto"`` (hfselect's rules, see the module docstring) or one of
            :data:`POOLINGS` to override them.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, … Default: :func:`default_device`.
        cache_dir: Folder of the embedding cache; default :func:`default_cache_dir`;
            ``False`` disables the cache.
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
            # A Hub id that a pip package ships (registry.models) loads from it, offline.
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
                from transformers import AutoConfig  # noqa: PLC0415

                self._config = self._load("config", AutoConfig)
            return self._config

    @property
    def embedding_dim(self) -> int:
        """``hidden_size`` of the model: the ``D`` of its ESMs."""
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
                from transformers import AutoModel  # noqa: PLC0415

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
                from transformers import AutoTokenizer  # noqa: PLC0415

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
        if self._model is not None:
            model_class: type = type(self._model)
        else:
            from transformers.models.auto.modeling_auto import MODEL_MAPPING  # noqa: PLC0415

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
        pooling = _pooling_for(model_class, self.model_id, folder)
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
            return _folder_fingerprint(self._folder)
        revision = self._revision
        if revision is not None and _SHA_RE.fullmatch(revision):
            return revision
        if not self.local_files_only:
            try:
                from huggingface_hub import HfApi  # noqa: PLC0415

                sha = HfApi().model_info(self.model_name, revision=revision).sha
                if sha:
                    return str(sha)
            except Exception as exc:  # the local cache may still know it
                logger.debug("cannot ask the Hub for the commit of %s: %s", self.model_name, exc)
        from huggingface_hub import try_to_load_from_cache  # noqa: PLC0415

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
        fields = {
            "format": CACHE_FORMAT,
            # A folder without a Hub id is known by its files alone, wherever it lies.
            "model_id": self._explicit_id or (None if self._folder else self.model_id),
            "revision": revision,
            "pooling": self.pooling,
            "max_length": max_length,
            "texts": texts_fingerprint(texts),
            "count": len(texts),
        }
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

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
            texts: The texts (join several columns first with :func:`join_columns`).
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
        if path is not None:
            cached = _read_cache(path, key, len(texts))
            if cached is not None:
                logger.info("embeddings of %d texts read from the cache %s", len(texts), path)
                return cached
        embeddings = self._compute(
            texts, batch_size=batch_size, max_length=max_length, padding=padding, progress=progress
        )
        if path is not None and key is not None:
            self._write_cache(path, key, embeddings, max_length)
        return embeddings

    def _fit_max_length(self, max_length: int) -> int:
        """``max_length``, lowered to what the model's position embeddings allow."""
        limit = getattr(self.config, "max_position_embeddings", None)
        if not isinstance(limit, int):
            return max_length
        if getattr(self.config, "model_type", "") in _OFFSET_POSITIONS:
            limit -= int(getattr(self.config, "pad_token_id", 0) or 0) + 1
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

    def _cache_path(self, key: str | None) -> Path | None:
        if key is None or self._cache_dir is None:
            return None
        return self._cache_dir / key[:2] / f"{key}.safetensors"

    def _write_cache(
        self, path: Path, key: str, embeddings: np.ndarray[Any, Any], max_length: int
    ) -> None:
        metadata = {
            "key": key,
            "format": str(CACHE_FORMAT),
            "model_id": self.model_id,
            "revision": str(self.revision),
            "pooling": self.pooling,
            "max_length": str(max_length),
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(path) as temporary:
                safetensors.numpy.save_file(
                    {"embeddings": embeddings}, str(temporary), metadata=metadata
                )
        except OSError as exc:  # a cache that cannot be written is no reason to fail
            logger.warning("cannot write the embedding cache %s: %s", path, exc)
            return
        logger.debug("cached embeddings in %s", path)

    def _compute(
        self,
        texts: list[str],
        *,
        batch_size: int,
        max_length: int,
        padding: Padding,
        progress: bool | None,
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        import torch  # noqa: PLC0415

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
                    pooled = _pool(model, input_ids.to(device), mask.to(device), pooling)
                    out[[start + i for i in rows]] = pooled.float().cpu().numpy()
                    bar.update(1)
        if not np.isfinite(out).all():
            raise ModelLoadError(f"{self.model_name} produced non-finite embeddings")
        return out


def _pool(model: Any, input_ids: Any, mask: Any, pooling: Pooling) -> Any:
    """One forward pass, pooled as ``hfselect.model_utils.get_pooled_output`` does."""
    outputs = model(input_ids, attention_mask=mask)
    if pooling == "pooler":
        pooled = getattr(outputs, "pooler_output", None)
        if pooled is None:
            raise ModelLoadError(
                f"{type(model).__name__} has no pooler output; use pooling='cls' or 'mean'"
            )
        return pooled
    hidden = outputs.last_hidden_state
    if pooling == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def _read_cache(
    path: Path, key: str | None, count: int
) -> np.ndarray[Any, np.dtype[np.float32]] | None:
    """The cached array, or ``None`` when absent, foreign or damaged (then recomputed)."""
    if not path.is_file():
        return None
    try:
        with safetensors.safe_open(str(path), framework="np") as handle:
            stored_key = (handle.metadata() or {}).get("key")
            array = handle.get_tensor("embeddings")
    except Exception as exc:  # safetensors raises its own error types
        logger.warning("ignoring the damaged embedding cache file %s: %s", path, exc)
        return None
    if (
        stored_key != key
        or array.dtype != np.float32
        or array.ndim != 2
        or array.shape[0] != count
        or not np.isfinite(array).all()
    ):
        logger.warning("ignoring the embedding cache file %s: it does not match", path)
        return None
    return np.ascontiguousarray(array)


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
