"""``esm-registry catalog …``: commands, output formats and exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from catalog_support import config_files, esm_files
from esm_factory import legacy_config_bytes

from registry.stores.local import LocalStore

from cli_runner import run
from hub_server import FakeHub


@pytest.fixture
def registry_dir(tmp_path: Path) -> Path:
    store = LocalStore(tmp_path / "registry")
    for index in range(3):
        store.commit(f"alice/esm{index}", esm_files(index), "Add ESM")
    store.commit("bob/roberta", esm_files(7, base_model="roberta-base", language=["de"]), "x")
    store.commit("bob/legacy", config_files(json.loads(legacy_config_bytes())), "legacy")
    store.commit("bob/broken", config_files({"task_id": "o/t"}), "no base model")
    return tmp_path / "registry"


@pytest.fixture
def synced(registry_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Catalog arguments of a catalog synced from ``registry_dir``."""
    args = ["--catalog", str(tmp_path / "catalog.sqlite")]
    code, _, _ = run(["catalog", "sync", "--registry", str(registry_dir), *args], capsys)
    assert code == 0
    return args


def test_sync_prints_a_summary_and_reports_unusable_repos(
    registry_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = str(tmp_path / "c.sqlite")
    code, out, err = run(
        ["catalog", "sync", "--registry", str(registry_dir), "--catalog", catalog], capsys
    )
    assert code == 0 and err == ""
    assert f"into {catalog}" in out
    assert "6 listed: 5 added; 5 indexed (1 with problems), 1 unusable" in out
    assert "bob/broken: config.json names no base model" in out

    code, out, _ = run(
        [
            "catalog",
            "sync",
            "--registry",
            str(registry_dir),
            "--catalog",
            catalog,
            "--format",
            "json",
        ],
        capsys,
    )
    payload = json.loads(out)
    assert code == 0 and payload["unchanged"] == 6 and payload["added"] == []
    assert payload["unusable"][0]["repo_id"] == "bob/broken"


def test_catalog_path_from_the_environment(
    registry_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ESM_REGISTRY_CATALOG", str(tmp_path / "env.sqlite"))
    assert run(["catalog", "sync", "--registry", str(registry_dir)], capsys)[0] == 0
    assert (tmp_path / "env.sqlite").is_file()
    code, out, _ = run(["catalog", "coverage", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["google-bert/bert-base-uncased"] == 3


def test_search_table_json_and_csv(synced: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["catalog", "search", "--base-model", "bert-base-uncased", *synced], capsys)
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == [
        "REPO",
        "ID",
        "BASE",
        "MODEL",
        "TASK",
        "ARCH",
        "DIM",
        "EXAMPLES",
        "LANG",
        "PROBLEMS",
    ]
    assert [line.split()[0] for line in lines[1:-1]] == ["alice/esm0", "alice/esm1", "alice/esm2"]
    assert "google-bert/bert-base-uncased  org/task0 (default)" in lines[1]
    assert lines[-1] == "3 ESM(s)"

    code, out, _ = run(
        ["catalog", "search", "--language", "de", "--format", "json", *synced], capsys
    )
    hits = json.loads(out)
    assert code == 0 and [hit["repo_id"] for hit in hits] == ["bob/roberta"]
    assert hits[0]["base_model_canonical"] == "FacebookAI/roberta-base"

    code, out, _ = run(
        [
            "catalog",
            "search",
            "--min-examples",
            "102",
            "--architecture",
            "linear",
            "--order-by",
            "num_examples",
            "--desc",
            "--format",
            "csv",
            *synced,
        ],
        capsys,
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [row["repo_id"] for row in rows] == [
        "bob/legacy",
        "bob/roberta",
        "alice/esm2",
    ]
    assert rows[0]["version"] == "0.1.0" and "legacy-format" in rows[0]["problems"]


def test_search_limits_and_filters(synced: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["catalog", "search", "--limit", "2", *synced], capsys)
    assert code == 0 and out.splitlines()[-1] == "2 ESM(s) (--limit reached)"
    assert len(out.splitlines()) == 4
    code, out, _ = run(["catalog", "search", "--text", "amz20", *synced], capsys)
    assert code == 0 and out.splitlines()[1].startswith("bob/legacy")
    code, out, _ = run(
        ["catalog", "search", "--task-id", "org/task1", "--embedding-dim", "8", *synced], capsys
    )
    assert out.splitlines()[1].startswith("alice/esm1")
    code, out, _ = run(
        ["catalog", "search", "--with-problems", "--format", "json", *synced], capsys
    )
    assert [hit["repo_id"] for hit in json.loads(out)] == ["bob/legacy"]
    code, out, _ = run(["catalog", "search", "--task-id", "nobody/nothing", *synced], capsys)
    assert code == 0 and out == "no ESM matches\n"


def test_coverage_formats(synced: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["catalog", "coverage", *synced], capsys)
    assert code == 0
    assert out.splitlines()[0].split() == ["BASE", "MODEL", "ESMS"]
    assert out.splitlines()[1].split() == ["google-bert/bert-base-uncased", "3"]
    assert out.splitlines()[-1] == "5 ESM(s) for 3 base model(s)"
    code, out, _ = run(["catalog", "coverage", "--format", "csv", *synced], capsys)
    assert out.splitlines()[0] == "base_model,esms"


def test_show_entry(synced: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["catalog", "show", "bob/legacy", *synced], capsys)
    assert code == 0
    assert "task_subset           Dumbbell" in out
    assert "[legacy-format]" in out and "transformers_version" in out
    code, out, _ = run(["catalog", "show", "alice/esm0", "--format", "json", *synced], capsys)
    assert json.loads(out)["metadata"]["task"]["task_id"] == "org/task0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["catalog", "show", "nobody/nothing"], "nobody/nothing is not in the catalog"),
        (["catalog", "show", "bob/broken"], "cannot be indexed: config.json names no base"),
        (["catalog", "search", "--order-by", "name; DROP TABLE esms"], None),
        (["catalog", "export", "out.xlsx"], "name the file *.parquet or *.csv"),
    ],
)
def test_bad_input_gives_a_message_not_a_traceback(
    synced: list[str], capsys: pytest.CaptureFixture[str], args: list[str], message: str | None
) -> None:
    code, _, err = run([*args, *synced], capsys)
    assert code in (1, 2) and "Traceback" not in err
    assert err.startswith("esm-registry: error:")
    if message:
        assert message in err
    if "show" in args:
        assert code == 1
    else:
        assert code == 2


@pytest.mark.parametrize(
    "command", [["search"], ["coverage"], ["show", "a/b"], ["export", "x.csv"]]
)
def test_missing_catalog_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    code, _, err = run(["catalog", *command, "--catalog", str(tmp_path / "none.sqlite")], capsys)
    assert code == 1 and "no catalog at" in err and "Traceback" not in err
    assert not (tmp_path / "none.sqlite").exists()


def test_usage_errors_exit_2(synced: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["catalog", "search", "--limit", "0", *synced], capsys)[0] == 2
    assert run(["catalog", "search", "--embedding-dim", "x", *synced], capsys)[0] == 2
    assert run(["catalog"], capsys)[0] == 2
    assert run(["catalog", "sync", "--registry", "hubb", *synced], capsys)[0] == 2


def test_export_csv_and_parquet(
    synced: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    code, out, _ = run(["catalog", "export", str(tmp_path / "esms.csv"), *synced], capsys)
    assert code == 0 and out == f"exported 5 entries to {tmp_path / 'esms.csv'}\n"
    with (tmp_path / "esms.csv").open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 5
    code, _, _ = run(["catalog", "export", str(tmp_path / "esms.parquet"), *synced], capsys)
    assert code == 0 and pq.read_table(tmp_path / "esms.parquet").num_rows == 5


def test_publish_snapshot_and_sync_from_it(
    synced: list[str], registry_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        ["catalog", "publish-snapshot", "alice/catalog", "--registry", str(registry_dir), *synced],
        capsys,
    )
    assert code == 0 and "published a snapshot of 5 entries" in out
    fresh = ["--catalog", str(tmp_path / "fresh.sqlite")]
    code, out, _ = run(
        [
            "catalog",
            "sync",
            "--registry",
            str(registry_dir),
            "--from-snapshot",
            "alice/catalog",
            *fresh,
        ],
        capsys,
    )
    assert code == 0
    assert out.splitlines()[0].startswith("loaded 5 entries from the snapshot alice/catalog")
    assert "6 listed: 6 unchanged" in out
    code, _, err = run(
        [
            "catalog",
            "sync",
            "--registry",
            str(registry_dir),
            "--from-snapshot",
            "alice/none",
            *fresh,
        ],
        capsys,
    )
    assert code == 1 and "alice/none" in err


def test_sync_from_a_hub_url(
    fake_hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.add_repo("alice/esm0", esm_files(0))
    args = ["catalog", "sync", "--registry", fake_hub.url, "--catalog", str(tmp_path / "c.db")]
    code, out, _ = run([*args, "--no-progress", "--jobs", "2"], capsys)
    assert code == 0 and "1 listed: 1 added" in out
    fake_hub.fail_next(1, status=403, path_contains="/api/models")
    code, _, err = run(args, capsys)
    assert code == 1 and "Traceback" not in err and "403" in err


def test_table_shows_the_first_50_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from catalog_support import entry

    from registry.catalog import Catalog

    path = tmp_path / "big.sqlite"
    with Catalog(path) as catalog:
        catalog.sync(LocalStore(tmp_path / "empty"), progress=False)
        catalog.upsert(entry(f"org/esm{index:03d}", index) for index in range(55))
    code, out, _ = run(["catalog", "search", "--catalog", str(path)], capsys)
    assert code == 0 and len(out.splitlines()) == 52
    assert out.splitlines()[-1] == "55 ESM(s) (showing 50; --limit N shows more)"


def test_sync_never_clobbers_a_file_that_is_not_a_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "notes.txt"
    mine.write_text("my notes\n" * 50)
    registry = str(tmp_path / "registry")
    code, _, err = run(["catalog", "sync", "--registry", registry, "--catalog", str(mine)], capsys)
    assert code == 2 and "not an esm-registry catalog" in err and "--force" in err
    assert mine.read_text() == "my notes\n" * 50
    code, _, _ = run(
        ["catalog", "sync", "--registry", registry, "--catalog", str(mine), "--force"], capsys
    )
    assert code == 0
    assert [p.read_text() for p in tmp_path.glob("notes.txt.foreign-*")] == ["my notes\n" * 50]


def test_search_table_shows_whole_repo_ids_to_paste(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = LocalStore(tmp_path / "registry")
    long_id = "a-rather-long-organisation/ESM_all-MiniLM-L6-v2_some-namespace__some-long-task"
    store.commit(long_id, esm_files(1, base_model="sentence-transformers/all-MiniLM-L6-v2"), "x")
    catalog = ["--catalog", str(tmp_path / "c.sqlite")]
    assert run(["catalog", "sync", "--registry", str(store.root), *catalog], capsys)[0] == 0
    code, out, _ = run(["catalog", "search", *catalog], capsys)
    assert code == 0
    assert len(long_id) > 60
    assert long_id in out.split()
    assert "sentence-transformers/all-MiniLM-L6-v2" in out.split()
