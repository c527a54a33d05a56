"""`python -m core bench train`: this engine against a seed-style loop, same maths, same batch.

The seed-style loop is how the research write-ups train: a torchvision-style Dataset that
builds a PIL image per digit and applies ToTensor + Normalize, a DataLoader, separate critic
passes for real and fake, the optimiser's default implementation, critic weight gradients
computed in the generator step, and a `.item()` per step for logging. Both loops run in this
process, alternately, on freshly initialised copies of the same networks; each loop's best
round counts.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from core.gan import losses
from core.gan.variants import get_variant, make_config
from core.heap import tune_cpu_allocator
from core.perf import count_flops, gemm_peak_gflops, sync
from core.store.mnist import load_split
from core.train.engine import Trainer, build_models, resolve_device


class _SeedStyleMNIST(Dataset):
    def __init__(self):
        self.x, self.y = load_split("train")
        self.tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.tf(Image.fromarray(self.x[i], mode="L")), int(self.y[i])


class SeedStyleLoop:
    """The reference loop (see module docstring). Only the engineering differs from Trainer."""

    def __init__(self, cfg: dict, device):
        self.cfg, self.v, self.device = cfg, get_variant(cfg["variant"]), torch.device(device)
        self.G, self.D, self.prior = build_models(cfg, self.device)
        opt = (lambda ps, lr: torch.optim.RMSprop(ps, lr=lr)) if cfg["optimizer"] == "rmsprop" else \
            (lambda ps, lr: torch.optim.Adam(ps, lr=lr, betas=(cfg["beta1"], cfg["beta2"])))
        self.opt_g = opt(list(self.G.parameters()) + list(self.prior.parameters()), cfg["lr_g"])
        self.opt_d = opt(self.D.parameters(), cfg["lr_d"])
        self.loader = DataLoader(_SeedStyleMNIST(), batch_size=cfg["batch_size"], shuffle=True, drop_last=True)
        self.log: list[float] = []

    def step(self, x, y, i):
        c, v, D, G = self.cfg, self.v, self.D, self.G
        x, y = x.view(x.shape[0], -1).to(self.device), y.to(self.device)
        yd = y if D.n_classes else None
        self.D.zero_grad()
        z, yf = self.prior.sample(x.shape[0], y=y if v.conditioning in ("critic", "generator+critic") else None,
                                  device=self.device)
        fake = G(z, yf)
        r = losses.critic_outputs(v.loss, D, x, yd)
        f = losses.critic_outputs(v.loss, D, fake.detach(), yf if D.n_classes else None)
        loss_d, _ = losses.critic_loss_from(v.loss, r, f, y, c["san_lambda"])
        if v.lipschitz == "gp":
            loss_d = loss_d + c["gp_lambda"] * losses.gradient_penalty(D, x, fake.detach(), yd)
        loss_d.backward()
        self.opt_d.step()
        if v.lipschitz == "clip":
            for p in D.parameters():
                p.data.clamp_(-c["clip"], c["clip"])
        self.log.append(loss_d.item())
        if (i + 1) % c["n_critic"] == 0:
            self.G.zero_grad()
            z, yf = self.prior.sample(c["batch_size"], device=self.device)
            loss_g = losses.generator_loss(v.loss, D, G(z, yf), yf)
            loss_g.backward()
            self.opt_g.step()
            self.log.append(loss_g.item())

    def run(self, n_steps: int):
        i = 0
        while True:
            for x, y in self.loader:
                self.step(x, y, i)
                i += 1
                if i >= n_steps:
                    return


def _engine_run(trainer: Trainer, n_steps: int):
    done = 0
    while True:
        for real, y in trainer.loader.batches():
            trainer.train_step(real, y)
            done += 1
            if done >= n_steps:
                trainer._acc.clear()
                return


def _time_steps(run, n_steps: int, device) -> float:
    sync(device)
    t0 = time.perf_counter()
    run(n_steps)
    sync(device)
    return time.perf_counter() - t0


def _calibrate(run, device, seconds: float) -> int:
    """Steps that take about `seconds` (after a warm-up)."""
    n = 5
    while True:
        dt = _time_steps(run, n, device)
        if dt > 0.5 or n >= 100_000:
            return max(5, int(n * seconds / dt))
        n *= 4


def bench_train(variant: str = "wgan-gp", batch_size: int | None = None, device: str = "auto", seconds: float = 8.0,
                rounds: int = 2, progress: bool = False, overrides: dict | None = None) -> dict:
    dev = resolve_device(device)
    if dev.type == "cpu":
        tune_cpu_allocator()  # process-wide: both loops get it, so the ratio is engineering only
    cfg = make_config(variant, {**(overrides or {}), **({"batch_size": batch_size} if batch_size else {})})
    batch_size = cfg["batch_size"]  # None: the variant's default
    torch.manual_seed(0)
    engine = Trainer(cfg, dev, progress=False)
    base = SeedStyleLoop(cfg, dev)
    # FLOPs of one step, counted on the engine (the maths is the same in both loops).
    real, y = next(iter(engine.loader.batches()))
    f_c, _ = count_flops(lambda: engine.critic_step(real, y))
    f_g, _ = count_flops(lambda: engine.generator_step())
    flops_step = f_c + f_g / cfg["n_critic"]
    n_eng = _calibrate(lambda n: _engine_run(engine, n), dev, seconds)
    n_base = _calibrate(base.run, dev, seconds)
    best_eng = best_base = float("inf")
    peak = 0.0
    for r in range(rounds):  # the GEMM ceiling is measured in every round too: this machine is noisy
        peak = max(peak, gemm_peak_gflops.__wrapped__(str(dev)))
        t = _time_steps(lambda n: _engine_run(engine, n), n_eng, dev) / n_eng
        best_eng = min(best_eng, t)
        t = _time_steps(base.run, n_base, dev) / n_base
        best_base = min(best_base, t)
        if progress:
            print(f"round {r + 1}/{rounds}: engine {batch_size / best_eng:.0f} img/s, "
                  f"seed-style {batch_size / best_base:.0f} img/s", flush=True)
    gflops = flops_step / best_eng / 1e9
    return {"variant": variant, "batch_size": batch_size, "device": str(dev), "n_critic": cfg["n_critic"],
            "engine_img_s": batch_size / best_eng, "baseline_img_s": batch_size / best_base,
            "ratio": best_base / best_eng, "gflops": gflops, "gemm_peak_gflops": peak, "mfu": gflops / peak,
            "flops_per_step": flops_step, "threads": torch.get_num_threads(),
            "steps_timed": {"engine": n_eng, "baseline": n_base}, "rounds": rounds,
            "finite": bool(np.isfinite(base.log[-1]))}
