"""The hook a peer's training script imports under `python -m core bench peer` (README: "Side by
side with the scripts users copy"). It is a module of its own, not part of the `core` package: the
bench puts this folder on the script's PYTHONPATH, and the script's two-line patch is

    import latent_lab_peer                                   # after the script's own imports
    latent_lab_peer.tick(lambda n: generator(torch.randn(n, opt.latent_dim)))   # first line of the batch loop

On import it replaces torchvision's MNIST with the wheel's training split (the 50,000 digits our
runs train on, written by the bench to $LATENT_LAB_PEER_DATA; nothing is downloaded), seeds torch
and numpy with $LATENT_LAB_PEER_SEED and sets torch's threads to $LATENT_LAB_PEER_THREADS.
`tick(sample)` returns at once until $LATENT_LAB_PEER_SECONDS of wall time have passed since this
hook was imported (after the script's own imports: its data, networks and training count, as
everything after a run is created counts in ours); then it draws $LATENT_LAB_PEER_N digits with
`sample` (in batches of 100, the generator left in the mode the script keeps it in, as its own
sample grids are drawn), writes them as N×28×28 uint8 to $LATENT_LAB_PEER_OUT and ends the
process (exit 0).
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import torch

T0 = time.time()
BUDGET_S = float(os.environ["LATENT_LAB_PEER_SECONDS"])
OUT = os.environ["LATENT_LAB_PEER_OUT"]
N = int(os.environ.get("LATENT_LAB_PEER_N") or 10_000)
SEED = int(os.environ.get("LATENT_LAB_PEER_SEED") or 0)
torch.manual_seed(SEED)
np.random.seed(SEED)
if os.environ.get("LATENT_LAB_PEER_THREADS"):
    torch.set_num_threads(int(os.environ["LATENT_LAB_PEER_THREADS"]))
steps = 0


def _lab_mnist():
    """torchvision's MNIST class, reading the training split the bench wrote instead of its files."""
    from torchvision import datasets

    class LabMNIST(datasets.MNIST):
        def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
            self.root, self.train = root, train
            self.transform, self.target_transform = transform, target_transform
            d = np.load(os.environ["LATENT_LAB_PEER_DATA"])  # a plain .npz of arrays: nothing unpickled
            self.data, self.targets = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])

    datasets.MNIST = LabMNIST


def tick(sample) -> None:
    """Call once per training step: past the budget, write the samples and exit."""
    global steps
    steps += 1
    if time.time() - T0 < BUDGET_S:
        return
    with torch.no_grad():
        x = torch.cat([sample(min(100, N - i)).detach().reshape(-1, 784).float().cpu() for i in range(0, N, 100)])
    u8 = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).reshape(-1, 28, 28).numpy()
    np.save(OUT + ".part.npy", u8)
    os.replace(OUT + ".part.npy", OUT)
    with open(OUT + ".json", "w") as f:
        json.dump({"steps": steps, "wall_seconds": round(time.time() - T0, 2), "threads": torch.get_num_threads(),
                   "cpus": sorted(os.sched_getaffinity(0))}, f)
    sys.stdout.flush()
    os._exit(0)  # the script's own loop, data loader and exit handlers end here


_lab_mnist()
