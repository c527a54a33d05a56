"""The course's networks, exactly as the seed teams trained and saved them (G.pth / D.pth are
their state_dicts): the import tests build these with random weights."""
import torch
import torch.nn.functional as F
from torch import nn


class Generator(nn.Module):
    def __init__(self, g_output_dim: int = 784, z_dim: int = 100, hidden=(256, 512, 1024)):
        super().__init__()
        sizes = [z_dim, *hidden, g_output_dim]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
            setattr(self, f"fc{i}", nn.Linear(a, b))
        self.n = len(sizes) - 1

    def forward(self, x):
        for i in range(1, self.n):
            x = F.leaky_relu(getattr(self, f"fc{i}")(x), 0.2)
        return torch.tanh(getattr(self, f"fc{self.n}")(x))


class Discriminator(nn.Module):
    def __init__(self, d_input_dim: int = 784, hidden=(1024, 512, 256)):
        super().__init__()
        sizes = [d_input_dim, *hidden, 1]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
            setattr(self, f"fc{i}", nn.Linear(a, b))
        self.n = len(sizes) - 1

    def forward(self, x):
        for i in range(1, self.n):
            x = F.leaky_relu(getattr(self, f"fc{i}")(x), 0.2)
        return torch.sigmoid(getattr(self, f"fc{self.n}")(x))


def save_pair(folder, seed: int = 0, **kw):
    """Random-weight course G and D saved as folder/G.pth and folder/D.pth; returns (G, D)."""
    torch.manual_seed(seed)
    G, D = Generator(**kw.get("g", {})), Discriminator(**kw.get("d", {}))
    torch.save(G.state_dict(), folder / "G.pth")
    torch.save(D.state_dict(), folder / "D.pth")
    return G, D
