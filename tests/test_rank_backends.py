"""Scoring backends: parity between lapack, torch and numpy, with hfselect, in float32; threads."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from rank_support import require

from registry.errors import UsageError
from registry.ranker import backends as backends_module
from registry.ranker.backends import available_backends, resolve_backend
from registry.ranker.options import ScoringOptions
from registry.ranker.scoring import (
    TargetStatistics,
    logme,
    score_linear,
    score_linear_batch,
    score_linear_stream,
)

Array = NDArray[np.float64]
ROOT = Path(__file__).resolve().parents[1]
BACKENDS = [name for name in ("lapack", "torch", "numpy") if name in available_backends()]


def make_problem(
    n: int, d: int, *, seed: int, classes: int | None = None, targets: int = 1
) -> tuple[Array, Array, Array, NDArray[Any]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w = rng.normal(size=(d, d)) / math.sqrt(d)
    b = rng.normal(size=d)
    signal = x @ rng.normal(size=(d, max(classes or 0, targets)))
    if classes is None:
        y: NDArray[Any] = signal[:, :targets] + rng.normal(size=(n, targets))
    else:
        y = np.argmax(signal + 2 * rng.normal(size=signal.shape), axis=1)
        y[:classes] = np.arange(classes)
    return x, w, b, y


CASES = [
    pytest.param(200, 30, 2, 1, id="N>D-2cls"),
    pytest.param(200, 30, 10, 1, id="N>D-10cls"),
    pytest.param(200, 30, None, 3, id="N>D-reg3"),
    pytest.param(40, 60, 3, 1, id="N<D-3cls"),
    pytest.param(40, 60, None, 2, id="N<D-reg2"),
    pytest.param(50, 50, 3, 1, id="N=D-3cls"),
    pytest.param(31, 30, 2, 1, id="N=D+1-2cls"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("n", "d", "classes", "targets"), CASES)
def test_backends_agree_with_the_general_path(
    backend: str, n: int, d: int, classes: int | None, targets: int
) -> None:
    x, w, b, y = make_problem(n, d, seed=n + 3 * d, classes=classes, targets=targets)
    regression = classes is None
    stats = TargetStatistics.from_embeddings(x, y, regression=regression)
    expected = logme(x @ w.T + b, y, regression=regression, return_weights=True)
    got = score_linear(stats, w, b, backend=backend, return_weights=True)
    assert got.score == pytest.approx(expected.score, abs=1e-9)
    np.testing.assert_allclose(got.evidences, expected.evidences, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got.alphas, expected.alphas, rtol=1e-7)
    np.testing.assert_allclose(got.betas, expected.betas, rtol=1e-7)
    np.testing.assert_array_equal(got.n_iter, expected.n_iter)
    assert got.rank == expected.rank
    assert got.weights is not None and expected.weights is not None
    np.testing.assert_allclose(got.weights, expected.weights, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rank_deficient_and_zero_maps(backend: str) -> None:
    x, w, _, y = make_problem(120, 20, seed=13, classes=2)
    w[:, 10:] = 0.0  # F = X W^T has rank 10 < D < N
    stats = TargetStatistics.from_embeddings(x, y)
    got = score_linear(stats, w, backend=backend)
    assert got.rank == 10
    assert got.score == pytest.approx(logme(x @ w.T, y).score, abs=1e-8)
    zero = score_linear(stats, np.zeros((20, 20)), backend=backend)
    assert zero.rank == 0 and zero.converged and math.isfinite(zero.score)


@pytest.mark.parametrize("backend", BACKENDS)
def test_other_output_sizes(backend: str) -> None:
    x, _, _, y = make_problem(120, 16, seed=3, classes=4)
    rng = np.random.default_rng(4)
    stats = TargetStatistics.from_embeddings(x, y)
    for rows in (24, 10):
        w = rng.normal(size=(rows, 16))
        got = score_linear(stats, w, backend=backend).score
        assert got == pytest.approx(logme(x @ w.T, y).score, abs=1e-9)


def _hfselect_logme() -> Any:
    """hfselect's LogME module, loaded by path (its package imports torch and transformers)."""
    require("numba")
    require("scipy")
    spec = importlib.util.find_spec("hfselect")
    if spec is None or not spec.submodule_search_locations:
        require("hfselect")  # skips, or fails when hfselect is required
    assert spec is not None and spec.submodule_search_locations is not None
    path = Path(next(iter(spec.submodule_search_locations))) / "logme.py"
    file_spec = importlib.util.spec_from_file_location("_test_hfselect_logme", path)
    assert file_spec is not None and file_spec.loader is not None
    module = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("classes", [2, 5])
def test_every_backend_matches_hfselect_when_n_exceeds_d(classes: int) -> None:
    reference = _hfselect_logme()
    rng = np.random.default_rng(classes)
    n, d = 400, 48
    x = rng.normal(size=(n, d))
    y = np.argmax(x @ rng.normal(size=(d, classes)) + rng.normal(size=(n, classes)), axis=1)
    y[:classes] = np.arange(classes)
    stats = TargetStatistics.from_embeddings(x, y)
    ws = rng.normal(size=(5, d, d)).astype(np.float32) / math.sqrt(d)
    bs = 0.1 * rng.normal(size=(5, d)).astype(np.float32)
    expected = [
        float(reference.LogME(regression=False).fit(x @ w.T.astype(np.float64) + b, y))
        for w, b in zip(ws, bs, strict=True)
    ]
    for backend in BACKENDS:
        got = [r.score for r in score_linear_batch(stats, ws, bs, backend=backend)]
        assert max(abs(g - e) for g, e in zip(got, expected, strict=True)) <= 1e-6, backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_moves_scores_little_and_keeps_the_order(backend: str) -> None:
    x, _, _, y = make_problem(300, 40, seed=21, classes=3)
    stats = TargetStatistics.from_embeddings(x, y)
    rng = np.random.default_rng(22)
    ws = rng.normal(size=(12, 40, 40)) * rng.uniform(0.2, 2.0, size=(12, 1, 1))
    bs = rng.normal(size=(12, 40))
    exact = np.array([r.score for r in score_linear_batch(stats, ws, bs, backend=backend)])
    single = np.array(
        [r.score for r in score_linear_batch(stats, ws, bs, backend=backend, dtype="float32")]
    )
    assert np.max(np.abs(single - exact)) < 1e-4
    assert list(np.argsort(-single)) == list(np.argsort(-exact))


@pytest.mark.parametrize("backend", BACKENDS)
def test_parallel_workers_give_the_serial_results_in_order(backend: str) -> None:
    x, _, _, y = make_problem(90, 12, seed=8, classes=3)
    stats = TargetStatistics.from_embeddings(x, y)
    rng = np.random.default_rng(9)
    ws, bs = rng.normal(size=(11, 12, 12)), rng.normal(size=(11, 12))
    serial = score_linear_batch(stats, ws, bs, backend=backend, threads=1, chunk_size=2)
    parallel = score_linear_batch(stats, ws, bs, backend=backend, threads=3, chunk_size=2)
    assert [r.score for r in parallel] == [r.score for r in serial]


def test_parallel_stream_holds_a_bounded_number_of_esms() -> None:
    x, _, _, y = make_problem(40, 6, seed=17, classes=2)
    stats = TargetStatistics.from_embeddings(x, y)
    rng = np.random.default_rng(18)
    pulled = 0

    def generate() -> Iterator[tuple[Array, Array]]:
        nonlocal pulled
        for _ in range(100):
            pulled += 1
            yield rng.normal(size=(6, 6)), rng.normal(size=6)

    results = score_linear_stream(stats, generate(), backend="numpy", chunk_size=3, threads=2)
    next(results)
    assert pulled <= 2 * 2 * 3  # 2 x threads tasks of chunk_size ESMs
    assert len(list(results)) == 99


def _thread_counts() -> tuple[list[int], int | None]:
    from threadpoolctl import threadpool_info

    torch = sys.modules.get("torch")
    return (
        [info["num_threads"] for info in threadpool_info()],
        None if torch is None else torch.get_num_threads(),
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_thread_counts_are_set_while_scoring_and_restored(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    require("threadpoolctl")
    x, _, _, y = make_problem(60, 8, seed=5, classes=2)
    stats = TargetStatistics.from_embeddings(x, y)
    rng = np.random.default_rng(6)
    ws, bs = rng.normal(size=(6, 8, 8)), rng.normal(size=(6, 8))
    engine = resolve_backend(backend, threads=2)
    seen: list[tuple[list[int], int | None]] = []
    original = engine.kernel.spectrum

    def spy(*args: Any) -> Any:
        seen.append(_thread_counts())
        return original(*args)

    monkeypatch.setattr(engine.kernel, "spectrum", spy)
    before = _thread_counts()
    score_linear_batch(stats, ws, bs, backend=engine)
    assert seen
    for blas, torch_threads in seen:
        assert blas and all(count == 1 for count in blas)  # one thread per parallel ESM
        assert torch_threads in (None, 1)
    assert _thread_counts() == before


def test_resolving_backends() -> None:
    assert resolve_backend("numpy", threads=3).workers == 3
    auto = resolve_backend(device="cpu")
    assert auto.name == ("lapack" if "lapack" in BACKENDS else auto.name)
    assert auto.device == "cpu" and auto.dtype == "float64"
    with pytest.raises(UsageError, match="backend"):
        resolve_backend("eigen")
    with pytest.raises(UsageError, match="dtype"):
        resolve_backend(dtype="float16")
    with pytest.raises(UsageError, match="CPU only"):
        resolve_backend("numpy", device="cuda")
    with pytest.raises(UsageError, match="device"):
        resolve_backend("numpy", device="tpu")
    with pytest.raises(UsageError, match="threads"):
        resolve_backend("numpy", threads=0)
    with pytest.raises(UsageError, match="backend"):
        ScoringOptions(backend="gpu")
    with pytest.raises(UsageError, match="threads"):
        ScoringOptions(threads=0)


def test_a_missing_optional_library_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from registry.ranker import _lapack

    def missing(dtype: str) -> Any:
        raise ImportError("No module named 'scipy'")

    monkeypatch.setattr(_lapack, "load", missing)
    with pytest.raises(UsageError, match="pip install scipy"):
        resolve_backend("lapack")
    monkeypatch.setattr(backends_module, "_has_scipy", lambda: False)
    assert resolve_backend(device="cpu").name in ("torch", "numpy")


@pytest.mark.skipif("torch" not in BACKENDS, reason="torch is not installed")
def test_the_cuda_path_is_the_cpu_torch_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a GPU the device is refused up front; the kernel itself is device-agnostic."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match="CUDA"):
        resolve_backend("torch", device="cuda")
    with pytest.raises(UsageError, match="CUDA"):
        resolve_backend(device="cuda:0")
    assert resolve_backend("torch", device="cpu").kernel.device.type == "cpu"


def test_auto_never_imports_torch() -> None:
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from registry.ranker.scoring import TargetStatistics, score_linear
        rng = np.random.default_rng(0)
        stats = TargetStatistics.from_embeddings(rng.normal(size=(50, 6)), rng.integers(0, 2, 50))
        score_linear(stats, rng.normal(size=(6, 6)))
        print(sorted(m for m in ("torch", "transformers") if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ["tiny-map", "exact-fit-rank-deficient", "constant-map"])
def test_degenerate_maps_agree_with_the_general_path(backend: str, case: str) -> None:
    rng = np.random.default_rng(30)
    n, d = 150, 20
    x = rng.normal(size=(n, d))
    w = rng.normal(size=(d, d)) / math.sqrt(d)
    b = rng.normal(size=d)
    regression = case == "exact-fit-rank-deficient"
    if case == "tiny-map":
        w, b = 1e-7 * w, 1e-7 * b
    elif case == "constant-map":
        w = np.zeros((d, d))
    else:
        w[:, 12:] = 0.0
    y: NDArray[Any] = x @ w.T @ rng.normal(size=d) if regression else (x[:, 0] > 0).astype(int)
    stats = TargetStatistics.from_embeddings(x, y, regression=regression)
    got = score_linear(stats, w, b, backend=backend)
    expected = logme(x @ w.T + b, y, regression=regression)
    assert got.score == pytest.approx(expected.score, rel=1e-9, abs=1e-8)
    assert got.rank == expected.rank
    np.testing.assert_array_equal(got.n_iter, expected.n_iter)


@pytest.mark.skipif("lapack" not in BACKENDS, reason="SciPy is not installed")
def test_lapack_falls_back_to_eigenvalues_when_a_factorization_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``T + tI`` not numerically positive definite: sterf and a pivoting solve instead."""
    from registry.ranker import _lapack

    x, w, b, y = make_problem(200, 30, seed=31, classes=3)
    stats = TargetStatistics.from_embeddings(x, y)
    fast = score_linear(stats, w, b, backend="lapack", return_weights=True)
    monkeypatch.setattr(_lapack.ShiftedTridiagonal, "factor", lambda self, shift: False)
    slow = score_linear(stats, w, b, backend="lapack", return_weights=True)
    assert slow.score == pytest.approx(fast.score, abs=1e-10)
    np.testing.assert_array_equal(slow.n_iter, fast.n_iter)
    assert slow.weights is not None and fast.weights is not None
    np.testing.assert_allclose(slow.weights, fast.weights, rtol=1e-8, atol=1e-12)


def test_rank_scores_alike_on_every_backend_and_precision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The option groups reach the scorer: backend, dtype and threads change no ranking."""
    pytest.importorskip("transformers")
    from esm_factory import make_esm
    from rank_support import BASE_MODEL, build_model, reviews

    from registry.ranker import rank

    monkeypatch.setenv("ESM_REGISTRY_HOME", str(tmp_path / "home"))
    model = build_model(tmp_path / "tiny-bert", "bert")
    esms = [make_esm(i, dim=32, base_model=BASE_MODEL) for i in range(5)]
    texts, labels = reviews(60)
    rankings = {
        (backend, dtype): rank(
            (texts, labels),
            BASE_MODEL,
            esms=esms,
            model_path=model,
            progress=False,
            backend=backend,
            dtype=dtype,
            threads=2,
            device="cpu",
        )
        for backend in BACKENDS
        for dtype in ("float64", "float32")
    }
    exact = rankings[(BACKENDS[0], "float64")]
    for (_, dtype), ranking in rankings.items():
        assert [e.task_id for e in ranking] == [e.task_id for e in exact]
        tolerance = 1e-9 if dtype == "float64" else 1e-4
        assert ranking.scores == pytest.approx(exact.scores, abs=tolerance)


def test_rank_refuses_a_backend_that_cannot_run_before_embedding_or_downloading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing library is a usage error at once, not after minutes of embedding."""
    pytest.importorskip("transformers")
    from esm_factory import make_esm
    from rank_support import BASE_MODEL, reviews

    from registry.ranker import _lapack, api, rank

    def missing(dtype: str) -> Any:
        raise ImportError("No module named 'scipy'")

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the ranking went on past an unusable backend")

    monkeypatch.setenv("ESM_REGISTRY_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(_lapack, "load", missing)
    monkeypatch.setattr(api, "make_embedder", never)
    monkeypatch.setattr(api, "fetch_esms", never)
    texts, labels = reviews(20)
    with pytest.raises(UsageError, match="pip install scipy"):
        rank(
            (texts, labels),
            BASE_MODEL,
            esms=[make_esm(0, dim=32, base_model=BASE_MODEL)],
            progress=False,
            backend="lapack",
        )
