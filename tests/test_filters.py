"""Search filters: one meaning, whether the catalog's SQL or a metadata check applies them."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from catalog_support import entry
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.catalog import Catalog
from registry.errors import UsageError
from registry.filters import MAX_FILTER_INT, SearchFilters, text_matches, words
from registry.metadata import EsmMetadata

BASE_MODELS = ["bert-base-uncased", "google-bert/bert-base-uncased", "FacebookAI/roberta-base"]
TASKS = ["stanfordnlp/imdb", "Org/Sure-Thing", "kuroneko5943/amz20", "org/french_news"]
SUBSETS = [None, "Dumbbell", "100%_sure"]
DESCRIPTIONS = [None, "Movie reviews, sentiment polarity.", "Nouvelles françaises du café"]
LANGUAGES = [[], ["en"], ["en", "de"], ["pt-BR"]]


def _metadata(choice: dict[str, Any]) -> EsmMetadata:
    task: dict[str, Any] = {"task_id": choice["task"], "num_examples": choice["examples"]}
    if choice["subset"]:
        task["subset"] = choice["subset"]
    return EsmMetadata.model_validate(
        {
            "base_model": choice["base_model"],
            "task": task,
            "language": choice["language"],
            "embedding_dim": choice["dim"],
            "description": choice["description"],
        }
    )


entries = st.fixed_dictionaries(
    {
        "base_model": st.sampled_from(BASE_MODELS),
        "task": st.sampled_from(TASKS),
        "subset": st.sampled_from(SUBSETS),
        "description": st.sampled_from(DESCRIPTIONS),
        "language": st.sampled_from(LANGUAGES),
        "dim": st.sampled_from([8, 768]),
        "examples": st.sampled_from([10, 500, 1000]),
    }
)
filters = st.builds(
    SearchFilters,
    base_model=st.none() | st.sampled_from(["bert-base-uncased", "roberta-base", "gpt2"]),
    architecture=st.none() | st.sampled_from(["linear", "LINEAR"]),
    embedding_dim=st.none() | st.sampled_from([8, 768, 1024]),
    task_id=st.none() | st.sampled_from(["stanfordnlp/IMDB", "org/sure-thing", "x/y"]),
    language=st.none() | st.sampled_from(["en", "DE", "pt-br", "fr"]),
    min_examples=st.none() | st.sampled_from([0, 11, 500, 10_000]),
    text=st.none() | st.sampled_from(["imdb", "SURE 100", "cafe", "movie rev", "dumb", "news x"]),
)


@settings(max_examples=150)
@given(st.lists(entries, min_size=1, max_size=6), filters)
def test_catalog_sql_and_metadata_check_agree(
    choices: list[dict[str, Any]], search: SearchFilters
) -> None:
    metas = [_metadata(choice) for choice in choices]
    expected = [f"r/e{i}" for i, meta in enumerate(metas) if search.matches(meta)]
    with tempfile.TemporaryDirectory() as folder, Catalog(Path(folder) / "c.sqlite") as catalog:
        catalog.upsert(
            entry(f"r/e{i}", i, **_metadata(choice).model_dump())
            for i, choice in enumerate(choices)
        )
        assert catalog.search(search).repo_ids == sorted(expected)
        catalog._fts = False  # the fallback without FTS5 means the same
        assert catalog.search(search).repo_ids == sorted(expected)


def test_keywords_set_filters_on_top_of_an_object() -> None:
    base = SearchFilters(architecture="linear", language="en")
    combined = SearchFilters.of(base, language="de", min_examples=5)
    assert combined == SearchFilters(architecture="linear", language="de", min_examples=5)
    assert SearchFilters.of(base) is base
    assert combined.describe() == "architecture=linear, language=de, min_examples=5"


@pytest.mark.parametrize(
    "values",
    [
        {"embedding_dim": True},
        {"embedding_dim": 0},
        {"embedding_dim": MAX_FILTER_INT + 1},
        {"min_examples": -1},
        {"min_examples": 1.5},
        {"language": ""},
        {"task_id": "   "},
        {"text": "%_"},
        {"has_problems": "yes"},
    ],
)
def test_invalid_values_are_usage_errors(values: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        SearchFilters(**values)


def test_unknown_keyword_names_the_filters() -> None:
    with pytest.raises(UsageError, match=r"unknown filter.*archtecture.*architecture"):
        SearchFilters.of(archtecture="linear")


def test_listing_pushes_only_the_base_model_into_tags() -> None:
    tag_sets, rest = SearchFilters(base_model="bert-base-uncased", language="en").for_listing()
    assert tag_sets == [("BaseLM:bert-base-uncased",), ("BaseLM:google-bert/bert-base-uncased",)]
    assert rest == SearchFilters(language="en")
    assert SearchFilters().for_listing() == ([()], SearchFilters())
    with pytest.raises(UsageError, match="catalog"):
        SearchFilters(has_problems=True).for_listing()


def test_words_fold_case_and_accents_and_split_on_underscores() -> None:
    assert words("Café_News-2024 / ÉTÉ") == ["cafe", "news", "2024", "ete"]
    assert text_matches("caf new", ["org/café_news"])
    assert not text_matches("afe", ["org/café_news"])
