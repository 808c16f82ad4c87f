"""Command-line options that several commands take, defined once.

Each ``add_*`` function adds a group of options to a parser and the matching ``*_from_args``
turns the parsed values back into the library's objects, so that a flag means the same in
every command (``--registry``, ``--catalog``, the search filters, ``--no-progress``, …).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any, Literal, TypeVar

from ..embedding.pooling import POOLINGS
from ..filters import SearchFilters
from ..ranker.options import SCORING_BACKENDS, SCORING_DTYPES
from ._common import non_negative_int, positive_int

__all__ = [
    "EMBEDDING_FLAGS",
    "SCORING_FLAGS",
    "TARGET_FLAGS",
    "Flag",
    "add_catalog_option",
    "add_filter_options",
    "add_format_option",
    "add_option_group",
    "add_progress_option",
    "add_registry_options",
    "filters_from_args",
    "options_from_args",
    "progress_from_args",
]

REGISTRY_HELP = (
    "'hub' (the Hub at HF_ENDPOINT), an http(s):// URL of a Hub-compatible server, or a "
    "folder; default: the local registry in $ESM_REGISTRY_HOME/local"
)


def add_registry_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, registry_help: str = REGISTRY_HELP
) -> None:
    """``--registry REG`` and ``--token TOKEN``."""
    parser.add_argument("--registry", metavar="REG", help=registry_help)
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help="Hub access token (default: HF_TOKEN or the saved login; prefer those, since "
        "command lines are visible to other users)",
    )


def add_catalog_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, help: str | None = None
) -> None:
    """``--catalog PATH``."""
    parser.add_argument(
        "--catalog",
        metavar="PATH",
        help=help
        or "the catalog file (default: $ESM_REGISTRY_CATALOG, else "
        "$ESM_REGISTRY_HOME/catalog.sqlite)",
    )


def add_filter_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, base_model: bool = True
) -> None:
    """The search filters of :class:`~registry.filters.SearchFilters`, as flags.

    Args:
        parser: Where to add them.
        base_model: Add ``--base-model`` too (``rank`` defines its own, required one).
    """
    if base_model:
        parser.add_argument("--base-model", metavar="X", help="base model id (aliases match)")
    parser.add_argument("--architecture", metavar="A", help="ESM architecture, e.g. linear")
    parser.add_argument("--task-id", metavar="T", help="intermediate task (Hub dataset id)")
    parser.add_argument("--language", metavar="L", help="language code of the task, e.g. en")
    parser.add_argument(
        "--embedding-dim", type=positive_int, metavar="D", help="embedding dimension"
    )
    parser.add_argument(
        "--min-examples", type=non_negative_int, metavar="N", help="at least N task examples"
    )
    parser.add_argument("--text", metavar="Q", help="words in the task id, subset or description")
    problems = parser.add_mutually_exclusive_group()
    problems.add_argument(
        "--with-problems", action="store_true", help="only ESMs indexed with problems"
    )
    problems.add_argument(
        "--without-problems", action="store_true", help="only ESMs indexed without problems"
    )


def filters_from_args(args: argparse.Namespace) -> SearchFilters:
    """The :class:`SearchFilters` that :func:`add_filter_options` flags describe."""
    has_problems = True if args.with_problems else False if args.without_problems else None
    return SearchFilters(
        base_model=args.base_model,
        architecture=args.architecture,
        embedding_dim=args.embedding_dim,
        task_id=args.task_id,
        language=args.language,
        min_examples=args.min_examples,
        text=args.text,
        has_problems=has_problems,
    )


def add_progress_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--no-progress`` (bars are shown only on a terminal anyway)."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def progress_from_args(args: argparse.Namespace) -> bool | None:
    """``False`` with ``--no-progress``; else ``None``: bars only when stderr is a terminal."""
    return False if args.no_progress else None


def add_format_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, choices: Sequence[str]
) -> None:
    """``--format`` with ``choices``; the first is the default."""
    parser.add_argument(
        "--format",
        choices=choices,
        default=choices[0],
        help=f"output format (default {choices[0]})",
    )


# --- option groups of the library, as flags ----------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class Flag:
    """How one field of an option group appears on the command line.

    ``kind``: ``value`` (``--flag VALUE``), ``list`` (repeatable), ``switch`` (sets
    ``True``) or ``off`` (sets ``False``, e.g. ``--no-cache`` for ``cache``). ``dest`` is
    the attribute of the parsed arguments, when the field's name would clash with another
    option of the same command (``train`` has a fit's ``--batch-size`` too).
    """

    names: tuple[str, ...]
    help: str
    kind: Literal["value", "list", "switch", "off"] = "value"
    type: Callable[[str], Any] | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    dest: str | None = None


#: :class:`~registry.ranker.options.TargetOptions` as flags.
TARGET_FLAGS: Mapping[str, Flag] = {
    "text_column": Flag(
        ("--text-column",),
        "text column (default 'text'); repeat to join several",
        "list",
        metavar="C",
    ),
    "label_column": Flag(
        ("--label-column",),
        "label column (default 'label'); repeat for several regression targets",
        "list",
        metavar="L",
    ),
    "regression": Flag(("--regression",), "the labels are real-valued targets", "switch"),
    "num_examples": Flag(
        ("--num-examples",), "target examples to sample", type=positive_int, metavar="N"
    ),
    "seed": Flag(("--seed",), "seed of the sample", type=non_negative_int, metavar="S"),
    "subset": Flag(("--subset",), "subset of the Hub dataset", metavar="S"),
    "split": Flag(("--split",), "split of the Hub dataset (default train)", metavar="SPLIT"),
}

#: :class:`~registry.embedding.EmbeddingOptions` as flags (``rank`` and ``train``).
EMBEDDING_FLAGS: Mapping[str, Flag] = {
    "batch_size": Flag(
        ("--embedding-batch-size",),
        "texts per forward pass",
        type=positive_int,
        metavar="N",
        dest="embedding_batch_size",
    ),
    "max_length": Flag(("--max-length",), "tokens per text", type=positive_int, metavar="N"),
    "pooling": Flag(
        ("--pooling",),
        "how token states become one embedding ('auto': hfselect's rule for the model; it "
        "must match how the ESMs were trained)",
        choices=("auto", *POOLINGS),
    ),
    "device": Flag(("--device",), "cpu, cuda, cuda:1, … (default: a GPU if any)", metavar="D"),
    "model_path": Flag(
        ("--model-path",), "load the base model from this local copy", metavar="DIR"
    ),
    "cache": Flag(("--no-cache",), "do not cache the embeddings", "off"),
}

#: :class:`~registry.ranker.options.ScoringOptions` as flags.
SCORING_FLAGS: Mapping[str, Flag] = {
    "jobs": Flag(("--jobs",), "ESMs downloaded at the same time", type=positive_int, metavar="N"),
    "chunk_size": Flag(
        ("--chunk-size",),
        "linear ESMs per batched call of the numpy and torch backends (raise it on a GPU)",
        type=positive_int,
        metavar="N",
    ),
    "backend": Flag(
        ("--backend",),
        "where the LogME decompositions run: auto (torch on a GPU, else LAPACK's "
        "tridiagonal path when SciPy is installed), lapack, torch or numpy",
        choices=SCORING_BACKENDS,
    ),
    "dtype": Flag(
        ("--dtype",),
        "precision of the decompositions; float32 is faster but moves scores slightly",
        choices=SCORING_DTYPES,
    ),
    "threads": Flag(
        ("--threads",),
        "CPU threads for scoring (default: every core this process may use)",
        type=positive_int,
        metavar="N",
    ),
    "rank_correction": Flag(
        ("--no-rank-correction",),
        "with no more target examples than dimensions, report hfselect's LogME value "
        "instead of the corrected evidence",
        "off",
    ),
}


def _default(cls: type[Any], name: str) -> Any:
    spec = next(f for f in fields(cls) if f.name == name)
    return spec.default if spec.default is not MISSING else None


def add_option_group(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type[Any],
    flags: Mapping[str, Flag],
    *,
    skip: Sequence[str] = (),
    aliases: Mapping[str, Sequence[str]] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Add a flag for every field of the dataclass ``cls`` (but ``skip``), as ``flags`` say.

    Defaults are the dataclass's (or ``defaults``, which :func:`options_from_args` must get
    too), shown in the help; ``aliases`` adds more names to a flag.
    """
    for name, flag in flags.items():
        if name in skip:
            continue
        names = (*flag.names, *(aliases or {}).get(name, ()))
        default = (defaults or {}).get(name, _default(cls, name))
        shown = f" (default {default})" if flag.kind == "value" and default is not None else ""
        common: dict[str, Any] = {"dest": flag.dest or name, "help": flag.help + shown}
        if flag.kind == "switch":
            parser.add_argument(*names, action="store_true", default=None, **common)
        elif flag.kind == "off":
            parser.add_argument(*names, action="store_const", const=False, default=None, **common)
        elif flag.kind == "list":
            parser.add_argument(*names, action="append", metavar=flag.metavar, **common)
        else:
            if flag.type is not None:
                common["type"] = flag.type
            parser.add_argument(*names, choices=flag.choices, metavar=flag.metavar, **common)


def options_from_args(
    cls: type[T],
    flags: Mapping[str, Flag],
    args: argparse.Namespace,
    *,
    defaults: Mapping[str, Any] | None = None,
) -> T:
    """The ``cls`` instance the flags of :func:`add_option_group` describe (unset: defaults)."""
    given = dict(defaults or {})
    for name, flag in flags.items():
        value = getattr(args, flag.dest or name, None)
        if value is not None:
            given[name] = value
    return cls(**given)
