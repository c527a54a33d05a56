"""Where a real training run spends its wall time, and whether its logged img/s is the
engine's speed (`python -m core bench profile`).

A real run (run store, grids, timeline record, checkpoints, metric rows) is timed part by
part: the training steps, the data batches, the metric rows, the epoch's end (its grid, its
timeline record, its checkpoint). The machine-wide caches a first run builds once (the test
split's classifier features, the timeline's map frame) are built before, and timed apart.

`bench train`'s engine loop (a second trainer of the same config, no run) is timed between the
real run's metric rows, for as many steps as a row holds, so each logged img/s has an engine
window of the same length beside it: a shared 2-core VM drifts between speeds over a minute
(seen here: 1,700 and 2,300 img/s in turn for one run), and a best-of-rounds bench timed apart
from the run compares one speed with the other. The interleaved windows are left out of the
run's parts and wall time. `bench_engine_img_s` is `bench train` itself, timed after the run.
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


def _warm_caches(cfg: dict) -> float:
    """Build what a machine's first run builds once (reference features, the map frame): seconds."""
    from core.errors import CheckpointError
    from core.train.recorder import frame
    t0 = time.perf_counter()
    if cfg["eval_every"]:
        try:
            frame()
        except CheckpointError:  # no classifier: the run trains without a timeline
            pass
    return time.perf_counter() - t0


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else None


def profile_fit(variant: str = "wgan-gp", steps: int = 800, batch_size: int | None = None, device: str = "auto",
                overrides: dict | None = None, bench_seconds: float = 3.0, threads: int | None = None) -> dict:
    """Train a new run of `variant` for `steps` steps over the full training set (so it crosses
    an epoch's end like a real run) and time each part, with an engine window beside each
    metric row; then the engine's `bench train` figure. `threads`: on that many cores (core.cores)."""
    from unittest import mock

    from core.cores import use_cores
    cores = use_cores(threads)

    from core.gan.variants import make_config
    from core.perf import sync
    from core.store.runs import Run
    from core.train import engine as eng
    from core.train.bench import _engine_run, bench_train
    from core.train.recorder import Recorder
    cfg = make_config(variant, {**(overrides or {}), **({"batch_size": batch_size} if batch_size else {}),
                                "epochs": 10_000})
    batch_size = cfg["batch_size"]  # None: the variant's default
    caches = _warm_caches(cfg)
    dev = eng.resolve_device(device)
    run = Run.create(cfg, argv=["bench", "profile", "--variant", variant], tags={"bench": "profile"})
    timers: dict[str, float] = defaultdict(float)
    t_made = time.perf_counter()
    t = eng.Trainer(cfg, dev, run=run, progress=False)
    setup = time.perf_counter() - t_made
    side = eng.Trainer(cfg, dev, progress=False)  # bench train's loop, timed between the run's rows
    _engine_run(side, 5)  # its first steps run under the FLOP counter
    windows: list[float] = []
    side_s = [0.0]
    t.train_step = _timed(t.train_step, timers, "train_step")
    log = _timed(t._log, timers, "metric_rows")

    def log_then_window(img_s=None, bar=None):
        log(img_s=img_s, bar=bar)
        if img_s:  # a full row: as many engine steps beside it
            t0 = time.perf_counter()
            sync(dev)
            _engine_run(side, cfg["log_every"])
            sync(dev)
            dt = time.perf_counter() - t0
            side_s[0] += dt
            windows.append(cfg["log_every"] * batch_size / dt)
    t._log = log_then_window
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
        wall = time.perf_counter() - t0 - side_s[0]
    run.close()
    parts = {k: round(timers[k], 3) for k in PARTS}
    parts["loop_other"] = round(wall - sum(timers[k] for k in PARTS), 3)  # the bar, clocks, status writes, peak GEMM
    logged = [v for *_, v in run.metrics(["img_s"])]
    logged_med, side_med = _median(logged), _median(windows)
    # paired: each row against the engine window timed right after it
    pairs = [a / b for a, b in zip(logged, windows)]
    bench = bench_train(variant, batch_size, device, seconds=bench_seconds, rounds=2, overrides=overrides)
    return {"variant": variant, "batch_size": batch_size, "device": str(t.device), **cores, "steps": t.step, "run": run.id,
            "caches_s": round(caches, 3), "setup_s": round(setup, 3), "fit_wall_s": round(wall, 3), "parts_s": parts,
            "parts_share": {k: round(v / wall, 4) for k, v in parts.items()},
            "step_img_s": round(t.step * batch_size / timers["train_step"], 1),
            "wall_img_s": round(t.step * batch_size / wall, 1),
            "logged_img_s_median": round(logged_med, 1) if logged_med else None,
            "engine_windows_img_s_median": round(side_med, 1) if side_med else None,
            "logged_vs_engine_windows": round(_median(pairs), 3) if pairs else None,
            "logged_img_s_range": [round(min(logged), 1), round(max(logged), 1)] if logged else None,
            "engine_windows_img_s_range": [round(min(windows), 1), round(max(windows), 1)] if windows else None,
            "bench_engine_img_s": round(bench["engine_img_s"], 1),
            "logged_vs_bench": round(logged_med / bench["engine_img_s"], 3) if logged_med else None}
