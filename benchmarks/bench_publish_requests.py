"""HTTP requests per published ESM: esm-registry's publisher vs hfselect's ``ESM.publish``.

Both run against the same in-process FakeHub (tests/hub_server.py), which logs every request.
hfselect's ``publish`` calls the module-level ``create_repo``/``push_to_hub`` helpers, which read
``HF_ENDPOINT`` when huggingface_hub is imported, so it runs in a subprocess whose environment
points at the fake Hub. Without an importable ``hfselect`` that half is skipped.

    python benchmarks/bench_publish_requests.py [--dim 768] [--bulk 5]

Exits with status 1 if publishing one ESM with esm-registry takes more requests than the
store's commit flow allows: 5 for a new repo, 4 for a changed ESM, 1 for an unchanged one.
"""

from __future__ import annotations

import argparse
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

import numpy as np  # noqa: E402

from registry.esm import Esm  # noqa: E402
from registry.metadata import EsmMetadata  # noqa: E402
from registry.publish import publish_esm, publish_many  # noqa: E402
from registry.stores.hub import HubStore  # noqa: E402

from hub_server import FakeHub  # noqa: E402

TOKEN = "hf_bench_write_token"
USER = "bench"

# hfselect 0.2.1's wheel does not ship the modelcard_template.md that ESM.publish renders
# its card with; the "template supplied" run substitutes huggingface_hub's default template
# (the requests sent do not depend on the template's text).
HFSELECT_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import huggingface_hub
    from huggingface_hub import ModelCard
    from hfselect import ESM
    from hfselect.esmconfig import ESMConfig

    if sys.argv[1] == "supply-template":
        original = ModelCard.from_template.__func__
        default = os.path.join(os.path.dirname(huggingface_hub.__file__), "templates",
                               "modelcard_template.md")

        def from_template(cls, card_data, template_path=None, *args, **kwargs):
            if template_path is not None and not os.path.exists(template_path):
                template_path = default
            return original(cls, card_data, template_path, *args, **kwargs)

        ModelCard.from_template = classmethod(from_template)

    dim = int(sys.argv[2])
    config = ESMConfig(
        base_model_name="bert-base-uncased", task_id="org/task", task_subset="default",
        text_column="text", label_column="label", task_split="train", num_examples=100,
        esm_architecture="linear", esm_embedding_dim=dim,
    )
    ESM(config=config).publish(repo_id=sys.argv[3])
    """
)


#: Most requests per ESM: a new repo, a changed ESM, an unchanged one.
LIMITS = {"new": 5, "changed": 4, "unchanged": 1}


def make_esm(index: int, dim: int, developers: str = "esm-registry benchmark") -> Esm:
    meta = EsmMetadata.model_validate(
        {
            "base_model": "bert-base-uncased",
            "developers": developers,
            "task": {
                "task_id": f"org/task{index}",
                "subset": "default",
                "text_column": "text",
                "label_column": "label",
                "split": "train",
                "num_examples": 100,
            },
        }
    )
    rng = np.random.default_rng(index)
    return Esm(meta, rng.normal(size=(dim, dim)), rng.normal(size=dim))


def row(label: str, requests: int, detail: str) -> None:
    print(f"{label:<42}: {requests:3d} requests, {detail}")


def ours(hub: FakeHub, dim: int, bulk: int) -> dict[str, int]:
    store = HubStore(endpoint=hub.url, token=TOKEN)
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_esm(0, dim).save(Path(tmp) / "esm")
        hub.reset_log()
        result = publish_esm(folder, store, namespace=USER)
        counts["new"] = hub.count()
        commits = len(hub.commits(result.repo_id or "")) - 1
        row("esm-registry publish_esm, new repo", counts["new"], f"{commits} commit")
        hub.reset_log()
        again = publish_esm(folder, store, namespace=USER)
        assert again.status == "unchanged"
        counts["unchanged"] = hub.count()
        row("esm-registry publish_esm, unchanged", counts["unchanged"], "0 commits")
        make_esm(0, dim, developers="someone else").save(folder)  # new card and config
        hub.reset_log()
        changed = publish_esm(folder, store, namespace=USER)
        assert changed.status == "published"
        counts["changed"] = hub.count()
        row("esm-registry publish_esm, changed", counts["changed"], "1 commit")

        folders = [make_esm(i, dim).save(Path(tmp) / f"bulk{i}") for i in range(1, bulk + 1)]
        hub.reset_log()
        publish_many(folders, store, namespace=USER, jobs=4, progress=False)
        n = hub.count()
        row(f"esm-registry publish_many, {bulk} new", n, f"{n / bulk:.1f} per ESM")
        hub.reset_log()
        summary = publish_many(folders, store, namespace=USER, jobs=4, progress=False)
        assert summary.counts == {"unchanged": bulk}, summary.counts
        n = hub.count()
        row(
            f"esm-registry publish_many, {bulk} unchanged",
            n,
            f"{n / bulk:.1f} per ESM (a resumed run)",
        )
    return counts


def hfselect(hub: FakeHub, dim: int, mode: str, repo_id: str) -> tuple[int, int, str]:
    env = dict(
        os.environ,
        HF_ENDPOINT=hub.url,
        HF_TOKEN=TOKEN,
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
    )
    with tempfile.TemporaryDirectory() as home:
        env["HF_HOME"] = home
        hub.reset_log()
        # cwd: hfselect writes hfselect_logs.log into the working directory
        process = subprocess.run(
            [sys.executable, "-c", HFSELECT_SCRIPT, mode, str(dim), repo_id],
            env=env,
            cwd=home,
            capture_output=True,
            text=True,
            check=False,
        )
    outcome = "ok"
    if process.returncode != 0:
        last = (process.stderr.strip().splitlines() or ["?"])[-1]
        outcome = f"FAILED: {last[:110]}"
    commits = len(hub.commits(repo_id)) - 1 if hub.has_repo(repo_id) else 0
    return hub.count(), commits, outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=768, help="embedding dimension D")
    parser.add_argument("--bulk", type=int, default=5, help="ESMs in the bulk measurement")
    args = parser.parse_args()

    with FakeHub(tokens={TOKEN: USER}) as hub:
        print(f"FakeHub at {hub.url}; D={args.dim}; requests counted by the server\n")
        counts = ours(hub, args.dim, args.bulk)
        print()
        try:
            import importlib.util

            available = importlib.util.find_spec("hfselect") is not None
        except (ImportError, ValueError):
            available = False
        if not available:
            print("hfselect is not importable here: its half of the comparison is skipped")
        else:
            started = time.perf_counter()
            modes = (("as-shipped", "as shipped"), ("supply-template", "template given"))
            for mode, label in modes:
                n, commits, outcome = hfselect(hub, args.dim, mode, f"{USER}/hfselect-{mode}")
                row(f"hfselect ESM.publish ({label})", n, f"{commits} commits, {outcome}")
            print(f"  (hfselect runs took {time.perf_counter() - started:.1f} s incl. imports)")
            print(
                "\nhfselect pushes weights, config and card in separate commits, so an error "
                "part-way leaves a repo without its card (and without the tags that make it "
                "findable); esm-registry makes one commit."
            )
    over = {case: n for case, n in counts.items() if n > LIMITS[case]}
    for case, n in over.items():
        print(f"\nFAIL: esm-registry used {n} requests for one {case} ESM (limit {LIMITS[case]})")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
