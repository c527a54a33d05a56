"""How many CPU cores a timed run may use: `bench quality / profile / peer --threads N` pin the whole
process (every thread it has and will have) to N of the cores it may run on, and set torch's
threads to N, so that a 1-core and a 2-core budget are one flag apart and say which they were."""
from __future__ import annotations

import os

from core.errors import ConfigError


def allowed_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def pin(cpus: list[int]) -> None:
    """Every thread of this process (torch's pool included) and the ones it starts, on `cpus`."""
    for tid in os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else ["0"]:
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:  # a thread that ended meanwhile
            pass


def first_cores(n: int) -> list[int]:
    """The first n cores this process may run on (ConfigError if it may use fewer)."""
    allowed = allowed_cpus()
    if n > len(allowed):
        raise ConfigError(f"--threads {n}: this process may use {len(allowed)} CPU core(s)")
    return allowed[:n]


def use_cores(n: int | None) -> dict:
    """With n: pin this process to the first n allowed cores and run torch on n threads (child
    processes inherit both, and OMP_NUM_THREADS). Returns what a timed run used:
    {"threads": torch's threads, "cores": how many cores this process may run on, "cpus": which}."""
    import torch
    if n:
        pin(first_cores(n))
        torch.set_num_threads(n)
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(n)
    cpus = allowed_cpus()
    return {"threads": torch.get_num_threads(), "cores": len(cpus), "cpus": cpus}
