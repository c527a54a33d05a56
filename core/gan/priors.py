"""Latent priors. Each samples `(z, y)`: y is the mixture component / class (None for N(0, I)).

- gaussian:           z ~ N(0, I)
- mixture:            z ~ Σ_k π_k N(μ_k, σ² I), μ_k ~ U[-c, c]^d drawn once, never trained
- mixture-learnable:  the same, but μ_k and log σ_k are parameters trained with the generator
                      (the dynamic GM-GAN and cWGAN-GP's per-class N(a_y, b_y² I))
Sampling is reparameterised (z = μ_y + σ_y ε) so learnable parameters receive gradients.
"""
from __future__ import annotations

import math

import torch
from torch import nn

PRIORS = ("gaussian", "mixture", "mixture-learnable")


class Prior(nn.Module):
    def __init__(self, kind: str, z_dim: int, k: int = 10, c: float = 1.0, sigma: float = 1.0, seed: int = 0):
        super().__init__()
        if kind not in PRIORS:
            raise ValueError(f"unknown prior {kind!r}; choose one of {', '.join(PRIORS)}")
        self.kind, self.z_dim, self.k = kind, z_dim, (k if kind != "gaussian" else 0)
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)  # knows the device
        if kind == "gaussian":
            return
        g = torch.Generator().manual_seed(seed)
        means = (torch.rand(k, z_dim, generator=g) * 2 - 1) * c
        log_sigma = torch.full((k,), math.log(sigma))
        if kind == "mixture-learnable":
            self.means, self.log_sigma = nn.Parameter(means), nn.Parameter(log_sigma)
        else:
            self.register_buffer("means", means)
            self.register_buffer("log_sigma", log_sigma)

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    @property
    def learnable(self) -> bool:
        return any(True for _ in self.parameters())

    def sigmas(self) -> torch.Tensor:
        return self.log_sigma.exp()

    def sample(self, n: int, y: torch.Tensor | None = None, device=None,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n codes; for mixtures `y` fixes the components (else uniform π_k = 1/K).
        `generator` (CPU) gives reproducible draws without touching the global RNG."""
        dev = torch.device(device) if device is not None else self.device
        eps = torch.randn(n, self.z_dim, generator=generator).to(dev) if generator is not None \
            else torch.randn(n, self.z_dim, device=dev)
        if self.kind == "gaussian":
            return eps, None
        if y is None:
            y = (torch.randint(self.k, (n,), generator=generator).to(dev) if generator is not None
                 else torch.randint(self.k, (n,), device=dev))
        return self.means[y] + self.sigmas()[y].unsqueeze(1) * eps, y

    def summary(self) -> dict[str, float]:
        """Scalars worth logging: mean ‖μ_k‖ and σ_k statistics."""
        if self.kind == "gaussian":
            return {}
        s = self.sigmas().detach()
        return {"prior_mean_norm": float(self.means.detach().norm(dim=1).mean()),
                "prior_sigma_mean": float(s.mean()), "prior_sigma_min": float(s.min()),
                "prior_sigma_max": float(s.max())}


class FittedPrior(nn.Module):
    """A Gaussian mixture fitted after training (EM on inverted real digits): weights π_k,
    means μ_k and Cholesky factors L_k of full covariances; z = μ_c + L_c ε, c ~ π.
    `labels[k]` is the class a conditional generator is given for component k (else k)."""

    kind = "fitted"

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, chol: torch.Tensor,
                 labels: torch.Tensor | None = None, conditional: bool = False):
        super().__init__()
        self.k, self.z_dim, self.conditional = len(means), means.shape[1], conditional
        self.register_buffer("weights", weights.float() / weights.sum())
        self.register_buffer("means", means.float())
        self.register_buffer("chol", chol.float())
        self.register_buffer("labels", (labels if labels is not None else torch.arange(len(means))).long())

    @property
    def device(self) -> torch.device:
        return self.means.device

    learnable = False

    def sigmas(self) -> torch.Tensor:
        """RMS standard deviation per component (√(tr Σ_k / d))."""
        return (self.chol.pow(2).sum((1, 2)) / self.z_dim).sqrt()

    def sample(self, n: int, y: torch.Tensor | None = None, device=None,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """n codes; `y` fixes the components. Returns (z, class label for a conditional
        generator, else component index)."""
        dev = torch.device(device) if device is not None else self.device
        eps = torch.randn(n, self.z_dim, generator=generator)
        comp = (torch.multinomial(self.weights.cpu(), n, replacement=True, generator=generator)
                if y is None else y.cpu().long())
        z = self.means.cpu()[comp] + torch.einsum("nij,nj->ni", self.chol.cpu()[comp], eps)
        out = self.labels.cpu()[comp] if self.conditional else comp
        return z.to(dev), out.to(dev)

    def summary(self) -> dict[str, float]:
        s = self.sigmas()
        return {"prior_mean_norm": float(self.means.norm(dim=1).mean()), "prior_sigma_mean": float(s.mean()),
                "prior_sigma_min": float(s.min()), "prior_sigma_max": float(s.max())}
