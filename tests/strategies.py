"""Hypothesis strategies for valid ESM metadata, including hostile-looking text."""

from __future__ import annotations

import string
from typing import Any

from huggingface_hub.utils import HFValidationError, validate_repo_id
from hypothesis import strategies as st

from registry.metadata import EsmMetadata

# Characters that Markdown, HTML and YAML give a meaning to, mixed with letters and
# non-ASCII text, so that escaping is exercised on every run.
_SPECIAL = "*_[]<>&|#:-`~!\\'\"{},%@=+()"
_printable = st.characters(
    blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp"),
)
single_line = (
    st.text(
        alphabet=st.one_of(st.sampled_from(_SPECIAL + string.ascii_letters), _printable),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)

column = single_line.filter(lambda s: "," not in s)

_chunks = st.one_of(
    st.sampled_from(
        [
            *_SPECIAL,
            "\n",
            "\t",
            " ",
            "\n---\n",
            "\n```\n",
            "<!--",
            "-->",
            "\n# ",
            "\n- **Base Model:** x\n",
            "\nMSE: 1\n",
            "\n## Model Details\n",
            "&lt;",
            "\\",
            "|-",
            ": ",
            "'",
            '"',
        ]
    ),
    st.text(alphabet=_printable, min_size=1, max_size=8),
)
free_text = (
    st.lists(_chunks, min_size=1, max_size=25).map("".join).filter(lambda s: s.strip() != "")
)


def _valid_repo_id(value: str) -> bool:
    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


_name = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,20}[A-Za-z0-9]", fullmatch=True)
repo_id = st.one_of(_name, st.builds(lambda a, b: f"{a}/{b}", _name, _name)).filter(_valid_repo_id)
positive_float = st.floats(min_value=1e-12, max_value=1e6, allow_nan=False, exclude_min=False)
non_negative_float = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)
languages = st.lists(
    st.sampled_from(["en", "de", "fr", "pt-BR", "deu", "zh-Hant", "multilingual"]),
    unique=True,
    max_size=3,
)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


hyperparameters = st.fixed_dictionaries(
    {},
    optional={
        "num_epochs": st.integers(1, 1000),
        "batch_size": st.integers(1, 4096),
        "learning_rate": positive_float,
        "weight_decay": non_negative_float,
        "optimizer": single_line,
    },
)

task = st.fixed_dictionaries(
    {"task_id": repo_id},
    optional={
        "subset": single_line,
        "text_column": st.one_of(column, st.lists(column, min_size=2, max_size=3)),
        "label_column": single_line,
        "split": single_line,
        "num_examples": st.integers(1, 10**7),
        "seed": st.integers(0, 2**32),
    },
)

metadata_dicts = st.fixed_dictionaries(
    {"base_model": repo_id, "task": task},
    optional={
        "language": languages,
        "embedding_dim": st.integers(1, 8192),
        "lm_training": hyperparameters,
        "esm_training": hyperparameters,
        "developers": single_line,
        "version": single_line,
        "license": st.sampled_from(["apache-2.0", "mit", "cc-by-4.0", "other"]),
        "summary": free_text,
        "description": free_text,
        "training_details": free_text,
        "additional_info": free_text,
        "evaluation": st.fixed_dictionaries(
            {},
            optional={"esm_mse": non_negative_float, "lm": free_text, "details": free_text},
        ),
        "extra": st.dictionaries(
            st.sampled_from(["transformers_version", "architectures", "note", "return_dict"]),
            st.one_of(st.integers(), st.booleans(), single_line, st.lists(single_line, max_size=2)),
            max_size=3,
        ),
    },
)

metadata = metadata_dicts.map(EsmMetadata.model_validate)
