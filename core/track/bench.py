"""`python -m core bench track`: what tracking adds to a run, by parts — the imports of TensorBoard and
MLflow (once per process), creating the tracking database (once per run store), the start (the MLflow
run, its params, the event file), the work each epoch
puts on the training thread (every log row, a timeline record, the epoch's grid: a default wgan-gp
epoch at batch 128 is 468 steps, 9 log rows), and the end (flushing the queue, the checkpoint's upload),
replayed from a real run of the variant so the rows, grid and checkpoint have their real sizes. The
MLflow calls themselves run on a background thread; their CPU shows in an A/B of whole runs."""
from __future__ import annotations

import time


def bench_tracking(run_id: str, epochs: int = 5, per_epoch_rows: int = 9) -> dict:
    """Seconds of start and end, and milliseconds per epoch on the training thread, for `run_id`'s
    config, rows, grid and checkpoint, with the sinks `train --track mlflow` would use."""
    import tempfile
    from pathlib import Path

    from core.store.runs import Run
    from core.track import TIMELINE_PREFIX, Tracking
    from core.track.mlflow_sink import MlflowSink, client_and_experiment, where
    from core.track.replay import run_feed
    from core.track.tensorboard_sink import TensorBoardSink
    run = Run.open(run_id)
    feed = run_feed(run)
    timeline = [(s, e, r) for s, (e, r) in feed["rows"] if any(k.startswith(TIMELINE_PREFIX) for k in r)]
    train_rows = [(s, e, r) for s, (e, r) in feed["rows"] if (s, e, r) not in timeline]
    record = timeline[0] if timeline else None
    grid = next(iter(feed["grids"].values()), None)
    if len(train_rows) < per_epoch_rows or grid is None:
        from core.errors import ConfigError
        raise ConfigError(f"run {run_id} has too few rows or no grid to replay: give bench track --steps of at "
                          "least one epoch (470 for wgan-gp)")
    t0 = time.perf_counter()
    import mlflow.tracking  # noqa: F401 - each tracked process pays these imports once
    import torch.utils.tensorboard  # noqa: F401
    imports_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    client_and_experiment()  # a new store's database is created once, at its first tracked run
    database_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        track = Tracking([TensorBoardSink(Path(tmp) / "tb"), MlflowSink(None, f"bench:{run_id}", record=False)])
        track.start(run.config(), 0)
        start_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(epochs):
            for s, e, r in train_rows[:per_epoch_rows]:
                track.log(s + 10_000 * i, e + i, r)
            if record:
                track.log(record[0] + 10_000 * i, record[1] + i, record[2])
            track.epoch(i + 1, 10_000 * i, grid, None)
        epoch_ms = (time.perf_counter() - t0) / epochs * 1000
        t0 = time.perf_counter()
        track.end("done", 10_000 * epochs, None, run.checkpoint_path)
        end_s = time.perf_counter() - t0
    if track.dropped:
        raise ValueError(f"a tracker failed: {track.dropped}")
    return {"run": run_id, "mlflow": where()["uri"], "imports_s": round(imports_s, 2),
            "database_s": round(database_s, 2), "start_s": round(start_s, 2), "epoch_ms": round(epoch_ms, 1),
            "end_s": round(end_s, 2), "rows_per_epoch": per_epoch_rows + (1 if record else 0),
            "checkpoint_mib": round(run.checkpoint_path.stat().st_size / 2**20, 1)}
