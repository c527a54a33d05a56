"""The course networks: an MLP generator and its mirror critic, with the options variants need.

Generator: z (+ label embedding) -> 256 -> 512 -> 1024 -> 784, LeakyReLU(0.2), tanh.
Critic:    x (+ label embedding) -> 1024 -> 512 -> 256 -> head, LeakyReLU(0.2).
(The hidden sizes are the config's `g_hidden` / `d_hidden`; these are the course's.)
Heads: 'scalar' (one score/logit), 'san' (unit direction ω with the scale trick of SAN),
'kplus1' (K class logits + one fake logit).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
import torch.nn.utils.parametrize
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

G_HIDDEN = (256, 512, 1024)
D_HIDDEN = (1024, 512, 256)
IMG = 784
EMBED = 16  # size of the label embedding concatenated to z (G) or to x (critic)


def _mlp(sizes: list[int], sn: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        lin = nn.Linear(a, b)
        layers += [spectral_norm(lin) if sn else lin, nn.LeakyReLU(0.2)]
    return layers


class Generator(nn.Module):
    def __init__(self, z_dim: int = 100, n_classes: int = 0, hidden: tuple[int, ...] = G_HIDDEN):
        super().__init__()
        self.z_dim, self.n_classes = z_dim, n_classes
        self.embed = nn.Embedding(n_classes, EMBED) if n_classes else None
        in_dim = z_dim + (EMBED if n_classes else 0)
        self.net = nn.Sequential(*_mlp([in_dim, *hidden], sn=False), nn.Linear(hidden[-1], IMG), nn.Tanh())

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """G(z) or, for a conditional generator, G(z, y); an unconditional one ignores y.
        y is labels (long) or label embeddings (float, N×EMBED: a blend morphs between classes)."""
        if self.embed is not None:
            z = torch.cat([z, y if y.is_floating_point() else self.embed(y)], dim=1)
        return self.net(z)


class Critic(nn.Module):
    """h(x[, y]) -> head. `forward` returns the score (B,) or, for 'kplus1', logits (B, K+1)."""

    def __init__(self, head: str = "scalar", n_classes: int = 0, spectral: bool = False, k: int = 10,
                 hidden: tuple[int, ...] = D_HIDDEN):
        super().__init__()
        if head not in ("scalar", "san", "kplus1"):
            raise ValueError(f"unknown critic head {head!r}")
        self.head_kind, self.n_classes = head, n_classes
        self.embed = nn.Embedding(n_classes, EMBED) if n_classes else None
        in_dim = IMG + (EMBED if n_classes else 0)
        self.body = nn.Sequential(*_mlp([in_dim, *hidden], sn=spectral))
        feat = hidden[-1]
        if head == "san":
            # SAN (Takida et al. 2024): last layer is a direction ω = w/‖w‖; ‖w‖ rescales h.
            self.w = nn.Parameter(torch.randn(feat) / feat ** 0.5)
        else:
            out = k + 1 if head == "kplus1" else 1
            lin = nn.Linear(feat, out)
            self.head = spectral_norm(lin) if spectral else lin

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            x = torch.cat([x, self.embed(y)], dim=1)
        return self.body(x)

    def direction(self) -> torch.Tensor:
        return F.normalize(self.w, dim=0)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x, y)
        if self.head_kind == "san":
            return h @ self.w  # = ⟨ω, ‖w‖·h⟩
        out = self.head(h)
        return out.squeeze(1) if self.head_kind == "scalar" else out

    def san_split(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """SAN's two training outputs: fun = ⟨ω⁻, s·h⟩ trains h (and the scale s = ‖w‖);
        dir = ⟨ω, (s·h)⁻⟩ trains the direction only."""
        h = self.features(x, y) * self.w.norm()
        omega = self.direction()
        return h @ omega.detach(), h.detach() @ omega

    def linear_layers(self) -> list[nn.Linear]:
        mods = [m for m in self.body if isinstance(m, nn.Linear)]
        if self.head_kind != "san":
            mods.append(self.head)
        return mods


def raw_weight(m: nn.Linear) -> torch.Tensor:
    """The Linear layer's trained weight parameter (before any spectral normalisation)."""
    if torch.nn.utils.parametrize.is_parametrized(m, "weight"):
        return m.parametrizations.weight.original
    return m.weight


@torch.no_grad()
def xavier_init(net: nn.Module) -> None:
    """Xavier-uniform weights and zero biases for every Linear layer (a spectral-normed layer's
    raw weight is its parametrization's `original`); embeddings and SAN's direction keep theirs."""
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(raw_weight(m))
            if m.bias is not None:
                m.bias.zero_()
