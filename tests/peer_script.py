"""A peer's training script in miniature (torchvision's MNIST, a DataLoader, a GAN loop), with the
README's two-line patch: what tests/test_quality.py runs `bench peer` on. Not a GAN worth scoring."""
import json

import latent_lab_peer
import torch
from torch import nn
from torchvision import datasets, transforms

data = datasets.MNIST("../../data/mnist", train=True, download=True,
                      transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.5], [0.5])]))
with open("seen.json", "w") as f:  # what the script was handed
    json.dump({"n": len(data), "threads": torch.get_num_threads(), "first_label": int(data[0][1])}, f)
loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True)
G = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 784), nn.Tanh())
D = nn.Sequential(nn.Linear(784, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
opt_g, opt_d = torch.optim.Adam(G.parameters(), 2e-4), torch.optim.Adam(D.parameters(), 2e-4)
bce = nn.BCEWithLogitsLoss()
for _epoch in range(1000):
    for imgs, _ in loader:
        latent_lab_peer.tick(lambda n: G(torch.randn(n, 8)))
        real, fake = imgs.view(-1, 784), G(torch.randn(len(imgs), 8))
        d_loss = bce(D(real), torch.ones(len(imgs), 1)) + bce(D(fake.detach()), torch.zeros(len(imgs), 1))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = bce(D(fake), torch.ones(len(imgs), 1))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
