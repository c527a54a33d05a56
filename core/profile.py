"""Where a real training run spends its wall time, and whether its logged img/s is the
engine's speed (`python -m core bench profile`).

A real run (run store, grids, timeline record, checkpoints, metric rows) is timed part by
part: the training steps, the data batches, the metric rows, the epoch's end (its grid, its
timeline record, its checkpoint). Then `bench train`'s engine loop is timed in the same
process, so the two img/s figures are measured side by side on the same machine state.
"""
from __future__ import annotations

import time
from collections import defaultdict

PARTS = ("train_step", "data", "metric_rows", "grid", "timeline_record", "checkpoint", "epoch_end_other")


def _timed(fn, timers: dict, key: str):
    def wrapper(*a, **kw):
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            timers[key] += time.perf_counter() - t0
    return wrapper


def _timed_batches(batches, timers: dict):
    def wrapper(*a, **kw):
        it = batches(*a, **kw)
        while True:
            t0 = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                timers["data"] += time.perf_counter() - t0
                return
            timers["data"] += time.perf_counter() - t0
            yield item
    return wrapper


def profile_fit(variant: str = "wgan-gp", steps: int = 800, batch_size: int = 64, device: str = "auto",
                overrides: dict | None = None, bench_seconds: float = 3.0) -> dict:
    """Train a new run of `variant` for `steps` steps over the full training set (so it crosses
    an epoch's end like a real run) and time each part; then the engine's `bench train` figure."""
    from unittest import mock

    from . import engine as eng
    from .bench import bench_train
    from .store import Run
    from .timeline import Recorder
    from .variants import make_config
    cfg = make_config(variant, {**(overrides or {}), "batch_size": batch_size, "epochs": 10_000})
    run = Run.create(cfg, argv=["bench", "profile", "--variant", variant], tags={"bench": "profile"})
    timers: dict[str, float] = defaultdict(float)
    t_made = time.perf_counter()
    t = eng.Trainer(cfg, eng.resolve_device(device), run=run, progress=False)
    setup = time.perf_counter() - t_made
    t.train_step = _timed(t.train_step, timers, "train_step")
    t._log = _timed(t._log, timers, "metric_rows")
    t.save_checkpoint = _timed(t.save_checkpoint, timers, "checkpoint")
    end = t._end_of_epoch

    def epoch_end(*a, **kw):  # only what no other timer holds: the parts inside are timed on their own
        before, t0 = sum(timers[k] for k in PARTS), time.perf_counter()
        try:
            return end(*a, **kw)
        finally:
            timers["epoch_end_other"] += time.perf_counter() - t0 - (sum(timers[k] for k in PARTS) - before)
    t._end_of_epoch = epoch_end
    t.loader.batches = _timed_batches(t.loader.batches, timers)
    with mock.patch.object(Recorder, "record", _timed(Recorder.record, timers, "timeline_record")), \
            mock.patch.object(eng, "save_grid", _timed(eng.save_grid, timers, "grid")):
        t0 = time.perf_counter()
        t.fit(max_steps=steps)
        wall = time.perf_counter() - t0
    run.close()
    parts = {k: round(timers[k], 3) for k in PARTS}
    parts["loop_other"] = round(wall - sum(timers[k] for k in PARTS), 3)  # the bar, clocks, status writes, peak GEMM
    logged = sorted(v for *_, v in run.metrics(["img_s"]))
    logged_med = logged[len(logged) // 2] if logged else None
    bench = bench_train(variant, batch_size, device, seconds=bench_seconds, rounds=2, overrides=overrides)
    return {"variant": variant, "batch_size": batch_size, "device": str(t.device), "steps": t.step, "run": run.id,
            "setup_s": round(setup, 3), "fit_wall_s": round(wall, 3), "parts_s": parts,
            "parts_share": {k: round(v / wall, 4) for k, v in parts.items()},
            "step_img_s": round(t.step * batch_size / timers["train_step"], 1),
            "wall_img_s": round(t.step * batch_size / wall, 1),
            "logged_img_s_median": round(logged_med, 1) if logged_med else None,
            "bench_engine_img_s": round(bench["engine_img_s"], 1),
            "logged_vs_bench": round(logged_med / bench["engine_img_s"], 3) if logged_med else None}
