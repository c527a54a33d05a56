"""Adversarial losses and Lipschitz regularisers, as pure functions of the critic's outputs.

`critic_loss` and `generator_loss` each do one forward pass of the critic and return the
loss (and, for the critic, a few statistics for logging).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def critic_outputs(kind: str, D, x, y=None):
    """The critic's training output: scores/logits, or SAN's (fun, dir) pair."""
    return D.san_split(x, y) if kind == "san" else D(x, y)


def critic_loss_from(kind: str, r, f, y_real, san_lambda: float = 1.0):
    """Critic loss from its outputs on real (r) and fake (f) digits. Returns (loss, stats)."""
    if kind == "san":
        (fr, dr), (ff, df) = r, f
        loss = F.relu(1 - fr).mean() + F.relu(1 + ff).mean() + san_lambda * (df.mean() - dr.mean())
        return loss, {"d_real": fr.mean(), "d_fake": ff.mean()}
    if kind == "kplus1":
        k = r.shape[1] - 1
        loss = F.cross_entropy(r, y_real) + F.cross_entropy(f, torch.full((f.shape[0],), k, device=f.device))
        # "D(x)": the probability the critic gives to "real" (any of the K classes).
        return loss, {"d_real": (1 - r.softmax(1)[:, k]).mean(), "d_fake": (1 - f.softmax(1)[:, k]).mean()}
    if kind == "kplus1-cluster":  # unsupervised: a real digit belongs to *some* cluster, a fake to the fake class
        k = r.shape[1] - 1
        real_vs_fake = torch.logsumexp(r[:, :k], dim=1) - r[:, k]  # log Σ_k p_k − log p_fake
        loss = F.softplus(-real_vs_fake).mean() + F.cross_entropy(f, torch.full((f.shape[0],), k, device=f.device))
        return loss, {"d_real": (1 - r.softmax(1)[:, k]).mean(), "d_fake": (1 - f.softmax(1)[:, k]).mean()}
    if kind == "bce":  # BCE-with-logits: softplus(-l) = -log σ(l), softplus(l) = -log(1-σ(l))
        loss = F.softplus(-r).mean() + F.softplus(f).mean()
        return loss, {"d_real": torch.sigmoid(r).mean(), "d_fake": torch.sigmoid(f).mean()}
    if kind == "wasserstein":
        loss = f.mean() - r.mean()
    elif kind == "hinge":
        loss = F.relu(1 - r).mean() + F.relu(1 + f).mean()
    else:
        raise ValueError(f"unknown loss {kind!r}")
    return loss, {"d_real": r.mean(), "d_fake": f.mean(), "wasserstein": r.mean() - f.mean()}


def critic_loss(kind: str, D, real, y_real, fake, y_fake, san_lambda: float = 1.0):
    """Loss for one critic step (fakes detached): one forward over real and fake concatenated
    (one larger GEMM is faster than two). Returns (loss, stats)."""
    b = real.shape[0]
    y = torch.cat([y_real, y_fake]) if D.n_classes else None  # labels only for a conditional critic
    out = critic_outputs(kind, D, torch.cat([real, fake]), y)
    if kind == "san":
        r, f = (out[0][:b], out[1][:b]), (out[0][b:], out[1][b:])
    else:
        r, f = out[:b], out[b:]
    return critic_loss_from(kind, r, f, y_real, san_lambda)


def generator_loss(kind: str, D, fake, y_fake):
    """Loss for one generator step (critic frozen by the caller)."""
    out = D(fake, y_fake if D.n_classes else None)  # kplus1 uses y_fake as the target only
    if kind == "bce":
        return F.softplus(-out).mean()  # non-saturating: -log σ(D(G(z)))
    if kind in ("kplus1", "kplus1-cluster"):
        return F.cross_entropy(out, y_fake)  # toward the component's class (cluster)
    return -out.mean()  # wasserstein, hinge, san


def gradient_penalty(D, real, fake, y=None) -> torch.Tensor:
    """E[(‖∇_x̂ D(x̂)‖₂ − 1)²] at x̂ = εx + (1−ε)G(z), ε ~ U[0,1] per sample (Gulrajani et al.)."""
    eps = torch.rand(real.shape[0], 1, device=real.device, dtype=real.dtype)
    xhat = torch.lerp(fake, real, eps).requires_grad_(True)
    out = D(xhat, y)
    (grad,) = torch.autograd.grad(out.sum(), xhat, create_graph=True)
    return (grad.norm(2, dim=1) - 1).pow(2).mean()


@torch.no_grad()
def clip_weights(D: nn.Module, c: float) -> None:
    """WGAN: clamp every critic parameter to [-c, c] (in place, after the optimiser step)."""
    torch._foreach_clamp_min_(ps := list(D.parameters()), -c)
    torch._foreach_clamp_max_(ps, c)


@torch.no_grad()
def clip_saturation(D, c: float) -> dict[str, float]:
    """Fraction of each layer's weights sitting at ±c (seed 001's diagnostic)."""
    return {f"clip_sat_l{i}": float((lin.weight.abs() >= c * (1 - 1e-6)).float().mean())
            for i, lin in enumerate(D.linear_layers())}


HIST_BINS = 40
HIST_SPAN = 2  # the weight histograms cover [−HIST_SPAN·c, HIST_SPAN·c]


@torch.no_grad()
def weight_histograms(D, c: float, bins: int = HIST_BINS) -> dict[str, list[int]]:
    """Counts of each layer's critic weights over [−2c, 2c] in `bins` bins (values beyond the
    range land in the end bins) — taken *before* clipping, seed 001's Figure 3: with c too
    small, the mass piles up past ±c."""
    lo, hi = -HIST_SPAN * c, HIST_SPAN * c
    return {f"l{i}": torch.histc(lin.weight.detach().float().clamp(lo, hi), bins, lo, hi).long().tolist()
            for i, lin in enumerate(D.linear_layers())}


def weight_histogram_centres(c: float, bins: int) -> list[float]:
    """The centres of `weight_histograms`' bins for clipping value c."""
    width = 2 * HIST_SPAN * c / bins
    return [-HIST_SPAN * c + (i + 0.5) * width for i in range(bins)]
