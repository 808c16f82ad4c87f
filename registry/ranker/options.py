"""What a ranking is configured by: three option groups, each defined once.

:func:`~registry.ranker.rank` takes a :class:`TargetOptions` (how the target is read and
sampled), an :class:`~registry.embedding.EmbeddingOptions` (how it is embedded) and a
:class:`ScoringOptions` (how ESMs are fetched and scored), plus
:class:`~registry.filters.SearchFilters` for which ESMs to score. The command line builds
the same objects from its flags (:mod:`registry.cli._options`), and for convenience
``rank()`` also takes any of their fields as a keyword, routed by :func:`route_options`.

Example:
    >>> groups = route_options(num_examples=200, pooling="mean", architecture="linear")
    >>> groups.target.num_examples, groups.embedding.pooling, groups.filters.architecture
    (200, 'mean', 'linear')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..embedding.options import EmbeddingOptions
from ..errors import UsageError
from ..filters import SearchFilters

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "SCORING_BACKENDS",
    "SCORING_DTYPES",
    "OptionGroups",
    "ScoringOptions",
    "TargetOptions",
    "route_options",
]

#: ESMs scored together: enough to amortise Python overhead, small enough to keep memory flat
#: (about 5 D^2 float64 per ESM in flight, ~24 MB each at D = 768).
DEFAULT_CHUNK_SIZE = 8
#: Scoring backends (:mod:`registry.ranker.backends`) and working precisions.
SCORING_BACKENDS: tuple[str, ...] = ("auto", "lapack", "torch", "numpy")
SCORING_DTYPES: tuple[str, ...] = ("float64", "float32")
#: Largest target sample (LogME's cost grows with it; a million is already far beyond need).
MAX_TARGET_EXAMPLES = 10_000_000


@dataclass(frozen=True)
class TargetOptions:
    """How the target dataset is read and sampled (the sample hfselect draws).

    Attributes:
        text_column: The text column, or several to join (default ``text``).
        label_column: The label column; several for multi-output regression (default
            ``label``).
        regression: The labels are real-valued targets, not classes.
        num_examples: Examples to sample (``None``: all of them).
        seed: Seed of the sample; the same seed draws the same rows as hfselect.
        subset: Subset (configuration) of a Hub dataset.
        split: Split of a Hub dataset (default ``train``) or a ``DatasetDict``.
    """

    text_column: str | Sequence[str] | None = None
    label_column: str | Sequence[str] | None = None
    regression: bool = False
    num_examples: int | None = 1000
    seed: int | None = 42
    subset: str | None = None
    split: str | None = None

    def __post_init__(self) -> None:
        number = self.num_examples
        if number is not None and (
            isinstance(number, bool)
            or not isinstance(number, int)
            or not 1 <= number <= MAX_TARGET_EXAMPLES
        ):
            raise UsageError(
                f"num_examples must be a whole number between 1 and {MAX_TARGET_EXAMPLES:,}, "
                f"got {number!r}"
            )
        seed = self.seed
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63
        ):
            raise UsageError(f"seed must be a whole number between 0 and 2**63 - 1, got {seed!r}")


@dataclass(frozen=True)
class ScoringOptions:
    """How ESMs are fetched and scored.

    The device is the embedding's (:attr:`~registry.embedding.EmbeddingOptions.device`):
    one ``device`` runs the base model and the decompositions.

    Attributes:
        jobs: ESMs downloaded at the same time.
        chunk_size: Linear ESMs per batched call of the numpy and torch backends.
        backend: ``auto``, ``lapack``, ``torch`` or ``numpy`` (see
            :mod:`registry.ranker.backends`).
        dtype: ``float64`` (agrees with hfselect to 1e-6) or ``float32`` (faster; the
            README says how much scores move).
        threads: CPU threads for scoring; ``None``: every core the process may use.
        rank_correction: With N <= D, report the evidence with the full D-dimensional prior
            (the default); ``False`` reports hfselect's value (see :mod:`.scoring`).
    """

    jobs: int = 8
    chunk_size: int = DEFAULT_CHUNK_SIZE
    backend: str = "auto"
    dtype: str = "float64"
    threads: int | None = None
    rank_correction: bool = True

    def __post_init__(self) -> None:
        for name in ("jobs", "chunk_size", "threads"):
            value = getattr(self, name)
            if name == "threads" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
                raise UsageError(f"{name} must be a whole number between 1 and 4096, got {value!r}")
        if self.backend not in SCORING_BACKENDS:
            raise UsageError(
                f"unknown scoring backend {self.backend!r}; use one of "
                f"{', '.join(SCORING_BACKENDS)}"
            )
        if self.dtype not in SCORING_DTYPES:
            raise UsageError(
                f"unknown dtype {self.dtype!r}; use one of {', '.join(SCORING_DTYPES)}"
            )


@dataclass(frozen=True)
class OptionGroups:
    """The option groups of one ranking, with defaults where none was given."""

    target: TargetOptions = field(default_factory=TargetOptions)
    embedding: EmbeddingOptions = field(default_factory=EmbeddingOptions)
    scoring: ScoringOptions = field(default_factory=ScoringOptions)
    filters: SearchFilters = field(default_factory=SearchFilters)


_GROUPS: dict[str, type[Any]] = {
    "target": TargetOptions,
    "embedding": EmbeddingOptions,
    "scoring": ScoringOptions,
    "filters": SearchFilters,
}


def route_options(groups: OptionGroups | None = None, **options: Any) -> OptionGroups:
    """``groups`` with each keyword set on the group that defines a field of that name.

    Raises:
        UsageError: a keyword that no group defines (the message lists the known ones).
    """
    groups = groups or OptionGroups()
    owner = {f.name: name for name, cls in _GROUPS.items() for f in fields(cls)}
    unknown = sorted(set(options) - set(owner))
    if unknown:
        raise UsageError(
            f"unknown ranking option(s) {', '.join(unknown)}; the options are "
            f"{', '.join(sorted(owner))}"
        )
    changes: dict[str, dict[str, Any]] = {}
    for key, value in options.items():
        changes.setdefault(owner[key], {})[key] = value
    updated = {name: replace(getattr(groups, name), **values) for name, values in changes.items()}
    return replace(groups, **updated)
