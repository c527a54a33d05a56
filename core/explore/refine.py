"""Improving samples after training with the discriminator (GUIDE §1).

- Discriminator rejection sampling (Azadi et al. 2019), rule "drs":
  D̃ = the critic's logit (BCE) or raw score (Wasserstein/hinge/SAN), D̃_M = the largest D̃
  seen (from a burn-in, raised online batch by batch), F̂ = D̃ − D̃_M − log(1 − exp(D̃ − D̃_M − ε)),
  accept with p = σ(F̂ − γ); γ = a percentile of the burn-in's F̂, or solved so the burn-in's
  mean p equals a target acceptance rate (both recomputed whenever D̃_M rises).
  Rule "drs-sigmoid" (seed 001): p = σ(D̃ − τ), τ given or solved for a target rate.
- Discriminator optimal transport (Tanaka 2019), in target (image) or latent space:
  minimise ‖x − y + δ‖₂ − D(x)/k_eff per sample with plain SGD (the official default; Adam
  is an option), starting at x = y.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from core.errors import ConfigError
from core.gan.sampling import propose

DRS_RULES = ("drs", "drs-sigmoid")
DOT_SPACES = ("target", "latent")


def critic_logit(D, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """The critic's "realness" per sample: the logit / raw score; for a K+1-class head the
    log-odds of any real class against the fake class."""
    out = D(x, y if D.n_classes else None)
    if out.dim() == 2:  # kplus1 logits
        return torch.logsumexp(out[:, :-1], dim=1) - out[:, -1]
    return out


def scores_of(D, x: torch.Tensor, y=None, batch: int = 4096) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([critic_logit(D, x[i:i + batch], None if y is None else y[i:i + batch])
                          for i in range(0, len(x), batch)])


# ---------------------------------------------------------------- rejection sampling

def drs_f_hat(scores: torch.Tensor, d_max: torch.Tensor | float, eps: float = 1e-6) -> torch.Tensor:
    """Azadi's F̂ = D̃ − D̃_M − log(1 − exp(D̃ − D̃_M − ε)), in float64 (D̃ ≤ D̃_M)."""
    d = scores.double() - torch.as_tensor(d_max, dtype=torch.float64)
    return d - torch.log(-torch.expm1(d - eps))


def solve_shift(values: torch.Tensor, rate: float, iters: int = 100) -> float:
    """The shift γ with mean σ(values − γ) = rate (bisection; the mean falls as γ grows)."""
    if not 0 < rate < 1:
        raise ConfigError(f"target acceptance rate must be in (0, 1), got {rate}")
    v = values.double()
    lo, hi = float(v.min()) - 50.0, float(v.max()) + 50.0
    for _ in range(iters):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if torch.sigmoid(v - mid).mean() > rate else (lo, mid)
    return (lo + hi) / 2


@dataclass
class DRSResult:
    """Every proposal with its score, acceptance probability and fate."""
    images: torch.Tensor          # N×784, model range
    labels: torch.Tensor | None   # components / requested classes (None for N(0, I))
    scores: torch.Tensor          # D̃ per proposal
    accept_prob: torch.Tensor
    accepted: torch.Tensor        # bool mask
    rule: str
    shift: float                  # γ (drs) or τ (drs-sigmoid)
    d_max: float
    burn_in: int

    @property
    def acceptance_rate(self) -> float:
        return float(self.accepted.float().mean())

    def kept(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        m = self.accepted
        return self.images[m], (None if self.labels is None else self.labels[m])

    def rejected(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        m = ~self.accepted
        return self.images[m], (None if self.labels is None else self.labels[m])


def drs(G, D, prior, n_accept: int, rule: str = "drs", percentile: float | None = 80.0,
        target_rate: float | None = None, tau: float | None = None, eps: float = 1e-6,
        burn_in: int = 10_000, seed: int = 0, batch: int = 4096, max_proposals: int | None = None,
        pool: tuple | None = None) -> DRSResult:
    """Draw proposals until `n_accept` are accepted (or `max_proposals`, default 50×n_accept,
    are used). `target_rate` overrides `percentile` (drs) / `tau` (drs-sigmoid). `pool` =
    (z, y, x) from `propose`: the first proposals (shared with other methods for a fair baseline)."""
    if rule not in DRS_RULES:
        raise ConfigError(f"unknown DRS rule {rule!r}; choose one of {', '.join(DRS_RULES)}")
    if n_accept < 1 or burn_in < 1 or eps <= 0:
        raise ConfigError("DRS needs n ≥ 1, burn_in ≥ 1 and eps > 0")
    if target_rate is None and rule == "drs" and not (percentile is not None and 0 <= percentile <= 100):
        raise ConfigError(f"DRS percentile must be in [0, 100], got {percentile}")
    if target_rate is None and rule == "drs-sigmoid" and tau is None:
        raise ConfigError("drs-sigmoid needs --tau or a --target-rate")
    g = torch.Generator().manual_seed(seed)
    z, yb, xb = propose(G, prior, burn_in, g, batch)
    sb = scores_of(D, xb, yb).cpu()
    d_max = sb.max()

    def calibrate(d_max) -> float:  # γ / τ from the burn-in, under the current D̃_M
        if rule == "drs":
            fb = drs_f_hat(sb, d_max, eps)
            return solve_shift(fb, target_rate) if target_rate is not None else \
                float(torch.quantile(fb, percentile / 100))
        return solve_shift(sb, target_rate) if target_rate is not None else float(tau)

    shift = calibrate(d_max)
    cap = max_proposals or 50 * n_accept
    expected = float(torch.sigmoid((drs_f_hat(sb, d_max, eps) if rule == "drs" else sb.double()) - shift).mean())
    if n_accept > 1.5 * expected * cap:  # refuse before generating what cannot suffice
        raise ConfigError(f"at an expected acceptance of {expected:.1%}, {n_accept} accepted digits need about "
                          f"{n_accept / max(expected, 1e-9):,.0f} proposals (cap {cap:,}); raise the acceptance "
                          f"or lower n")
    xs, ys, ss, ps, acc, n_ok, used = [], [], [], [], [], 0, 0
    pending = [pool] if pool is not None else []
    while n_ok < n_accept and used < cap:
        if pending:
            _, y, x = pending.pop()
            m = len(x)
        else:
            m = min(batch, cap - used)
            _, y, x = propose(G, prior, m, g, batch)
        s = scores_of(D, x, y).cpu()
        if rule == "drs":
            if s.max() > d_max:  # D̃_M raised online (per batch), γ recalibrated with it
                d_max = s.max()
                shift = calibrate(d_max)
            p = torch.sigmoid(drs_f_hat(s, d_max, eps) - shift)
        else:
            p = torch.sigmoid(s.double() - shift)
        a = torch.rand(m, generator=g, dtype=torch.float64) < p
        xs.append(x.cpu()), ys.append(y), ss.append(s), ps.append(p.float()), acc.append(a)
        n_ok, used = n_ok + int(a.sum()), used + m
    labels = None if ys[0] is None else torch.cat(ys).cpu()
    return DRSResult(torch.cat(xs), labels, torch.cat(ss), torch.cat(ps), torch.cat(acc), rule, shift,
                     float(d_max), burn_in)


# ---------------------------------------------------------------- optimal transport

def k_eff(G, D, prior, space: str = "latent", n_pairs: int = 100, generator=None) -> float:
    """Effective Lipschitz constant of D (∘G in latent space): the largest
    |D(x₂) − D(x₁)| / ‖·₂ − ·₁‖ over random pairs (latent codes or images)."""
    if space not in DOT_SPACES:
        raise ConfigError(f"DOT space must be one of {', '.join(DOT_SPACES)}, got {space!r}")
    if G.n_classes or D.n_classes:  # labels reach G or the critic: pair codes of the same class
        # (cwgan-gp has an unconditional G but a conditional critic: D(x, y) differs with y alone)
        z, y, x = propose(G, prior, 6 * n_pairs, generator)
        order = torch.argsort(y.cpu(), stable=True)
        a, b = order[:-1:2], order[1::2]
        same = y.cpu()[a] == y.cpu()[b]
        a, b = a[same][:n_pairs], b[same][:n_pairs]
        z1, y1, x1, z2, y2, x2 = z[a], y[a], x[a], z[b], y[b], x[b]
    else:
        z1, y1, x1 = propose(G, prior, n_pairs, generator)
        z2, y2, x2 = propose(G, prior, n_pairs, generator)
    num = (scores_of(D, x2, y2) - scores_of(D, x1, y1)).abs()
    den = ((z2 - z1) if space == "latent" else (x2 - x1)).norm(dim=1)
    return float((num / den.clamp_min(1e-12)).max())


@dataclass
class DOTResult:
    before: torch.Tensor          # the proposals' images
    after: torch.Tensor           # transported images (clamped to [-1, 1])
    labels: torch.Tensor | None
    cost: torch.Tensor            # ‖· − ·₀‖ per sample after transport
    objective: list[float]        # the mean objective at every step (first = start)
    k_eff: float
    space: str
    trajectory: list[torch.Tensor] = field(default_factory=list)  # images per kept step
    codes: torch.Tensor | None = None  # latent space: the transported codes


DOT_OPTIMIZERS = ("sgd", "adam")


def _prior_centres(prior, y: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """The centre each code's Gaussian is drawn around: its component's mean, else 0."""
    means = getattr(prior, "means", None)
    if y is None or means is None or not getattr(prior, "k", 0):
        return torch.zeros_like(like)
    return means.detach()[y.to(means.device)].to(like.device)


def tangent(grad: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """grad without its component along r (per sample): a step along it keeps ‖r‖ fixed to
    first order. For a Gaussian code r = z − μ, ‖r‖ ≈ σ√d is where its mass lies, so latent DOT
    keeps z on the prior's support (the official DOT code removes the same radial part)."""
    return grad - r * (grad * r).sum(1, keepdim=True) / r.pow(2).sum(1, keepdim=True).clamp_min(1e-12)


def dot(G, D, prior, n: int, space: str = "target", steps: int = 20, lr: float = 0.01,
        optimizer: str = "sgd", betas: tuple[float, float] = (0.0, 0.9), delta: float = 1e-3,
        k: float | None = None, seed: int = 0, batch: int = 2048, keep_trajectory: int = 0, n_pairs: int = 100,
        pool: tuple | None = None) -> DOTResult:
    """Transport n proposals (`pool` = (z, y, x) from `propose` to transport those instead).
    `optimizer`: plain SGD (the official code's default, `--optmode sgd`) or Adam with `betas`
    (its option; Adam moves every coordinate ~lr per step whatever the gradient, far more
    transport). Target space clamps x to [-1, 1] after each step (the paper); latent space
    steps along the prior's sphere (`tangent`). `keep_trajectory` = how many samples' images to
    keep at every step (for an animation); 0 keeps none."""
    if space not in DOT_SPACES:
        raise ConfigError(f"DOT space must be one of {', '.join(DOT_SPACES)}, got {space!r}")
    if optimizer not in DOT_OPTIMIZERS:
        raise ConfigError(f"DOT optimizer must be one of {', '.join(DOT_OPTIMIZERS)}, got {optimizer!r}")
    if steps < 0 or lr <= 0 or n < 1 or delta < 0:
        raise ConfigError("DOT needs steps ≥ 0, lr > 0, delta ≥ 0 and n ≥ 1")
    g = torch.Generator().manual_seed(seed)
    k = k if k is not None else k_eff(G, D, prior, space, n_pairs, g)
    if not k > 0:
        raise ConfigError(f"k_eff must be positive (got {k}); is the critic constant?")
    z0, y, x0 = pool if pool is not None else propose(G, prior, n, g)
    n = len(x0)
    afters, costs, codes, objs = [], [], [], torch.zeros(steps + 1, dtype=torch.float64)
    traj: list[list[torch.Tensor]] = [[] for _ in range(steps + 1)] if keep_trajectory else []
    # gradients are taken w.r.t. the transported points only: the (possibly shared) models are untouched
    for i in range(0, n, batch):
        yy = None if y is None else y[i:i + batch]
        start = (z0 if space == "latent" else x0)[i:i + batch]
        v = start.clone().requires_grad_(True)
        opt = torch.optim.Adam([v], lr=lr, betas=betas) if optimizer == "adam" else torch.optim.SGD([v], lr=lr)
        centre = _prior_centres(prior, yy, start) if space == "latent" else None
        radius = (start - centre).norm(dim=1, keepdim=True) if centre is not None else None

        def image(v, yy=yy):
            return G(v, yy) if space == "latent" else v

        for s in range(steps + 1):
            x = image(v)
            cost = (v - start + delta).norm(dim=1)  # per sample (dim=1), not over the batch
            obj = cost - critic_logit(D, x, yy) / k
            objs[s] += float(obj.detach().sum())
            if traj and i == 0:
                traj[s].append(x.detach()[:keep_trajectory].clamp(-1, 1).cpu())
            if s == steps:
                break
            v.grad, = torch.autograd.grad(obj.sum(), v)
            if centre is not None:
                v.grad = tangent(v.grad, v.detach() - centre)
            opt.step()
            with torch.no_grad():
                if space == "target":
                    v.clamp_(-1, 1)
                else:  # back onto the sphere the step left (a retraction): ‖z − μ‖ stays as drawn
                    r = v - centre
                    v.copy_(centre + r * radius / r.norm(dim=1, keepdim=True).clamp_min(1e-12))
        with torch.no_grad():
            afters.append(image(v).clamp(-1, 1).cpu())
            costs.append((v - start).norm(dim=1).cpu())
            if space == "latent":
                codes.append(v.detach().cpu())
    return DOTResult(x0.cpu(), torch.cat(afters), None if y is None else y.cpu(), torch.cat(costs),
                     (objs / n).tolist(), k, space, [torch.cat(t) for t in traj],
                     torch.cat(codes) if codes else None)


# ---------------------------------------------------------------- before/after scores

METHODS = ("drs", "drs-sigmoid", "dot-latent", "dot-target")
POOL_STREAM = 0x5EED  # the proposal pool's own random stream, apart from each method's draws


def proposal_pool(G, prior, n: int, seed: int = 0) -> tuple:
    """The n proposals (z, y, x) that every refinement method starts from for this seed, so
    DRS and DOT share one "before" and their results can be compared."""
    return propose(G, prior, n, torch.Generator().manual_seed(seed * 0x10000 + POOL_STREAM))


def before_after(G, D, prior, method: str, n: int, seed: int = 0, conditional: bool = False,
                 device: str = "cpu", keep_trajectory: int = 0, **knobs) -> dict:
    """Refine n proposals and score them before and after on the same proposal pool (for DRS:
    the first n proposals vs the first n accepted). Returns the summary numbers, the scores
    ("before", "after": the score JSON keys) and, for display, "images" (before, after),
    "rejected" (up to 100 DRS rejects) and "trajectory" (DOT, `keep_trajectory` digits)."""
    from core.eval.score import score_images
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    t0 = time.perf_counter()
    out = {"method": method, "n": n, "seed": seed}
    pool = proposal_pool(G, prior, n, seed)  # every method starts from these n digits: one "before"
    if method in DRS_RULES:
        r = drs(G, D, prior, n, rule=method, seed=seed, pool=pool, **knobs)
        kept_x, kept_y = r.kept()
        if len(kept_x) < n:
            raise ConfigError(f"DRS accepted only {len(kept_x)} of {len(r.images)} proposals; "
                              f"raise the acceptance (lower percentile/tau or a higher target rate)")
        before_x, before_y = r.images[:n], (None if r.labels is None else r.labels[:n])
        after_x, after_y = kept_x[:n], (None if kept_y is None else kept_y[:n])
        out.update(acceptance_rate=r.acceptance_rate, proposals=len(r.images), shift=r.shift,
                   rejected=r.rejected()[0][:100], trajectory=None)
    else:
        r = dot(G, D, prior, n, space=method.split("-")[1], seed=seed, keep_trajectory=keep_trajectory, pool=pool,
                **knobs)
        before_x, after_x, before_y = r.before, r.after, r.labels
        after_y = before_y
        out.update(acceptance_rate=None, k_eff=r.k_eff, mean_cost=float(r.cost.mean()),
                   objective=r.objective, objective_start=r.objective[0], objective_end=r.objective[-1],
                   rejected=None, trajectory=torch.stack(r.trajectory, 1).reshape(-1, 784) if r.trajectory else None)
    out["refine_seconds"] = round(time.perf_counter() - t0, 2)
    out["before"] = score_images(before_x, before_y if conditional else None, device)
    out["after"] = score_images(after_x, after_y if conditional else None, device)
    out["images"] = (before_x, after_x)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def refine_model(model: str, method: str, n: int = 10_000, seed: int = 0, device: str = "cpu", **knobs) -> dict:
    """`before_after` for a model by name, as JSON-ready numbers (no images)."""
    from core.store.registry import load_model, require_critic
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    m = load_model(model, device)
    require_critic(m.D, model, method.upper() if method in DRS_RULES else "refinement")
    res = before_after(m.G, m.D, m.prior, method, n, seed, m.conditional, device, **knobs)
    return {"model": model, **{k: v for k, v in res.items()
                               if k not in ("images", "rejected", "trajectory", "objective")}}


K_EFF_NOTE = ("k_eff is the critic's steepest slope seen between 100 random pairs (|ΔD| / distance): dividing D by "
              "it makes one unit of critic gain cost one unit of transport.")
CRITIC_NOTE = ("DRS assumes the discriminator's logit is log p_data/p_model + const — true at the optimum of a BCE "
               "discriminator. A Wasserstein, hinge or SAN critic is only a Lipschitz score, not a calibrated "
               "density-ratio estimator, so rejecting by it can drop good digits and whole classes.")


def verdict(res: dict, loss: str | None = None) -> list[str]:
    """Plain-language warnings about a before/after result: refinement that made FID or the
    class balance worse, and which digits it kept most. `loss` = the model's loss family
    (adds why DRS may fail on a critic that is not a density-ratio estimator)."""
    b, a = res["before"], res["after"]
    out = []
    worse_fid = a["fid"] > b["fid"] * 1.02
    worse_kl = a["class_kl"] > b["class_kl"] + 0.02
    if worse_fid or worse_kl:
        what = " and ".join(w for w, bad in ((f"FID ({b['fid']:.3f} → {a['fid']:.3f})", worse_fid),
                                             (f"class balance (KL {b['class_kl']:.3f} → {a['class_kl']:.3f})",
                                              worse_kl)) if bad)
        hist = np.asarray(a.get("class_hist") or [])
        top = ", ".join(f"{d}s ({hist[d]:.0%})" for d in np.argsort(-hist)[:3]) if hist.size == 10 else ""
        msg = f"{res['method']} made {what} worse here" + (f"; what it kept is mostly {top}" if top else "") + "."
        if res["method"] in DRS_RULES and loss in ("wasserstein", "hinge", "san"):  # critics, not classifiers
            msg += " " + CRITIC_NOTE
        out.append(msg)
    return out
