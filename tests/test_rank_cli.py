"""``esm-registry rank`` end to end: every output format, exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from esm_factory import make_esm
from rank_support import BASE_MODEL, build_model, reviews

from registry.cli import main
from registry.publish import publish_many
from registry.stores.local import LocalStore

pd = pytest.importorskip("pandas")
pytest.importorskip("transformers")

COUNT = 3


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rank-cli")
    model = build_model(root / "tiny-bert", "bert")
    store = LocalStore(root / "registry")
    esms = [make_esm(i, dim=32, base_model=BASE_MODEL) for i in range(COUNT)]
    assert publish_many(esms, store, namespace="alice", progress=False).ok
    texts, labels = reviews(40)
    target = root / "target.jsonl"
    pd.DataFrame({"sentence": texts, "label": labels}).to_json(target, orient="records", lines=True)
    return {"model": model, "registry": store.root, "target": target}


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ESM_REGISTRY_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _args(setup: dict[str, Path], *extra: str) -> list[str]:
    return [
        "rank",
        "--base-model",
        BASE_MODEL,
        "--model-path",
        str(setup["model"]),
        "--file",
        str(setup["target"]),
        "--text-column",
        "sentence",
        "--label-column",
        "label",
        "--registry",
        str(setup["registry"]),
        "--num-examples",
        "30",
        "--no-progress",
        *extra,
    ]


def test_table(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(setup)) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["RANK", "SCORE", "TASK", "ESM"]
    assert len(lines) >= COUNT + 1
    assert "org/task0 (default)" in out


def test_json_and_top(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(setup, "--format", "json")) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["entries"]) == COUNT
    assert data["target"]["num_examples"] == 30
    assert data["pooling"] == "pooler"
    scores = [entry["score"] for entry in data["entries"]]
    assert scores == sorted(scores, reverse=True)
    assert main(_args(setup, "--format", "json", "--top", "1")) == 0
    top = json.loads(capsys.readouterr().out)
    assert top["entries"] == data["entries"][:1]


def test_markdown(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(setup, "--format", "markdown", "--top", "2")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| rank | score | task_id |")
    assert len(lines) == 4


def test_csv(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(setup, "--format", "csv")) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["rank"] for row in rows] == [str(i) for i in range(1, COUNT + 1)]
    assert all(row["repo_id"].startswith("alice/") for row in rows)


def test_filters_and_explicit_esms(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(setup, "--task-id", "org/task1", "--format", "json")) == 0
    data = json.loads(capsys.readouterr().out)
    assert [entry["task_id"] for entry in data["entries"]] == ["org/task1"]
    repo = data["entries"][0]["repo_id"]
    assert main(_args(setup, "--esm", repo, "--format", "json")) == 0
    assert [e["repo_id"] for e in json.loads(capsys.readouterr().out)["entries"]] == [repo]


def test_exit_codes(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = _args(setup)
    missing[missing.index("--file") + 1] = str(tmp_path / "nope.csv")
    assert main(missing) == 2
    assert "no such file" in capsys.readouterr().err
    # A target without the column asked for is a dataset that cannot be used, not a usage
    # error: exit code 1, like every other unusable input.
    assert main(_args(setup, "--text-column", "nope")) == 1
    assert "no column 'nope'" in capsys.readouterr().err
    other = _args(setup)
    other[other.index("--base-model") + 1] = "other/model"
    assert main(other) == 1
    assert "no ESMs for the base model other/model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["rank", "--base-model", BASE_MODEL])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main([*_args(setup), "--dataset", "x/y"])
    assert exc.value.code == 2


def test_no_progress_hides_the_libraries_bars_too(
    setup: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    """transformers draws "Loading weights" itself; --no-progress must hide it as well."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.enable_progress_bar()
    capfd.readouterr()
    assert main(_args(setup, "--no-cache")) == 0
    err = capfd.readouterr().err
    assert "Loading weights" not in err
    assert "it/s]" not in err
    assert transformers_logging.is_progress_bar_enabled()  # restored for the rest


def test_library_bars_only_hide_and_restore() -> None:
    from huggingface_hub.utils import are_progress_bars_disabled
    from transformers.utils import logging as transformers_logging

    from registry._progress import library_bars

    transformers_logging.enable_progress_bar()
    with library_bars(False):
        assert are_progress_bars_disabled()
        assert not transformers_logging.is_progress_bar_enabled()
    assert not are_progress_bars_disabled()
    assert transformers_logging.is_progress_bar_enabled()
    with library_bars(True):
        assert transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    with library_bars(True):  # never turns on bars that were off
        assert not transformers_logging.is_progress_bar_enabled()
    transformers_logging.enable_progress_bar()


def test_a_target_that_cannot_be_ranked_exits_1_with_a_clear_error(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one_class = tmp_path / "one-class.csv"
    one_class.write_text("sentence,label\ngood film,pos\nbad film,pos\nfun plot,pos\n")
    args = _args(setup)
    args[args.index(str(setup["target"]))] = str(one_class)
    assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "same label (pos)" in captured.err and "Traceback" not in captured.err
