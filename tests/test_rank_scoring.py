"""LogME scoring core: parity with a plain reference, fast path, batching, N <= D correction."""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

import registry.ranker
from registry.ranker.scoring import (
    LogMEResult,
    TargetStatistics,
    logme,
    score_linear,
    score_linear_batch,
    score_linear_stream,
)

# registry.ranker re-exports the function logme, which shadows the submodule as an attribute.
logme_module = importlib.import_module("registry.ranker.scoring")

Array = NDArray[np.float64]


# ---------------------------------------------------------------------------------------------
# A deliberately plain reference: SVD of F, one column at a time, scalar loop (thuml's fixed
# point, ICML evidence). pad_prior=True gives log|A| all D eigenvalues (thuml/LogME PR #24);
# pad_prior=False keeps only the min(N, D) singular values, like hfselect 0.2.1.
# ---------------------------------------------------------------------------------------------


def reference_column(
    f: Array, y: Array, *, pad_prior: bool, max_iter: int = 50
) -> tuple[float, float, float, bool]:
    n, d = f.shape
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    sigma = s**2
    x2 = (u.T @ y) ** 2
    outside = float(y @ y - x2.sum())
    alpha, beta, converged = 1.0, 1.0, False
    for _ in range(max_iter):
        t = alpha / beta
        gamma = float(np.sum(sigma / (sigma + t)))
        m2 = float(np.sum(sigma * x2 / (t + sigma) ** 2))
        res2 = float(np.sum(x2 / (1 + sigma / t) ** 2)) + outside
        alpha = gamma / (m2 + 1e-5)
        beta = (n - gamma) / (res2 + 1e-5)
        if abs(alpha / beta - t) / t <= 1e-3:
            converged = True
            break
    log_det = float(np.sum(np.log(alpha + beta * sigma)))
    if pad_prior:
        log_det += (d - sigma.size) * math.log(alpha)
    evidence = (
        d / 2 * math.log(alpha)
        + n / 2 * math.log(beta)
        - log_det / 2
        - beta / 2 * res2
        - alpha / 2 * m2
        - n / 2 * math.log(2 * math.pi)
    )
    return evidence / n, alpha, beta, converged


def reference_logme(
    f: Array,
    y: NDArray[np.generic],
    *,
    regression: bool = False,
    pad_prior: bool = True,
    n_classes: int | None = None,
) -> float:
    if regression:
        cols = y.reshape(len(y), -1).T.astype(np.float64)
    else:
        k = int(y.max()) + 1 if n_classes is None else n_classes
        cols = np.stack([(y == c).astype(np.float64) for c in range(k)])
    return float(np.mean([reference_column(f, col, pad_prior=pad_prior)[0] for col in cols]))


def icml_evidence(f: Array, y: Array, alpha: float, beta: float, m: Array) -> float:
    """The ICML closed form with the full D-dimensional prior, per example."""
    n, d = f.shape
    _, log_det = np.linalg.slogdet(alpha * np.eye(d) + beta * f.T @ f)
    evidence = (
        d / 2 * math.log(alpha)
        + n / 2 * math.log(beta)
        - log_det / 2
        - beta / 2 * float(np.sum((y - f @ m) ** 2))
        - alpha / 2 * float(m @ m)
        - n / 2 * math.log(2 * math.pi)
    )
    return float(evidence / n)


def make_problem(
    n: int, d: int, *, seed: int, classes: int | None = None, targets: int = 1
) -> tuple[Array, Array, Array, NDArray[np.generic]]:
    """Embeddings, an ESM (W, b) and labels/targets that depend on the embeddings a little."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w = rng.normal(size=(d, d)) / math.sqrt(d)
    b = rng.normal(size=d)
    signal = x @ rng.normal(size=(d, max(classes or 0, targets)))
    if classes is None:
        y: NDArray[np.generic] = signal[:, :targets] + rng.normal(size=(n, targets))
        if targets == 1:
            y = y[:, 0]
    else:
        y = np.argmax(signal + 2 * rng.normal(size=signal.shape), axis=1)
        y[:classes] = np.arange(classes)  # every class present
    return x, w, b, y


CASES = [
    pytest.param(200, 30, 2, 1, id="N>D-2cls"),
    pytest.param(200, 30, 10, 1, id="N>D-10cls"),
    pytest.param(200, 30, None, 1, id="N>D-reg1"),
    pytest.param(200, 30, None, 4, id="N>D-reg4"),
    pytest.param(40, 60, 2, 1, id="N<D-2cls"),
    pytest.param(40, 60, 10, 1, id="N<D-10cls"),
    pytest.param(40, 60, None, 1, id="N<D-reg1"),
    pytest.param(40, 60, None, 3, id="N<D-reg3"),
    pytest.param(50, 50, 3, 1, id="N=D-3cls"),
]


# ---------------------------------------------------------------------------------------------
# Parity
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "d", "classes", "targets"), CASES)
@pytest.mark.parametrize("rank_correction", [True, False])
def test_general_path_matches_reference(
    n: int, d: int, classes: int | None, targets: int, rank_correction: bool
) -> None:
    x, w, b, y = make_problem(n, d, seed=n + d, classes=classes, targets=targets)
    f = x @ w.T + b
    regression = classes is None
    expected = reference_logme(f, y, regression=regression, pad_prior=rank_correction)
    got = logme(f, y, regression=regression, rank_correction=rank_correction)
    assert got.score == pytest.approx(expected, abs=1e-9)
    assert got.evidences.shape == (classes or targets,)
    assert got.rank == min(n, d)


@pytest.mark.parametrize(("n", "d", "classes", "targets"), CASES)
def test_fast_path_matches_general_path(n: int, d: int, classes: int | None, targets: int) -> None:
    x, w, b, y = make_problem(n, d, seed=7 * n + d, classes=classes, targets=targets)
    regression = classes is None
    stats = TargetStatistics.from_embeddings(x, y, regression=regression)
    fast = score_linear(stats, w, b, return_weights=True)
    slow = logme(x @ w.T + b, y, regression=regression, return_weights=True)
    assert fast.score == pytest.approx(slow.score, abs=1e-9)
    np.testing.assert_allclose(fast.evidences, slow.evidences, rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.alphas, slow.alphas, rtol=1e-7)
    np.testing.assert_allclose(fast.betas, slow.betas, rtol=1e-7)
    np.testing.assert_array_equal(fast.n_iter, slow.n_iter)
    assert fast.weights is not None
    assert slow.weights is not None
    np.testing.assert_allclose(fast.weights, slow.weights, rtol=1e-6, atol=1e-9)
    assert fast.rank == slow.rank


def test_fast_path_without_bias_and_with_other_output_size() -> None:
    x, _, _, y = make_problem(120, 16, seed=3, classes=4)
    w = np.random.default_rng(4).normal(size=(24, 16))
    stats = TargetStatistics.from_embeddings(x, y)
    assert score_linear(stats, w).score == pytest.approx(logme(x @ w.T, y).score, abs=1e-9)
    assert score_linear(stats, w[:10]).score == pytest.approx(
        logme(x @ w[:10].T, y).score, abs=1e-9
    )


def test_blockwise_factorisation_matches_one_shot(monkeypatch: pytest.MonkeyPatch) -> None:
    x, w, b, y = make_problem(150, 12, seed=5, classes=3)
    one_shot = TargetStatistics.from_embeddings(x, y)
    monkeypatch.setattr(logme_module, "_QR_BLOCK_ROWS", 7)
    blocked = TargetStatistics.from_embeddings(x, y)
    z = np.hstack([x, np.ones((len(x), 1))])
    onehot = np.eye(3)[y]
    for stats in (one_shot, blocked):
        np.testing.assert_allclose(stats.gram, z.T @ z, atol=1e-9)
        np.testing.assert_allclose(stats.cross, z.T @ onehot, atol=1e-9)
        np.testing.assert_array_equal(stats.target_sq_norms, onehot.sum(axis=0))
    assert score_linear(blocked, w, b).score == pytest.approx(
        score_linear(one_shot, w, b).score, abs=1e-10
    )


def test_num_classes_keeps_absent_classes_like_the_reference() -> None:
    x, w, b, _ = make_problem(80, 10, seed=6)
    y = np.random.default_rng(6).choice([0, 2], size=80)
    f = x @ w.T + b
    stats = TargetStatistics.from_embeddings(x, y, num_classes=3)
    assert stats.n_targets == 3
    assert score_linear(stats, w, b).score == pytest.approx(
        reference_logme(f, y, n_classes=3), abs=1e-9
    )
    present_only = reference_logme(f, (y == 2).astype(int))
    assert logme(f, y).score == pytest.approx(present_only, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# Batching and streaming
# ---------------------------------------------------------------------------------------------


def _esms(count: int, d: int, seed: int) -> tuple[Array, Array]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(count, d, d)) / math.sqrt(d), rng.normal(size=(count, d))


@pytest.mark.parametrize(("n", "d"), [(90, 20), (15, 20)])
def test_batch_and_stream_match_single(n: int, d: int) -> None:
    x, _, _, y = make_problem(n, d, seed=8, classes=3)
    stats = TargetStatistics.from_embeddings(x, y)
    ws, bs = _esms(7, d, seed=9)
    single = [score_linear(stats, w, b).score for w, b in zip(ws, bs, strict=True)]
    batch = score_linear_batch(stats, ws.astype(np.float32), bs, chunk_size=3)
    assert [r.score for r in batch] == pytest.approx(
        [score_linear(stats, w.astype(np.float32), b).score for w, b in zip(ws, bs, strict=True)],
        abs=1e-12,
    )
    batch64 = score_linear_batch(stats, ws, bs, chunk_size=3)
    assert [r.score for r in batch64] == pytest.approx(single, abs=1e-12)

    def generate() -> Iterator[tuple[Array, Array | None]]:
        for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
            yield (w, b) if i != 2 else (w, None)

    streamed = list(score_linear_stream(stats, generate(), chunk_size=4))
    expected = [*single[:2], score_linear(stats, ws[2]).score, *single[3:]]
    assert [r.score for r in streamed] == pytest.approx(expected, abs=1e-12)


def test_stream_accepts_mixed_output_sizes() -> None:
    x, _, _, y = make_problem(60, 8, seed=10, classes=2)
    stats = TargetStatistics.from_embeddings(x, y)
    rng = np.random.default_rng(11)
    esms = [(rng.normal(size=(k, 8)), rng.normal(size=k)) for k in (8, 8, 5, 5, 8)]
    streamed = [r.score for r in score_linear_stream(stats, iter(esms), chunk_size=8)]
    assert streamed == pytest.approx([score_linear(stats, w, b).score for w, b in esms])


def test_stream_holds_at_most_one_chunk() -> None:
    x, _, _, y = make_problem(40, 6, seed=17, classes=2)
    stats = TargetStatistics.from_embeddings(x, y)
    ws, bs = _esms(10, 6, seed=18)
    pulled = 0

    def generate() -> Iterator[tuple[Array, Array]]:
        nonlocal pulled
        for w, b in zip(ws, bs, strict=True):
            pulled += 1
            yield w, b

    with pytest.raises(ValueError, match="chunk_size"):
        score_linear_stream(stats, generate(), chunk_size=0)  # checked eagerly
    results = score_linear_stream(stats, generate(), chunk_size=4, backend="numpy", threads=1)
    assert pulled == 0
    next(results)
    assert pulled == 4
    assert len(list(results)) == 9


# ---------------------------------------------------------------------------------------------
# N <= D: corrected evidence and convergence reporting
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "d"), [(30, 80), (60, 60), (100, 40)])
def test_evidence_is_the_icml_closed_form_at_the_fixed_point(n: int, d: int) -> None:
    x, w, b, y = make_problem(n, d, seed=12, classes=3)
    f = x @ w.T + b
    result = logme(f, y, return_weights=True)
    assert result.weights is not None
    for j in range(3):
        col = (y == j).astype(np.float64)
        closed = icml_evidence(f, col, result.alphas[j], result.betas[j], result.weights[j])
        assert result.evidences[j] == pytest.approx(closed, abs=1e-8)
    # The reference's value differs exactly by the dropped (D - N)/2 log(alpha) term.
    uncorrected = logme(f, y, rank_correction=False)
    shift = max(d - n, 0) / (2 * n) * np.log(result.alphas)
    np.testing.assert_allclose(uncorrected.evidences, result.evidences + shift, atol=1e-10)


def test_rank_deficient_features_with_many_examples() -> None:
    x, w, _, y = make_problem(120, 20, seed=13, classes=2)
    w[:, 10:] = 0.0  # F = X W^T has rank 10 < D = 20 < N
    stats = TargetStatistics.from_embeddings(x, y)
    result = score_linear(stats, w, return_weights=True)
    assert result.rank == 10
    assert result.weights is not None
    f = x @ w.T
    for j in range(2):
        col = (y == j).astype(np.float64)
        closed = icml_evidence(f, col, result.alphas[j], result.betas[j], result.weights[j])
        assert result.evidences[j] == pytest.approx(closed, abs=1e-8)


def test_non_convergence_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    x, w, b, y = make_problem(60, 200, seed=14, classes=5)
    f = x @ w.T + b
    with caplog.at_level(logging.WARNING, logger="registry.ranker.scoring"):
        capped = logme(f, y)
    assert not capped.converged
    assert capped.n_iter.max() == 50
    assert not capped.column_converged[capped.n_iter == 50].any()
    assert "did not converge" in caplog.text
    # Same numbers as the reference, which stops silently at the cap.
    expected = [reference_column(f, (y == c).astype(np.float64), pad_prior=True) for c in range(5)]
    np.testing.assert_allclose(capped.evidences, [e[0] for e in expected], atol=1e-9)
    assert list(capped.column_converged) == [e[3] for e in expected]
    longer = logme(f, y, max_iter=2000)
    assert longer.converged
    assert (longer.n_iter > 50).any()


def test_zero_map_gives_a_finite_score() -> None:
    x, _, _, y = make_problem(50, 6, seed=15, classes=2)
    result = score_linear(TargetStatistics.from_embeddings(x, y), np.zeros((6, 6)))
    assert result.rank == 0
    assert result.converged
    assert math.isfinite(result.score)


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(6, 40),
    d=st.integers(2, 12),
    classes=st.integers(2, 4),
)
def test_score_is_invariant_to_example_order(seed: int, n: int, d: int, classes: int) -> None:
    x, w, b, y = make_problem(max(n, classes), d, seed=seed, classes=classes)
    perm = np.random.default_rng(seed + 1).permutation(len(x))
    a = score_linear(TargetStatistics.from_embeddings(x, y), w, b)
    p = score_linear(TargetStatistics.from_embeddings(x[perm], y[perm]), w, b)
    assert p.score == pytest.approx(a.score, rel=1e-6, abs=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(6, 40),
    d=st.integers(2, 12),
    classes=st.integers(2, 5),
)
def test_score_is_invariant_to_relabelling(seed: int, n: int, d: int, classes: int) -> None:
    x, w, b, y = make_problem(max(n, classes), d, seed=seed, classes=classes)
    f = x @ w.T + b
    names = np.array([f"label-{i}" for i in np.random.default_rng(seed).permutation(classes)])
    base = logme(f, y)
    relabelled = logme(f, names[y])
    assert relabelled.score == pytest.approx(base.score, rel=1e-9, abs=1e-9)
    stats = TargetStatistics.from_embeddings(x, names[y])
    assert stats.classes is not None
    assert sorted(stats.classes) == sorted(names)
    assert score_linear(stats, w, b).score == pytest.approx(base.score, rel=1e-6, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# Inputs and API
# ---------------------------------------------------------------------------------------------


def test_bad_inputs_are_rejected() -> None:
    x, w, _, y = make_problem(30, 5, seed=16, classes=2)
    stats = TargetStatistics.from_embeddings(x, y)
    with pytest.raises(ValueError, match="D_out, 5"):
        score_linear(stats, np.ones((5, 6)))
    with pytest.raises(ValueError, match="NaN"):
        score_linear(stats, np.full((5, 5), np.nan))
    with pytest.raises(ValueError, match="biases"):
        score_linear_batch(stats, w[None], np.ones((1, 4)))
    with pytest.raises(ValueError, match="labels"):
        logme(x, y[:-1])
    with pytest.raises(ValueError, match="num_classes"):
        TargetStatistics.from_embeddings(x, y, num_classes=1)
    with pytest.raises(ValueError, match="NaN"):
        logme(np.where(x > 2, np.inf, x), y)
    with pytest.raises(ValueError, match="max_iter"):
        logme(x, y, max_iter=0)


def test_public_api_is_what_all_says() -> None:
    for name in logme_module.__all__:
        assert getattr(registry.ranker, name) is getattr(logme_module, name)
    assert set(logme_module.__all__) <= set(registry.ranker.__all__)
    assert isinstance(logme(np.eye(3), [0, 1, 1]), LogMEResult)
