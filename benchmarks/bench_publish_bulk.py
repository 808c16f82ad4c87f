"""Bulk publishing: wall time of ``publish_many`` with ``--jobs 8`` vs ``--jobs 1``.

Publishes COUNT freshly generated ESMs (D×D float32 weights) to a FakeHub
(tests/hub_server.py) that sleeps LATENCY seconds before answering each request, once with
one worker and once with JOBS workers, each run on an empty hub, then re-runs the parallel
case to time a resume in which everything is already published.

Client and FakeHub share this machine's CPUs: per ESM, JSON/base64 encoding of the inline
upload on one side and decoding on the other cost tens of ms, which bounds the speed-up on a
machine with few cores (the run prints the CPU time per ESM). ``--hub-process`` runs the
FakeHub in a child process instead of a thread of this one, so the two do not share a GIL.

    python benchmarks/bench_publish_bulk.py                 # 200 ESMs, D=768, 50 ms, 8 jobs
    python benchmarks/bench_publish_bulk.py --count 20      # a quick run
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402

from registry.esm import Esm  # noqa: E402
from registry.metadata import EsmMetadata  # noqa: E402
from registry.publish import PublishSummary, publish_many  # noqa: E402
from registry.stores.hub import HubStore  # noqa: E402

from hub_server import FakeHub  # noqa: E402

TOKEN = "hf_bench_write_token"
USER = "bench"


def make_dirs(root: Path, count: int, dim: int) -> list[Path]:
    rng = np.random.default_rng(0)
    folders = []
    for index in range(count):
        meta = EsmMetadata.model_validate(
            {
                "base_model": "bert-base-multilingual-uncased",
                "task": {
                    "task_id": f"org/task{index:04d}",
                    "subset": "default",
                    "text_column": "text",
                    "label_column": "label",
                    "split": "train",
                    "num_examples": 1000,
                },
                "language": ["en"],
            }
        )
        weight = rng.standard_normal((dim, dim), dtype=np.float32)
        bias = rng.standard_normal(dim, dtype=np.float32)
        folders.append(Esm(meta, weight, bias).save(root / f"esm{index:04d}"))
    return folders


def _serve(conn: Connection, latency: float) -> None:
    """Child process: run a FakeHub until told to stop; answer request counts."""
    with FakeHub(tokens={TOKEN: USER}) as hub:
        hub.latency = latency
        conn.send(hub.url)
        while (message := conn.recv()) != "stop":
            conn.send(hub.count() if message == "count" else None)


@contextlib.contextmanager
def hub_at(latency: float, same_process: bool) -> Iterator[tuple[str, Callable[[], int]]]:
    """A fresh FakeHub: its URL and a function returning how many requests it served."""
    if same_process:
        with FakeHub(tokens={TOKEN: USER}) as hub:
            hub.latency = latency
            yield hub.url, hub.count
        return
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(child, latency))
    process.start()
    try:

        def count() -> int:
            parent.send("count")
            answer: int = parent.recv()
            return answer

        yield parent.recv(), count
    finally:
        parent.send("stop")
        process.join(timeout=30)


def run(
    folders: list[Path], jobs: int, latency: float, *, same_process: bool, resume: bool = False
) -> tuple[float, float, int]:
    """Publish on a fresh hub; returns (wall seconds, resume seconds or 0, requests)."""
    with hub_at(latency, same_process) as (url, count):
        store = HubStore(endpoint=url, token=TOKEN)
        started = time.perf_counter()
        summary = publish_many(folders, store, namespace=USER, jobs=jobs, progress=False)
        wall = time.perf_counter() - started
        check(summary, "published", len(folders))
        requests = count()
        again = 0.0
        if resume:
            started = time.perf_counter()
            summary = publish_many(folders, store, namespace=USER, jobs=jobs, progress=False)
            again = time.perf_counter() - started
            check(summary, "unchanged", len(folders))
    return wall, again, requests


def check(summary: PublishSummary, status: str, count: int) -> None:
    if summary.counts != {status: count}:
        failures = "; ".join(f"{r.repo_id}: {r.error}" for r in summary.failed[:3])
        raise SystemExit(f"unexpected results {summary.counts}: {failures}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="ESMs to publish (default 200)")
    parser.add_argument("--dim", type=int, default=768, help="embedding dimension D")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--jobs", type=int, default=8, help="workers of the parallel run")
    parser.add_argument(
        "--hub-process", action="store_true", help="run the FakeHub in a child process"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        folders = make_dirs(Path(tmp), args.count, args.dim)
        size = sum((f / "model.safetensors").stat().st_size for f in folders) / 1e6
        where = "in a child process" if args.hub_process else "in this process"
        print(
            f"{args.count} ESMs, D={args.dim} ({size:.0f} MB of weights, generated in "
            f"{time.perf_counter() - started:.1f} s); FakeHub {where}, "
            f"{args.latency * 1000:.0f} ms per request"
        )
        cpu_owner = "publisher" if args.hub_process else "publisher + FakeHub"
        cpu = time.process_time()
        serial, _, requests = run(folders, 1, args.latency, same_process=not args.hub_process)
        cpu = time.process_time() - cpu
        print(
            f"--jobs 1 : {serial:7.2f} s  ({args.count / serial:5.1f} ESM/s, "
            f"{requests} requests = {requests / args.count:.2f} per ESM; "
            f"{cpu / args.count * 1000:.0f} ms CPU per ESM, {cpu_owner})"
        )
        parallel, resume, requests = run(
            folders, args.jobs, args.latency, same_process=not args.hub_process, resume=True
        )
        print(
            f"--jobs {args.jobs} : {parallel:7.2f} s  ({args.count / parallel:5.1f} ESM/s, "
            f"{requests} requests = {requests / args.count:.2f} per ESM)"
        )
        print(f"speed-up --jobs {args.jobs} vs --jobs 1: {serial / parallel:.2f}x")
        print(f"resume with --jobs {args.jobs}, all {args.count} already published: {resume:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
