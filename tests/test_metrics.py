"""core.eval.metrics: FID against closed forms, P/R/D/C against the `prdc` package, class scores."""
import contextlib
import io
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from core.eval import metrics


def _gauss(seed, n, d, shift=0.0, scale=1.0):
    return np.random.default_rng(seed).normal(shift, scale, size=(n, d))


def _reference_prdc(real, fake, k):
    from prdc import compute_prdc  # test-only reference (pinned in requirements.txt)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
        return {key: float(v) for key, v in compute_prdc(real, fake, k).items()}


# ---- FID ---------------------------------------------------------------------------------------
def test_feature_stats_are_float64_mean_and_unbiased_covariance():
    x = _gauss(0, 50, 4).astype(np.float32)
    mu, sigma = metrics.feature_stats(torch.from_numpy(x))
    assert mu.dtype == sigma.dtype == np.float64 and sigma.shape == (4, 4)
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-12)


def test_fid_of_a_set_with_itself_is_zero():
    x = _gauss(1, 400, 64)
    assert 0 <= metrics.fid(x, x) < 1e-9
    assert 0 <= metrics.fid(x[:40], x[:40]) < 1e-9  # N < d: singular covariance, still exact


def test_fid_grows_with_added_noise():
    x, noise = _gauss(2, 500, 32), _gauss(3, 500, 32)
    scores = [metrics.fid(x, x + s * noise) for s in (0.1, 0.3, 1.0, 3.0)]
    assert scores[0] > 0 and all(a < b for a, b in zip(scores, scores[1:])), scores


def test_frechet_distance_matches_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(4)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    a, b = rng.uniform(0.1, 3, 16), rng.uniform(0.1, 3, 16)
    # Diagonal: Tr(Σ1 + Σ2 − 2(Σ1Σ2)^½) = Σ (a + b − 2√(ab)) = Σ (√a − √b)².
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert metrics.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_is_symmetric_and_agrees_with_scipy_sqrtm():
    x, y = _gauss(5, 300, 24), _gauss(6, 300, 24, shift=0.2) @ _gauss(7, 24, 24)  # correlated
    (m1, s1), (m2, s2) = metrics.feature_stats(x), metrics.feature_stats(y)
    d12, d21 = metrics.frechet_distance(m1, s1, m2, s2), metrics.frechet_distance(m2, s2, m1, s1)
    assert d12 == pytest.approx(d21, rel=1e-10)
    reference = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert d12 == pytest.approx(reference, rel=1e-8)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# ---- precision / recall / density / coverage ----------------------------------------------------
def test_prdc_of_identical_sets():
    x = _gauss(8, 400, 32)
    ours = metrics.prdc(x, x.copy(), k=5)
    # Every fake is its own real's centre; each real ball holds itself and its k-1 nearer
    # neighbours (the k-th sits on the open ball's edge), so density is exactly k/k.
    assert ours == {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0}
    assert ours == pytest.approx(_reference_prdc(x, x.copy(), 5), abs=1e-12)


@pytest.mark.parametrize("seed,k", [(0, 5), (1, 5), (2, 3), (3, 10)])
def test_prdc_matches_reference_package(seed, k):
    d = 48
    real = _gauss(100 + seed, 900, d)
    fake = _gauss(200 + seed, 700, d, shift=0.08, scale=1.1)
    ours, ref = metrics.prdc(real, fake, k=k), _reference_prdc(real, fake, k)
    assert all(0.02 < v < 1 for v in ref.values()), ref  # not a degenerate all-0 / all-1 case
    assert ours == pytest.approx(ref, abs=1e-12)


def test_prdc_accepts_torch_and_float32():
    real, fake = _gauss(9, 300, 16).astype(np.float32), _gauss(10, 250, 16, shift=0.1).astype(np.float32)
    from_np = metrics.prdc(real, fake, k=4)
    assert metrics.prdc(torch.from_numpy(real), torch.from_numpy(fake), k=4) == from_np
    assert from_np == pytest.approx(_reference_prdc(real.astype(np.float64), fake.astype(np.float64), 4), abs=1e-12)


def test_prdc_in_float32_is_within_a_point_or_two_of_float64():
    real, fake = _gauss(15, 600, 64), _gauss(16, 500, 64, shift=0.1)
    f64, f32 = metrics.prdc(real, fake, k=5), metrics.prdc(real, fake, k=5, dtype=torch.float32)
    assert f32 == pytest.approx(f64, abs=2.5 / 500) and f64["precision"] < 1


def test_prdc_is_independent_of_chunk_size():
    real, fake = _gauss(11, 250, 32), _gauss(12, 220, 32, shift=0.1)
    results = [metrics.prdc(real, fake, k=5, chunk_rows=c) for c in (1, 37, 10_000)]
    assert results[0]["precision"] < 1 and all(r == results[0] for r in results[1:])


def test_prdc_reuses_the_real_sets_radii_when_given_them():
    """A fixed real set's k-NN radii (the test split's, shipped with the reference) give the same
    scores as recomputing them per call, and a wrong-sized set of radii is refused."""
    real, fake = _gauss(17, 300, 16), _gauss(18, 250, 16, shift=0.2)
    radii = metrics.kth_radii2(real, k=5)
    assert metrics.prdc(real, fake, k=5, real_radii2=radii) == metrics.prdc(real, fake, k=5)
    assert metrics.prdc(real, fake, k=5, real_radii2=radii * 0)["precision"] == 0  # they are what it uses
    with pytest.raises(ValueError, match="one radius per real point"):
        metrics.prdc(real, fake, k=5, real_radii2=radii[:10])


def test_prdc_blocks_stay_within_budget_at_10k():
    x = torch.zeros(10_000, 8, dtype=torch.float64)
    sl, d2 = next(metrics._blocks(x, x, None))  # the first block is the largest
    assert d2.shape == (sl.stop, 10_000) and 100 <= sl.stop < 10_000
    assert d2.numel() * (8 + 1) <= 100e6  # float64 block + its bool mask


def test_prdc_rejects_bad_input():
    x = _gauss(13, 5, 4)
    with pytest.raises(ValueError):
        metrics.prdc(x, x, k=5)  # need more than k points
    with pytest.raises(ValueError):
        metrics.prdc(x, _gauss(14, 5, 3), k=2)
    with pytest.raises(ValueError):
        metrics.prdc(np.full((6, 4), np.nan), x, k=2)


# ---- class-level scores -------------------------------------------------------------------------
def test_class_histogram_and_kl_to_uniform():
    uniform = np.repeat(np.arange(10), 7)
    h = metrics.class_histogram(uniform)
    assert h.shape == (10,) and h.sum() == pytest.approx(1) and np.allclose(h, 0.1)
    assert metrics.kl_to_uniform(h) == pytest.approx(0, abs=1e-12)
    one = metrics.class_histogram(torch.full((13,), 3))
    assert one[3] == 1 and metrics.kl_to_uniform(one) == pytest.approx(math.log(10))
    two = metrics.class_histogram([0, 9, 0, 9])  # empty bins count 0·log 0 = 0
    assert metrics.kl_to_uniform(two) == pytest.approx(math.log(5))
    skewed = metrics.class_histogram(np.array([0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
    assert skewed.sum() == pytest.approx(1) and 0 < metrics.kl_to_uniform(skewed) < math.log(10)
    assert metrics.kl_to_uniform([2, 2, 2, 2]) == pytest.approx(0, abs=1e-12)  # counts are normalised
    with pytest.raises(ValueError):
        metrics.class_histogram([0, 10])


def test_conditional_accuracy():
    assert metrics.conditional_accuracy([1, 2, 3, 4], [1, 2, 0, 4]) == 0.75
    assert metrics.conditional_accuracy(torch.tensor([5, 5]), np.array([5, 5])) == 1.0
    with pytest.raises(ValueError):
        metrics.conditional_accuracy([1, 2], [1])


def test_mean_confidence():
    assert metrics.mean_confidence([[0.9, 0.1], [0.3, 0.7]]) == pytest.approx(0.8)
    probs = torch.tensor([[0.0, 4.0, 0.0], [0.0, 0.0, 0.0]]).softmax(1)
    expected = (math.exp(4) / (math.exp(4) + 2) + 1 / 3) / 2
    assert metrics.mean_confidence(probs) == pytest.approx(expected)
