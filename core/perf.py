"""FLOP counting and the measured GEMM ceiling, for throughput and MFU."""
from __future__ import annotations

import functools
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


class _FlopCount(TorchDispatchMode):
    """torch's FLOP formulas (matmul-class ops) applied to every aten call, with no module
    hooks (torch's FlopCounterMode hooks break autograd.grad on a leaf, i.e. the GP)."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def count_flops(fn) -> tuple[int, object]:
    """Run fn() once, counting matmul FLOPs of the forward and every backward pass
    (the gradient penalty's double backward included). Returns (flops, fn's result)."""
    with _FlopCount() as counter:
        out = fn()
    return counter.total, out


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


@functools.cache
def gemm_peak_gflops(device: str = "cpu", n: int = 2048, seconds: float = 1.0) -> float:
    """Best fp32 GFLOP/s of an n×n×n matmul over ~`seconds` (the MFU denominator)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        n = max(n, 8192)
    g = torch.Generator(device=dev).manual_seed(0)  # never the global RNG: resume must stay exact
    a, b = torch.randn(n, n, device=dev, generator=g), torch.randn(n, n, device=dev, generator=g)
    out = torch.empty(n, n, device=dev)
    torch.mm(a, b, out=out)
    sync(dev)
    best, t_end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        for _ in range(3):
            torch.mm(a, b, out=out)
        sync(dev)
        best = min(best, (time.perf_counter() - t0) / 3)
    return 2 * n ** 3 / best / 1e9
