"""Discriminator rejection sampling and discriminator optimal transport (core/explore/refine.py)."""
import json

import pytest
import torch

from core.errors import ConfigError
from core.eval.names import METRICS
from core.explore import refine
from core.gan import sampling
from core.gan.variants import make_config
from core.store.registry import build_models, load_model


@pytest.mark.parametrize("rule", ["drs", "drs-sigmoid"])
@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_drs_hits_the_target_rate_and_keeps_higher_scores(zoo_wgan, rule, rate):
    G, D, prior = zoo_wgan
    r = refine.drs(G, D, prior, 600, rule=rule, target_rate=rate, burn_in=2000, seed=1)
    assert r.accepted.sum() >= 600
    assert abs(r.acceptance_rate - rate) < 0.04  # binomial noise on ~3000 proposals is ~0.01
    kept, _ = r.kept()
    rej, _ = r.rejected()
    assert len(kept) + len(rej) == len(r.images) == len(r.scores) == len(r.accept_prob)
    assert r.scores[r.accepted].mean() > r.scores.mean() + 0.1 * r.scores.std()
    # acceptance probability rises with the critic's score
    assert torch.corrcoef(torch.stack([r.scores, r.accept_prob]))[0, 1] > 0.5


def test_drs_percentile_rule_and_online_max(zoo_wgan):
    G, D, prior = zoo_wgan
    r = refine.drs(G, D, prior, 300, percentile=95, burn_in=500, seed=0)
    # γ at the 95th percentile of F̂ accepts far fewer than the 80th
    r80 = refine.drs(G, D, prior, 300, percentile=80, burn_in=500, seed=0)
    assert r.acceptance_rate < r80.acceptance_rate
    assert r.d_max >= float(r.scores.max()) - 1e-6  # D̃_M was raised online to cover every proposal


def test_f_hat_is_monotone_and_finite_at_the_max():
    s = torch.linspace(-5, 2, 50)
    f = refine.drs_f_hat(s, s.max())
    assert torch.isfinite(f).all() and (f.diff() > 0).all()


def test_kplus1_critic_logit_is_real_vs_fake_log_odds():
    G, D, prior = build_models(make_config("gm-dynamic"))
    x = torch.randn(4, 784)
    logits = D(x)
    p_fake = logits.softmax(1)[:, -1]
    assert torch.allclose(refine.critic_logit(D, x), torch.log((1 - p_fake) / p_fake), atol=1e-4)


@pytest.mark.parametrize("space", ["target", "latent"])
def test_dot_lowers_its_objective_and_stays_in_range(zoo_wgan, space):
    G, D, prior = zoo_wgan
    r = refine.dot(G, D, prior, 64, space=space, steps=10, keep_trajectory=4)
    assert r.objective[-1] < r.objective[0]
    assert r.after.shape == r.before.shape == (64, 784)
    assert r.after.min() >= -1 and r.after.max() <= 1
    assert r.cost.shape == (64,) and (r.cost > 0).all()
    assert len(r.trajectory) == 11 and r.trajectory[0].shape == (4, 784)
    assert torch.allclose(r.trajectory[0], r.before[:4].clamp(-1, 1))
    assert all(p.requires_grad for p in (*G.parameters(), *D.parameters()))  # restored


def test_dot_cost_is_per_sample(zoo_wgan):
    """Each sample moves as if transported alone: a norm over the whole batch (the bug of
    public ports) would couple them."""
    G, D, prior = zoo_wgan
    together = refine.dot(G, D, prior, 8, space="target", steps=5, k=0.25, batch=8)
    alone = refine.dot(G, D, prior, 8, space="target", steps=5, k=0.25, batch=1)
    assert torch.allclose(together.after, alone.after, atol=1e-5)
    assert torch.allclose(together.cost, alone.cost, atol=1e-5)


def test_k_eff_is_the_largest_slope_over_pairs(zoo_wgan):
    G, D, prior = zoo_wgan
    k = refine.k_eff(G, D, prior, "latent", n_pairs=50, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    z1, y1, x1 = sampling.propose(G, prior, 50, g)
    z2, y2, x2 = sampling.propose(G, prior, 50, g)
    slopes = (refine.scores_of(D, x2) - refine.scores_of(D, x1)).abs() / (z2 - z1).norm(dim=1)
    assert k == pytest.approx(float(slopes.max()), rel=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"rule": "nope"}, "unknown DRS rule"),
    ({"target_rate": 1.5}, "acceptance rate"),
    ({"rule": "drs-sigmoid"}, "tau"),
    ({"percentile": 140}, "percentile"),
])
def test_drs_bad_knobs_are_clear_errors(zoo_wgan, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        refine.drs(*zoo_wgan, 10, burn_in=10, **kwargs)


def test_dot_bad_space_is_a_clear_error(zoo_wgan):
    with pytest.raises(ConfigError, match="space"):
        refine.dot(*zoo_wgan, 4, space="pixels")


def test_cli_refine_json_keys(model_copy, cli):
    r = cli("refine", model_copy, "--method", "drs", "--n", "200", "--burn-in", "500",
            "--target-rate", "0.3", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert {"method", "before", "after", "acceptance_rate", "seconds"} <= set(res)
    assert res["before"]["n"] == res["after"]["n"] == 200
    assert abs(res["acceptance_rate"] - 0.3) < 0.08
    assert set(METRICS) <= set(res["after"])
    r = cli("refine", model_copy, "--method", "dot-latent", "--n", "100", "--steps", "3", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["acceptance_rate"] is None and res["objective_end"] < res["objective_start"]


@pytest.mark.parametrize("args, match", [
    (["--method", "drs", "--target-rate", "0"], "acceptance rate"),
    (["--method", "magic"], "invalid choice"),
    (["--method", "dot-target", "--steps", "0"], "--steps must be positive"),
])
def test_cli_refine_bad_knobs_exit_2_with_one_line(model_copy, args, match, cli):
    r = cli("refine", model_copy, "--n", "50", *args)
    assert r.returncode == 2
    assert match in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_k_eff_pairs_share_the_class_for_a_conditional_generator(monkeypatch):
    torch.manual_seed(0)
    G, D, prior = build_models(make_config("gmm-cwgan-gp"))
    seen = []
    real = refine.scores_of
    monkeypatch.setattr(refine, "scores_of", lambda D, x, y=None, **k: seen.append(y) or real(D, x, y))
    k = refine.k_eff(G, D, prior, "latent", n_pairs=40, generator=torch.Generator().manual_seed(0))
    assert k > 0 and len(seen) == 2 and torch.equal(seen[0], seen[1]) and len(seen[0]) == 40


def test_dot_leaves_the_models_without_gradients(zoo_wgan):
    G, D, prior = zoo_wgan
    refine.dot(G, D, prior, 4, space="latent", steps=2)
    assert all(p.grad is None and p.requires_grad for p in (*G.parameters(), *D.parameters()))


def test_drs_refuses_early_when_the_cap_cannot_suffice(zoo_wgan):
    with pytest.raises(ConfigError, match="proposals"):
        refine.drs(*zoo_wgan, 1000, percentile=99.5, burn_in=500, max_proposals=2000)


def test_drs_and_dot_start_from_one_proposal_pool(zoo_wgan):
    """One "before" for every method at a seed: their deltas can be compared."""
    drs_res = refine.before_after(*zoo_wgan, "drs", 300, seed=3, target_rate=0.5, burn_in=500)
    dot_res = refine.before_after(*zoo_wgan, "dot-target", 300, seed=3, steps=2)
    assert torch.equal(drs_res["images"][0], dot_res["images"][0])
    assert _scores(drs_res["before"]) == _scores(dot_res["before"])
    other = refine.before_after(*zoo_wgan, "dot-target", 300, seed=4, steps=2)
    assert not torch.equal(other["images"][0], dot_res["images"][0])  # the seed picks the pool


def _scores(s: dict) -> dict:
    return {k: v for k, v in s.items() if k != "seconds"}


def _res(method, before, after):
    keys = ("fid", "class_kl", "class_hist")
    return {"method": method, "before": dict(zip(keys, before)), "after": dict(zip(keys, after))}


def test_verdict_says_when_refinement_made_things_worse():
    hist = [0.3, 0, 0, 0.3, 0, 0.25, 0, 0, 0.15, 0]
    worse = _res("drs", (3.18, 0.06, [0.1] * 10), (4.96, 0.27, hist))
    [msg] = refine.verdict(worse, "wasserstein")
    assert "FID (3.180 → 4.960)" in msg and "KL 0.060 → 0.270" in msg
    assert "mostly 0s (30%), 3s (30%), 5s (25%)" in msg and "not a calibrated density-ratio" in msg
    for classifier_loss in ("bce", "kplus1"):  # a classifier's logit is the density ratio DRS assumes
        [msg] = refine.verdict(worse, classifier_loss)
        assert "density-ratio" not in msg
    assert refine.verdict(_res("dot-target", (3.17, 0.06, [0.1] * 10), (3.05, 0.05, [0.1] * 10))) == []


def test_k_eff_pairs_share_the_label_the_critic_is_given(monkeypatch):
    """cwgan-gp: G is unconditional, the critic D(x, y) is conditional. A pair with two labels
    measures how D changes with y, not its slope in x or z, so every pair must share its label."""
    torch.manual_seed(0)
    G, D, prior = build_models(make_config("cwgan-gp"))
    assert not G.n_classes and D.n_classes
    seen = []
    real_scores = refine.scores_of

    def recording(D_, x, y=None, batch=4096):
        seen.append(y)
        return real_scores(D_, x, y, batch)

    monkeypatch.setattr(refine, "scores_of", recording)
    for space in refine.DOT_SPACES:
        seen.clear()
        k = refine.k_eff(G, D, prior, space, n_pairs=50, generator=torch.Generator().manual_seed(1))
        y2, y1 = seen
        assert k > 0 and len(y1) >= 40
        assert torch.equal(y1, y2), f"{(y1 != y2).float().mean():.0%} of the pairs have two labels"


def test_dot_defaults_to_plain_sgd_one_step_is_minus_lr_times_the_gradient(zoo_wgan):
    """The official DOT (execute_dot.py --optmode sgd) takes plain gradient steps."""
    import inspect
    G, D, prior = zoo_wgan
    assert inspect.signature(refine.dot).parameters["optimizer"].default == "sgd"
    z, y, x = refine.proposal_pool(G, prior, 16, seed=3)
    k = 2.0
    v = x.clone().requires_grad_(True)
    obj = ((v - x + 1e-3).norm(dim=1) - refine.critic_logit(D, v) / k).sum()
    grad, = torch.autograd.grad(obj, v)
    want = (x - 0.01 * grad).clamp(-1, 1)
    got = refine.dot(G, D, prior, 16, space="target", steps=1, lr=0.01, k=k, pool=(z, y, x)).after
    assert torch.allclose(got, want, atol=1e-6)
    adam = refine.dot(G, D, prior, 16, space="target", steps=1, lr=0.01, k=k, pool=(z, y, x), optimizer="adam").after
    assert (adam - x).abs().mean() > 3 * (got - x).abs().mean()  # Adam moves every pixel ~lr at once
    with pytest.raises(ConfigError, match="optimizer"):
        refine.dot(G, D, prior, 4, optimizer="lbfgs")


@pytest.mark.parametrize("variant", ["wgan-gp", "cwgan-gp"])
def test_latent_dot_keeps_codes_on_the_priors_sphere(variant):
    """Steps along the tangent of ‖z − μ_y‖: the codes stay where the prior puts its mass."""
    m = load_model(variant)
    G, D, prior = m.G, m.D, m.prior
    z, y, x = refine.proposal_pool(G, prior, 64, seed=0)
    centre = refine._prior_centres(prior, y, z)
    r0 = (z - centre).norm(dim=1)
    res = refine.dot(G, D, prior, 64, space="latent", steps=20, lr=0.05, optimizer="adam", pool=(z, y, x), k=0.05)
    assert res.cost.mean() > 0.5  # the codes did move (Adam, a large step)...
    r1 = (res.codes - centre).norm(dim=1)
    assert torch.allclose(r1, r0, rtol=1e-4)  # ...along the sphere they were drawn on
    g = torch.randn(64, z.shape[1])
    assert torch.allclose((refine.tangent(g, z - centre) * (z - centre)).sum(1), torch.zeros(64), atol=1e-3)
    if variant == "cwgan-gp":  # each code circles its own class's mean, not the origin
        assert (centre.norm(dim=1) > 0).all()
