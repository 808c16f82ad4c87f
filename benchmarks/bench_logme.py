"""Benchmark the ESM-LogME fast path against "apply each ESM, then run the reference LogME".

The reference is hfselect's LogME (hf-dataset-selector, numba). hfselect's package __init__
imports torch and transformers, so only its ``logme.py`` is loaded, by path; that needs numba and
scipy. In the project's virtualenv (where ``.ci/run`` installs hfselect and numba)::

    pip install --no-deps hf-dataset-selector==0.2.1 && pip install numba scipy
    python benchmarks/bench_logme.py --esms 100

Without hfselect the script says so and compares against a numpy port of the same
(thuml-style, SVD-based) algorithm instead.

    python benchmarks/bench_logme.py [--esms 500] [--dim 768] [--n 1000] [--classes 2,10]
    python benchmarks/bench_logme.py --peak-rss [--esms 5000]   # streaming memory check
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import importlib.util
import io
import math
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
Scorer = Callable[[np.ndarray, np.ndarray], float]


def load_ours() -> tuple[ModuleType, str]:
    """registry.ranker.scoring; by path when the package's other dependencies are not installed."""
    sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module("registry.ranker.scoring"), "registry.ranker.scoring"
    except ImportError as exc:
        path = ROOT / "registry" / "rank" / "scoring.py"
        spec = importlib.util.spec_from_file_location("_bench_registry_logme", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
        return module, f"{path.relative_to(ROOT)} loaded by path (package import failed: {exc})"


def load_reference() -> tuple[Scorer, str]:
    try:
        spec = importlib.util.find_spec("hfselect")  # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("hfselect is not installed")
        path = Path(next(iter(spec.submodule_search_locations))) / "logme.py"
        file_spec = importlib.util.spec_from_file_location("_bench_hfselect_logme", path)
        assert file_spec is not None
        assert file_spec.loader is not None
        module = importlib.util.module_from_spec(file_spec)
        file_spec.loader.exec_module(module)  # needs numba (and scipy for its linalg)
        version = importlib.metadata.version("hf-dataset-selector")

        def hfselect_logme(features: np.ndarray, labels: np.ndarray) -> float:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints progress
                return float(module.LogME(regression=False).fit(features, labels))

        # numba compiles on the first call (and only then finds out whether scipy is there).
        hfselect_logme(*make_target(64, 16, 2, seed=0))
    except Exception as exc:  # any failure means: fall back, and say why
        return numpy_reference, (
            f"FALLBACK numpy thuml-style SVD reference (hfselect LogME not usable: {exc!r})"
        )

    return hfselect_logme, f"hfselect {version} LogME (numba), {path}"


def numpy_reference(features: np.ndarray, labels: np.ndarray) -> float:
    """The reference algorithm in plain numpy: SVD of F^T F (N > D) or F, per-class loop."""
    n, d = features.shape
    if n > d:
        _, s2, vh = np.linalg.svd(features.T @ features)
        s = np.sqrt(s2)
        k = int(np.sum(s > 1e-10))
        u = features @ vh[:k].T / s[:k]
        sigma = s[:k] ** 2
    else:
        u, s, _ = np.linalg.svd(features, full_matrices=False)
        sigma = s**2
    evidences = []
    for c in range(int(labels.max()) + 1):
        y = (labels == c).astype(np.float64)
        x2 = (u.T @ y) ** 2
        outside = y @ y - x2.sum()
        alpha = beta = 1.0
        for _ in range(50):
            t = alpha / beta
            gamma = np.sum(sigma / (sigma + t))
            m2 = np.sum(sigma * x2 / (t + sigma) ** 2)
            res2 = np.sum(x2 / (1 + sigma / t) ** 2) + outside
            alpha = gamma / (m2 + 1e-5)
            beta = (n - gamma) / (res2 + 1e-5)
            if abs(alpha / beta - t) / t <= 1e-3:
                break
        evidence = (
            d / 2 * np.log(alpha)
            + n / 2 * np.log(beta)
            - 0.5 * np.sum(np.log(alpha + beta * sigma))
            - beta / 2 * res2
            - alpha / 2 * m2
            - n / 2 * np.log(2 * np.pi)
        )
        evidences.append(evidence / n)
    return float(np.mean(evidences))


def make_target(n: int, dim: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian embeddings and labels that a linear model can partly predict."""
    rng = np.random.default_rng([seed, classes])
    x = rng.normal(size=(n, dim))
    logits = x @ rng.normal(size=(dim, classes)) / math.sqrt(dim)
    y = np.argmax(logits + rng.normal(size=logits.shape), axis=1)
    y[:classes] = np.arange(classes)  # every class present, so both sides agree on C
    return x, y


def make_esms(start: int, count: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """ESMs start .. start + count - 1, each from its own seed: reproducible in any chunking."""
    ws = np.empty((count, dim, dim))
    bs = np.empty((count, dim))
    for i in range(count):
        rng = np.random.default_rng([seed, start + i])
        ws[i] = rng.normal(size=(dim, dim)) / math.sqrt(dim)
        bs[i] = 0.1 * rng.normal(size=dim)
    return ws, bs


def compare(args: argparse.Namespace, ours: ModuleType, reference: Scorer) -> bool:
    """Time both sides on the same ESMs, alternating chunk by chunk.

    Alternating pairs each chunk of ours with the reference on the same ESMs a moment later, so
    other load on the machine hits both sides alike; the median of the per-chunk ratios is the
    figure that resists bursts of contention, the ratio of totals is printed next to it.
    """
    ok = True
    ours.score_linear(ours.TargetStatistics.from_embeddings(*make_target(64, 16, 2, 0)), np.eye(16))
    for classes in args.classes:
        x, y = make_target(args.n, args.dim, classes, args.seed)
        t0 = time.perf_counter()
        stats = ours.TargetStatistics.from_embeddings(x, y)
        t_stats = time.perf_counter() - t0
        per_ours: list[float] = []  # per-ESM seconds, one entry per chunk
        per_ref: list[float] = []
        diffs: list[float] = []
        not_converged = 0
        for start in range(0, args.esms, args.chunk_size):
            ws, bs = make_esms(start, min(args.chunk_size, args.esms - start), args.dim, args.seed)
            t0 = time.perf_counter()
            results = ours.score_linear_batch(stats, ws, bs, chunk_size=args.chunk_size)
            per_ours.append((time.perf_counter() - t0) / len(ws))
            t0 = time.perf_counter()
            expected = [reference(x @ w.T + b, y) for w, b in zip(ws, bs, strict=True)]
            per_ref.append((time.perf_counter() - t0) / len(ws))
            diffs.extend(abs(r.score - e) for r, e in zip(results, expected, strict=True))
            not_converged += sum(not r.converged for r in results)
        sizes = [min(args.chunk_size, args.esms - s) for s in range(0, args.esms, args.chunk_size)]
        mean_ours = float(np.average(per_ours, weights=sizes)) * 1e3
        mean_ref = float(np.average(per_ref, weights=sizes)) * 1e3
        median_ratio = float(np.median(np.divide(per_ref, per_ours)))
        max_diff = max(diffs)
        print(f"\n{classes} classes, N={args.n}, D={args.dim}, {args.esms} ESMs")
        print(f"  target statistics (once)    : {t_stats * 1e3:8.1f} ms")
        print(
            f"  ours (fast path)            : {mean_ours:8.1f} ms/ESM mean,"
            f" {np.median(per_ours) * 1e3:.1f} median"
        )
        print(
            f"  reference (apply + LogME)   : {mean_ref:8.1f} ms/ESM mean,"
            f" {np.median(per_ref) * 1e3:.1f} median"
        )
        print(
            f"  speed-up                    : {median_ratio:8.2f}x median of chunks,"
            f" {mean_ref / mean_ours:.2f}x of totals"
        )
        print(f"  max |score diff|            : {max_diff:8.2e}")
        print(f"  not converged (ours)        : {not_converged}")
        ok &= median_ratio >= 3.0 and max_diff <= 1e-6
    return ok


def peak_rss(args: argparse.Namespace, ours: ModuleType) -> bool:
    x, y = make_target(args.n, args.dim, max(args.classes), args.seed)
    stats = ours.TargetStatistics.from_embeddings(x, y)
    del x

    def stream() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in range(args.esms):
            rng = np.random.default_rng([args.seed, i])
            yield (
                rng.normal(size=(args.dim, args.dim)) / math.sqrt(args.dim),
                rng.normal(size=args.dim),
            )

    scores = np.empty(args.esms)
    t0 = time.perf_counter()
    for i, result in enumerate(
        ours.score_linear_stream(stats, stream(), chunk_size=args.chunk_size)
    ):
        scores[i] = result.score
        if (i + 1) % 500 == 0:
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"  {i + 1:6d} ESMs  {time.perf_counter() - t0:7.1f} s  peak RSS {rss:7.1f} MB",
                flush=True,
            )
    elapsed = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"\nstreamed {args.esms} ESMs (D={args.dim}, N={args.n}, {max(args.classes)} classes)")
    print(f"  time      : {elapsed:.1f} s ({elapsed / args.esms * 1e3:.1f} ms/ESM)")
    print(f"  peak RSS  : {peak_mb:.1f} MB (limit 2048 MB)")
    print(f"  best score: {scores.max():.6f} (ESM {int(scores.argmax())})")
    return peak_mb < 2048


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--esms", type=int, default=None, help="ESMs to score (500; 5000 with --peak-rss)"
    )
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--n", type=int, default=1000, help="target examples")
    parser.add_argument("--classes", default="2,10", help="comma-separated class counts")
    parser.add_argument("--chunk-size", type=int, default=None, help="ESMs per batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peak-rss", action="store_true", help="stream ESMs and report peak RSS")
    args = parser.parse_args(argv)
    args.classes = [int(c) for c in args.classes.split(",")]
    args.esms = args.esms or (5000 if args.peak_rss else 500)

    ours, ours_origin = load_ours()
    args.chunk_size = args.chunk_size or ours.DEFAULT_CHUNK_SIZE
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "ours": ours_origin,
        "chunk size": args.chunk_size,
    }
    if args.peak_rss:
        for key, value in info.items():
            print(f"{key:>10}: {value}")
        return 0 if peak_rss(args, ours) else 1
    reference, info["reference"] = load_reference()
    for key, value in info.items():
        print(f"{key:>10}: {value}")
    ok = compare(args, ours, reference)
    print("\nPASS" if ok else "\nFAIL (target: >= 3x faster per ESM, max diff <= 1e-6)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
