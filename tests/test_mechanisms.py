"""Each variant's defining mechanism, tested directly."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ConfigError
from core.gan import losses
from core.gan.nets import Critic, Generator
from core.gan.priors import Prior
from core.gan.variants import VARIANTS, make_config
from core.train.engine import Trainer

from helpers import TINY, TINY_DATA


def trainer(variant, **over):
    return Trainer(make_config(variant, {**TINY, **over}), "cpu", progress=False, data_limit=TINY_DATA)


def steps(t, n):
    for _ in range(n):
        for real, y in t.loader.batches():
            t.train_step(real, y)
            break


def test_catalogue_is_exactly_the_fourteen_variants():
    assert list(VARIANTS) == ["vanilla", "wgan", "wgan-wc", "wgan-gp", "wgan-sn", "hinge", "san", "gm-static",
                              "gm-static-sup", "gm-static-cluster", "gm-static-wgan", "gm-dynamic", "cwgan-gp",
                              "gmm-cwgan-gp"]


# ---- wgan (seed 003's baseline): the Wasserstein loss and nothing keeping the critic Lipschitz -----
def test_plain_wgan_has_no_lipschitz_control(monkeypatch):
    t = trainer("wgan", lr_d=0.01)
    called = []
    monkeypatch.setattr(losses, "gradient_penalty", lambda *a, **k: called.append("gp"))
    monkeypatch.setattr(losses, "clip_weights", lambda *a, **k: called.append("clip"))
    steps(t, 3)
    assert not called and not any(hasattr(m, "weight_orig") for m in t.D.modules())  # no spectral norm
    biggest = max(float(p.abs().max()) for p in t.D.parameters())
    assert math.isfinite(biggest) and biggest > 2 * t.cfg["clip"]  # clipping would have clamped it to c
    r, f = torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0])
    loss, stats = losses.critic_loss_from("wasserstein", r, f, None)
    assert loss.item() == pytest.approx(f.mean() - r.mean()) and stats["wasserstein"] == pytest.approx(3.0)


# ---- static GM-GANs with a K+1 head: supervised (classes) and unsupervised (clusters) ---------------
def test_supervised_static_gm_gan_keeps_its_mixture_fixed_and_takes_seed_004s_k_11_d_200():
    t = trainer("gm-static-sup", prior_k=11, z_dim=200)
    assert t.D(torch.zeros(2, 784)).shape == (2, 12) and t.prior.means.shape == (11, 200)
    mu0 = t.prior.means.detach().clone()
    steps(t, 2)
    assert torch.equal(mu0, t.prior.means.detach()) and not t.prior.learnable
    with pytest.raises(ConfigError, match="at least 10"):
        make_config("gm-static-sup", {"prior_k": 9})


def test_cluster_discriminator_calls_a_real_digit_real_whatever_its_cluster():
    k = 10
    r = torch.zeros(3, k + 1)
    r[:, 2] = 4.0
    permuted = r[:, list(torch.randperm(k)) + [k]]  # which cluster a real digit falls in does not matter
    f = torch.zeros(3, k + 1)
    base, _ = losses.critic_loss_from("kplus1-cluster", r, f, None)
    same, _ = losses.critic_loss_from("kplus1-cluster", permuted, f, None)
    assert base.item() == pytest.approx(same.item())
    fake_looking = r.clone()
    fake_looking[:, k] = 6.0
    worse, _ = losses.critic_loss_from("kplus1-cluster", fake_looking, f, None)
    assert worse > base + 1
    # real term = −log(1 − p_fake) exactly
    want = -torch.log(1 - r.softmax(1)[:, k]).mean() + F.cross_entropy(f, torch.full((3,), k))
    assert base.item() == pytest.approx(want.item(), rel=1e-5)


def test_cluster_variant_uses_no_labels_and_pushes_components_to_their_cluster():
    t = trainer("gm-static-cluster")
    assert not t.v.conditional and t.D.n_classes == 0 and t.v.critic_head == "kplus1"
    real, y = next(iter(t.loader.batches()))
    z, yf = t.prior.sample(len(real), generator=torch.Generator().manual_seed(0))
    fake = t.G(z).detach()
    with torch.no_grad():
        given = [losses.critic_loss(kind, t.D, real, labels, fake, yf)[0]
                 for kind in ("kplus1-cluster", "kplus1") for labels in (y, torch.full_like(y, 9))]
    assert given[0] == given[1]  # the digit labels never reach the unsupervised loss
    assert given[2] != given[3]  # (they do reach the supervised one)
    logits = torch.zeros(4, 11)
    logits[:, 3] = 5.0

    class Fixed(nn.Module):
        n_classes = 0
        def forward(self, x, y=None): return logits
    low = losses.generator_loss("kplus1-cluster", Fixed(), torch.zeros(4, 784), torch.tensor([3] * 4))
    high = losses.generator_loss("kplus1-cluster", Fixed(), torch.zeros(4, 784), torch.tensor([7] * 4))
    assert low < high


# ---- vanilla: BCE on logits, non-saturating generator loss ------------------------------------
def test_vanilla_bce_and_non_saturating_generator():
    r, f = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    loss, stats = losses.critic_loss_from("bce", r, f, None)
    expect = F.binary_cross_entropy(torch.sigmoid(r), torch.ones(2)) + F.binary_cross_entropy(torch.sigmoid(f), torch.zeros(2))
    assert loss.item() == pytest.approx(expect.item(), rel=1e-5)
    assert stats["d_real"].item() == pytest.approx(torch.sigmoid(r).mean().item())

    class Const(nn.Module):
        n_classes = 0
        def __init__(self, v):
            super().__init__()
            self.v = v

        def forward(self, x, y=None): return torch.full((x.shape[0],), self.v)
    # non-saturating: -log σ(D(G(z))), large where D is sure the fake is fake
    assert losses.generator_loss("bce", Const(-5.0), torch.zeros(3, 784), None).item() == pytest.approx(
        -math.log(torch.sigmoid(torch.tensor(-5.0)).item()), rel=1e-5)


# ---- wgan-wc: clipped weights stay within ±c ----------------------------------------------------
def test_weight_clipping_keeps_critic_within_c():
    t = trainer("wgan-wc", clip=0.005, lr_d=0.1)  # a huge lr would push weights far out without the clamp
    steps(t, 3)
    assert max(p.abs().max().item() for p in t.D.parameters()) <= 0.005 + 1e-9
    sat = losses.clip_saturation(t.D, 0.005)
    assert set(sat) == {f"clip_sat_l{i}" for i in range(4)} and max(sat.values()) > 0.5


def test_no_clipping_without_the_mechanism():
    t = trainer("wgan-gp", lr_d=0.1)
    steps(t, 3)
    assert max(p.abs().max().item() for p in t.D.parameters()) > 0.01


# ---- wgan-gp: the penalty at interpolates ------------------------------------------------------
class Linear1(nn.Module):
    n_classes = 0
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)
        self.seen = []
    def forward(self, x, y=None):
        self.seen.append(x.detach().clone())
        return x @ self.w


def test_gradient_penalty_zero_for_1_lipschitz_linear_critic():
    w = torch.randn(784)
    real, fake = torch.randn(32, 784), torch.randn(32, 784)
    assert losses.gradient_penalty(Linear1(w / w.norm()), real, fake).item() == pytest.approx(0, abs=1e-10)
    assert losses.gradient_penalty(Linear1(3 * w / w.norm()), real, fake).item() == pytest.approx(4.0, rel=1e-5)


def test_gradient_penalty_is_evaluated_at_interpolates():
    D = Linear1(torch.randn(784))
    real, fake = torch.zeros(64, 784), torch.ones(64, 784)
    losses.gradient_penalty(D, real, fake)
    xhat = D.seen[0]
    eps = xhat[:, 0]
    assert torch.allclose(xhat, eps[:, None].expand(-1, 784))  # on the segment between the pair
    assert eps.min() >= 0 and eps.max() <= 1 and eps.std() > 0.1  # ε ~ U[0, 1] per sample


def test_wgan_gp_logs_its_penalty():
    t = trainer("wgan-gp")
    stats = t.critic_step(*next(iter(t.loader.batches())))
    assert "gp" in stats and stats["gp"].item() >= 0


# ---- wgan-sn: each critic layer's spectral norm ≈ 1 --------------------------------------------
def test_spectral_norm_of_each_critic_layer_is_one():
    t = trainer("wgan-sn")
    steps(t, 6)  # power iterations run in training-mode forwards
    with torch.no_grad():  # make the raw weights far from 1-Lipschitz
        for lin in t.D.linear_layers():
            lin.parametrizations.weight.original.mul_(5.0)
    raw = [torch.linalg.matrix_norm(lin.parametrizations.weight.original, ord=2).item()
           for lin in t.D.linear_layers()]
    assert min(raw) > 2.5
    t.D.train()
    with torch.no_grad():
        for _ in range(30):
            t.D(torch.randn(8, 784))
    t.D.eval()
    for lin in t.D.linear_layers():
        sigma = torch.linalg.matrix_norm(lin.weight.detach(), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.05)


# ---- hinge ---------------------------------------------------------------------------------------
def test_hinge_loss_values():
    loss, _ = losses.critic_loss_from("hinge", torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0]), None)
    assert loss.item() == pytest.approx((0 + 0.5) / 2 + (0 + 1) / 2)


# ---- san: unit direction; hinge trains h, Wasserstein trains ω only ----------------------------
def test_san_direction_is_unit_and_losses_split_their_gradients():
    D = Critic("san")
    assert D.direction().norm().item() == pytest.approx(1.0, abs=1e-6)
    x = torch.randn(16, 784)
    fun, direc = D.san_split(x)
    assert torch.allclose(fun, D(x), atol=1e-5) and torch.allclose(direc, D(x), atol=1e-5)
    # fun (hinge part) must not rotate ω: the head's gradient is parallel to w (scale only)
    D.zero_grad()
    F.relu(1 - fun).mean().backward()
    gw = D.w.grad
    assert abs(F.cosine_similarity(gw, D.w.detach(), dim=0).item()) == pytest.approx(1.0, abs=1e-4)
    assert D.body[0].weight.grad.abs().sum() > 0
    # dir (Wasserstein part) trains the direction only: gradient ⟂ w, none for h
    D.zero_grad()
    direc.mean().backward()
    assert abs(F.cosine_similarity(D.w.grad, D.w.detach(), dim=0).item()) < 1e-4
    assert D.body[0].weight.grad is None


def test_san_trains():
    t = trainer("san")
    w0 = t.D.w.detach().clone()
    steps(t, 3)
    assert not torch.allclose(w0 / w0.norm(), t.D.direction().detach())


# ---- gm-static: fixed mixture --------------------------------------------------------------------
def test_static_mixture_never_changes():
    t = trainer("gm-static")
    assert not t.prior.learnable and t.prior.k == 10
    mu0, s0 = t.prior.means.clone(), t.prior.sigmas().clone()
    assert mu0.abs().max() <= 0.1 and torch.allclose(s0, torch.full((10,), 0.15))
    steps(t, 4)
    assert torch.equal(mu0, t.prior.means) and torch.equal(s0, t.prior.sigmas())


def test_mixture_samples_come_from_their_component():
    p = Prior("mixture", 100, k=10, c=1.0, sigma=0.05)
    z, y = p.sample(2000, generator=torch.Generator().manual_seed(0))
    nearest = torch.cdist(z, p.means).argmin(1)
    assert torch.equal(nearest, y)
    assert torch.bincount(y, minlength=10).min() > 150  # uniform π_k


# ---- learnable priors (gm-dynamic, cwgan-gp) -----------------------------------------------------
@pytest.mark.parametrize("variant", ["gm-dynamic", "cwgan-gp"])
def test_learnable_prior_gets_gradients_and_moves(variant):
    t = trainer(variant, n_critic=1)
    assert t.prior.learnable
    mu0, ls0 = t.prior.means.detach().clone(), t.prior.log_sigma.detach().clone()
    t.generator_step()
    assert t.prior.means.grad is not None and t.prior.means.grad.abs().sum() > 0
    assert t.prior.log_sigma.grad.abs().sum() > 0
    assert not torch.equal(mu0, t.prior.means.detach()) and not torch.equal(ls0, t.prior.log_sigma.detach())


def test_critic_step_leaves_prior_alone():
    t = trainer("gm-dynamic")
    mu0 = t.prior.means.detach().clone()
    t.critic_step(*next(iter(t.loader.batches())))
    assert torch.equal(mu0, t.prior.means.detach())


def test_kplus1_fake_logit_is_trained_on_fakes():
    t = trainer("gm-dynamic", lr_d=1e-3)
    z, y = t.prior.sample(64, generator=torch.Generator().manual_seed(0))
    fakes = t.G(z).detach()

    def p_fake():
        with torch.no_grad():
            return t.D(fakes).softmax(1)[:, 10].mean().item()
    before = p_fake()
    for real, yr in list(t.loader.batches())[:6]:
        t.critic_step(real, yr)
    assert t.D(fakes).shape == (64, 11)
    assert p_fake() > before + 0.05


def test_gm_dynamic_generator_step_targets_the_sampled_components(monkeypatch):
    t = trainer("gm-dynamic")
    sampled, targets = [], []
    orig_sample, orig_loss = t.prior.sample, losses.generator_loss
    monkeypatch.setattr(t.prior, "sample", lambda n, **kw: (lambda zy: (sampled.append(zy[1]), zy)[1])(
        orig_sample(n, **kw)))
    monkeypatch.setattr(losses, "generator_loss", lambda kind, D, fake, y: (targets.append(y),
                                                                            orig_loss(kind, D, fake, y))[1])
    t.generator_step()
    assert torch.equal(sampled[0], targets[0]) and len(targets[0].unique()) > 3


def test_kplus1_generator_loss_targets_component_class():
    logits = torch.zeros(4, 11)
    logits[:, 3] = 5.0

    class Fixed(nn.Module):
        n_classes = 0
        def forward(self, x, y=None): return logits
    y = torch.tensor([3, 3, 3, 3])
    low = losses.generator_loss("kplus1", Fixed(), torch.zeros(4, 784), y)
    high = losses.generator_loss("kplus1", Fixed(), torch.zeros(4, 784), torch.tensor([7, 7, 7, 7]))
    assert low < high


# ---- conditional models ----------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["cwgan-gp", "gmm-cwgan-gp"])
def test_conditional_critic_depends_on_label(variant):
    t = trainer(variant)
    x = torch.randn(8, 784)
    with torch.no_grad():
        a, b = t.D(x, torch.zeros(8, dtype=torch.long)), t.D(x, torch.full((8,), 7))
    assert t.D.n_classes == 10 and not torch.allclose(a, b)


def test_conditional_fakes_use_the_real_labels():
    t = trainer("cwgan-gp")
    seen = []
    orig = t.prior.sample
    t.prior.sample = lambda n, y=None, **kw: (seen.append(y), orig(n, y=y, **kw))[1]
    real, y = next(iter(t.loader.batches()))
    t.critic_step(real, y)
    assert torch.equal(seen[0], y)


def test_gmm_cwgan_generator_is_conditional_cwgan_is_not():
    assert trainer("gmm-cwgan-gp").G.n_classes == 10 and trainer("cwgan-gp").G.n_classes == 0
    G = Generator(100, n_classes=10)
    z = torch.randn(4, 100)
    assert not torch.allclose(G(z, torch.zeros(4, dtype=torch.long)), G(z, torch.ones(4, dtype=torch.long)))


# ---- initialisation: PyTorch's default or Xavier (seed 001) -------------------------------------
@pytest.mark.parametrize("variant", ["wgan-gp", "wgan-sn"])
def test_xavier_init_gives_every_linear_layer_xavier_bounds_and_zero_bias(variant):
    from core.gan.nets import raw_weight
    from core.store.registry import build_models
    torch.manual_seed(0)
    G, D, _ = build_models(make_config(variant, {"init": "xavier"}))
    torch.manual_seed(0)
    G0, _, _ = build_models(make_config(variant))
    for net in (G, D):
        layers = [m for m in net.modules() if isinstance(m, nn.Linear)]
        assert layers
        for m in layers:
            w = raw_weight(m)
            bound = math.sqrt(6 / (w.shape[0] + w.shape[1]))
            assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound and torch.all(m.bias == 0)
    # PyTorch's default (Kaiming uniform, a=√5) is bounded by 1/√fan_in and has non-zero biases
    first = next(m for m in G0.modules() if isinstance(m, nn.Linear))
    assert first.weight.abs().max() <= 1 / math.sqrt(first.weight.shape[1]) and first.bias.abs().sum() > 0
    with pytest.raises(ConfigError, match="init must be one of"):
        make_config(variant, {"init": "orthogonal"})


def test_training_differences_are_the_shared_knobs_that_differ_beyond_bookkeeping():
    """Like for like (core.gan.variants.training_differences): epochs and batch size count, bookkeeping and
    the training seed do not, a knob only one variant uses is part of what differs between the variants,
    a knob a config predates takes its default, and a claim's own knobs (`about`) are excluded."""
    from core.gan.variants import BASE, make_config, training_differences
    gp = make_config("wgan-gp", {"epochs": 40, "log_every": 5, "seed": 1, "gp_lambda": 5.0})
    wc = make_config("wgan-wc", {"epochs": 20, "batch_size": gp["batch_size"], "n_critic": gp["n_critic"],
                                 "optimizer": gp["optimizer"], "lr_g": gp["lr_g"], "lr_d": gp["lr_d"],
                                 "beta2": gp["beta2"], "clip": 0.05})
    assert training_differences({"gp": gp, "wc": wc}) == [{"knob": "epochs", "gp": 40, "wc": 20}]
    assert training_differences({"gp": gp, "wc": wc}, about=("epochs",)) == []
    old = {k: v for k, v in wc.items() if k != "max_seconds"}  # saved before the time budget existed
    assert training_differences({"gp": {**gp, "epochs": 20}, "old": old}) == [] and BASE["max_seconds"] == 0.0
    assert training_differences({"a": gp, "b": {**gp, "data_limit": 640}}) == [{"knob": "data_limit", "a": 0, "b": 640}]
