"""Catalog sync of a large registry on a slow Hub, compared with hfselect's one-by-one reads.

An in-process FakeHub (tests/hub_server.py, 127.0.0.1 only) is seeded directly with
``--count`` ESM repos (config.json + a README whose front matter carries the tags) and
answers every request after ``--latency`` seconds. Measured in this run:

1. a first ``Catalog.sync`` through ``HubStore`` (one listing, then config.json of every
   repo, ``--jobs`` at a time, through the huggingface_hub cache);
2. a second sync with nothing changed (one listing, no download);
3. hfselect reading the same configs as it does before ranking:
   ``find_esm_repo_ids()`` then ``fetch_esm_configs(ids)``, in a subprocess whose
   ``HF_ENDPOINT`` points at the fake Hub (hfselect reads it at import time), with a fresh
   ``HF_HOME``. Its import time is reported separately and not counted.

    python benchmarks/bench_catalog_sync.py [--count 2000] [--latency 0.02] [--jobs 8]
                                            [--skip-hfselect]

Exits with status 1 if the first sync takes 60 s or more, or the re-sync 2 s or more.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from registry.catalog import Catalog  # noqa: E402
from registry.metadata import EsmMetadata, to_config  # noqa: E402
from registry.stores.hub import HubStore  # noqa: E402

from hub_server import FakeHub  # noqa: E402

SYNC_TARGET_S = 60.0
RESYNC_TARGET_S = 2.0
BASE_MODELS = ["bert-base-multilingual-uncased", "google-bert/bert-base-uncased", "roberta-base"]

HFSELECT_SCRIPT = textwrap.dedent(
    """
    import json, time
    started = time.perf_counter()
    from hfselect.utils import fetch_esm_configs, find_esm_repo_ids
    imported = time.perf_counter()
    repo_ids = find_esm_repo_ids()
    configs = fetch_esm_configs(repo_ids)
    done = time.perf_counter()
    print(json.dumps({"import": imported - started, "seconds": done - imported,
                      "repo_ids": len(repo_ids), "configs": len(configs)}))
    """
)


def seed(hub: FakeHub, count: int) -> None:
    for index in range(count):
        base = BASE_MODELS[index % len(BASE_MODELS)]
        metadata = EsmMetadata.model_validate(
            {
                "base_model": base,
                "task": {
                    "task_id": f"owner{index % 97}/task-{index}",
                    "text_column": "text",
                    "label_column": "label",
                    "split": "train",
                    "num_examples": 1000,
                },
                "language": ["en"],
                "embedding_dim": 768,
                "version": "0.2.1",
            }
        )
        readme = (
            f"---\nbase_model: {base}\ndatasets:\n- {metadata.task.task_id}\n"
            f"tags:\n- embedding_space_map\n- BaseLM:{base}\n---\n\n# ESM\n"
        )
        config = json.dumps(to_config(metadata), indent=2)
        hub.add_repo(f"bench/esm-{index:05d}", {"config.json": config, "README.md": readme})


def run_hfselect(hub: FakeHub, home: Path) -> dict[str, float] | None:
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(home),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    env.pop("HF_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-c", HFSELECT_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print("hfselect run failed:\n" + result.stderr[-2000:])
        return None
    parsed: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="ESM repos (default 2000)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per request")
    parser.add_argument("--jobs", type=int, default=8, help="parallel reads (default 8)")
    parser.add_argument("--skip-hfselect", action="store_true", help="skip the comparison")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp, FakeHub() as hub:
        folder = Path(tmp)
        start = time.perf_counter()
        seed(hub, args.count)
        print(
            f"seeded {args.count} ESM repos in {time.perf_counter() - start:.1f} s; "
            f"latency {args.latency * 1000:.0f} ms per request, {args.jobs} jobs"
        )
        hub.latency = args.latency
        store = HubStore(endpoint=hub.url, token=False, cache_dir=folder / "hf-cache")

        with Catalog(folder / "catalog.sqlite") as catalog:
            hub.reset_log()
            start = time.perf_counter()
            summary = catalog.sync(store, jobs=args.jobs, progress=False)
            first = time.perf_counter() - start
            first_requests = len(hub.requests)
            print(
                f"first sync:  {first:6.2f} s  {first_requests} requests "
                f"({hub.count('GET', '/api/models?')} listing pages, "
                f"{hub.count('GET', '/resolve/')} downloads)  {summary.describe()}  "
                f"target < {SYNC_TARGET_S:.0f} s"
            )

            hub.reset_log()
            start = time.perf_counter()
            again = catalog.sync(store, jobs=args.jobs, progress=False)
            second = time.perf_counter() - start
            print(
                f"re-sync:     {second:6.2f} s  {len(hub.requests)} requests "
                f"({hub.count('GET', '/api/models?')} listing pages, "
                f"{hub.count('GET', '/resolve/')} downloads)  {again.describe()}  "
                f"target < {RESYNC_TARGET_S:.0f} s"
            )
            ok = len(catalog) == args.count and first < SYNC_TARGET_S and second < RESYNC_TARGET_S

        if not args.skip_hfselect:
            hub.reset_log()
            measured = run_hfselect(hub, folder / "hfselect-home")
            if measured is not None:
                seconds = measured["seconds"]
                print(
                    f"hfselect:    {seconds:6.2f} s  {len(hub.requests)} requests "
                    f"({int(measured['configs'])} of {int(measured['repo_ids'])} configs; "
                    f"import {measured['import']:.1f} s not counted)"
                )
                print(
                    f"ratio hfselect / first sync: {seconds / first:.1f}x; "
                    f"hfselect / re-sync: {seconds / second:.0f}x"
                )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
