"""Drawing digits from a generator: the one loop every sampler uses (scoring, refinement,
maps, the pages), batched and without gradients."""
from __future__ import annotations

import torch

from core.gan.priors import Prior

EVAL_N = 100  # fixed evaluation noise: a 10×10 grid, one row per component/class when there are 10


def eval_noise(prior: Prior, seed: int, n: int = EVAL_N):
    """The fixed evaluation codes: same ε and components every call; for a learnable prior the
    codes follow its current μ and σ."""
    g = torch.Generator().manual_seed(seed + 1)
    y = (torch.arange(n) * prior.k // n).to(prior.device) if prior.k else None  # rows of equal components
    return prior.sample(n, y=y, generator=g)


def propose(G, prior, n: int, generator: torch.Generator | None = None, batch: int = 4096, y=None):
    """n codes, their components/labels (`y` asks for them; None = the prior's own draw) and
    images (model range, N×784)."""
    dev = next(G.parameters()).device
    zs, ys, xs = [], [], []
    with torch.no_grad():
        for i in range(0, n, batch):
            m = min(batch, n - i)
            z, yy = prior.sample(m, y=None if y is None else y[i:i + m].to(dev), device=dev, generator=generator)
            zs.append(z), ys.append(yy), xs.append(G(z, yy))  # an unconditional G ignores the labels
    return torch.cat(zs), (None if ys[0] is None else torch.cat(ys)), torch.cat(xs)


def generate(G, prior, n: int, y=None, generator=None, batch: int = 2048) -> tuple:
    """n images (model range, N×784) and their components/labels."""
    _, y, x = propose(G, prior, n, generator, batch, y=y)
    return x, y
