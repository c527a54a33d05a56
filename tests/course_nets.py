"""The course's networks, as the seed teams trained and saved them (G.pth / D.pth are their
state_dicts: fc1.weight … fcN.bias): the import tests build these with random weights."""
import torch
import torch.nn.functional as F
from torch import nn


class _CourseMLP(nn.Module):
    """fc1 … fcN with LeakyReLU(0.2) between them and `out` (tanh or sigmoid) at the end."""

    def __init__(self, sizes, out):
        super().__init__()
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
            setattr(self, f"fc{i}", nn.Linear(a, b))
        self.n, self.out = len(sizes) - 1, out

    def forward(self, x):
        for i in range(1, self.n):
            x = F.leaky_relu(getattr(self, f"fc{i}")(x), 0.2)
        return self.out(getattr(self, f"fc{self.n}")(x))


class Generator(_CourseMLP):
    def __init__(self, g_output_dim: int = 784, z_dim: int = 100, hidden=(256, 512, 1024)):
        super().__init__([z_dim, *hidden, g_output_dim], torch.tanh)


class Discriminator(_CourseMLP):
    def __init__(self, d_input_dim: int = 784, hidden=(1024, 512, 256)):
        super().__init__([d_input_dim, *hidden, 1], torch.sigmoid)


def save_pair(folder, seed: int = 0, **kw):
    """Random-weight course G and D saved as folder/G.pth and folder/D.pth; returns (G, D)."""
    torch.manual_seed(seed)
    G, D = Generator(**kw.get("g", {})), Discriminator(**kw.get("d", {}))
    torch.save(G.state_dict(), folder / "G.pth")
    torch.save(D.state_dict(), folder / "D.pth")
    return G, D
