"""`python -m core export SOURCE --to mlflow|tensorboard`: a finished run, an old one (trained before
the trackers) or a shipped zoo model fed through the same sinks a live run uses — the config, every
metric row at its step, the timeline's records, the sample grids, the final scores and the checkpoint."""
from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

from core.errors import ConfigError
from core.track.base import TIMELINE_PREFIX, TRACKERS, Sink, Tracking


def run_feed(run) -> dict:
    """What a run in the run store holds, in the order the engine logged it."""
    rows: dict[int, tuple[float, dict]] = {}
    for step, epoch, _wall, key, value in run.metrics():
        rows.setdefault(int(step), (float(epoch), {}))[1][key] = float(value)
    ends = defaultdict(int)  # epoch -> the last step logged in it (where its grid was drawn)
    for step, (epoch, _) in rows.items():
        if float(epoch).is_integer():
            ends[int(epoch)] = max(ends[int(epoch)], step)
    grids = {int(p.stem.split("_")[1]): p for p in sorted(run.samples_dir.glob("epoch_*.png"))}
    hists = {int(h["epoch"]): h for h in run.weight_hists()}
    status = run.status()
    return {"config": run.config(), "rows": sorted(rows.items()), "grids": grids, "hists": hists, "ends": dict(ends),
            "status": status.get("status", "done"), "step": int(status.get("step") or max(rows, default=0)),
            "scores": _latest_scores(run.path / "scores.json"), "checkpoint": run.checkpoint_path}


def _zoo_feed(name: str) -> dict:
    """A shipped model: its config, per-epoch curves, timeline records, final grid, scores and weights."""
    from core.store.registry import zoo_dir
    folder = zoo_dir(name)
    meta = json.loads((folder / "config.json").read_text())
    timeline = json.loads((folder / "timeline.json").read_text()).get("rows", []) \
        if (folder / "timeline.json").is_file() else []
    ends = {int(r["epoch"]): int(r["step"]) for r in timeline if "step" in r}
    per_epoch = max(ends.values()) // max(ends) if ends else 1  # the zoo's curves are per epoch
    rows: dict[int, tuple[float, dict]] = {}
    curves = json.loads((folder / "curves.json").read_text()) if (folder / "curves.json").is_file() else {}
    for key, points in curves.items():
        for epoch, value in points:
            step = ends.get(int(epoch), int(epoch) * per_epoch)
            rows.setdefault(step, (float(epoch), {}))[1][key] = float(value)
    for r in timeline:
        step = ends.get(int(r["epoch"]), int(r["epoch"]) * per_epoch)
        vals = {TIMELINE_PREFIX + k: float(v) for k, v in r.items()
                if k not in ("epoch", "step", "class_hist") and isinstance(v, (int, float))}
        rows.setdefault(step, (float(r["epoch"]), {}))[1].update(vals)
    last = max(rows, default=0)
    epochs = int(meta["config"].get("epochs", 0))
    return {"config": meta["config"], "rows": sorted(rows.items()), "hists": {}, "ends": {epochs: last},
            "grids": {epochs: folder / "samples.png"} if (folder / "samples.png").is_file() else {},
            "status": "done", "step": last, "scores": _latest_scores(folder / "scores.json"),
            "checkpoint": folder / "model.pt"}


def _latest_scores(path: Path) -> dict | None:
    """The 10k-digit scores stored for a model (the largest n, the newest), or None."""
    try:
        entries = [e for e in json.loads(path.read_text()).values() if isinstance(e, dict) and "fid" in e]
    except (OSError, ValueError):
        return None
    if not entries:
        return None
    best = max(entries, key=lambda e: (e.get("n", 0), e.get("date", "")))
    return {k: v for k, v in best.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def feed(data: dict, sinks: list[Sink]) -> Tracking:
    """The engine's calls, replayed: start, every row, each epoch's grid and histograms, end."""
    track = Tracking(sinks)
    track.start(data["config"], 0)
    epochs_done = set()
    for step, (epoch, row) in data["rows"]:
        track.log(step, epoch, row)
        for e, end in data["ends"].items():
            if end == step and e not in epochs_done:
                epochs_done.add(e)
                track.epoch(e, step, data["grids"].get(e), data["hists"].get(e))
    for e in sorted(set(data["grids"]) - epochs_done):  # grids of epochs without a logged row
        track.epoch(e, data["step"], data["grids"][e], data["hists"].get(e))
    track.end(data["status"], data["step"], data["scores"], data["checkpoint"])
    return track


def export(source: str, to: str, out: Path | None = None) -> dict:
    """Export a run (its id) or a zoo model (its name) to a tracker; what was written, and where."""
    from core.store.registry import zoo_checkpoint
    from core.store.runs import Run, RunError
    if to not in TRACKERS:
        raise ConfigError(f"--to must be one of {', '.join(TRACKERS)} (got {to!r})")
    run = None
    if zoo_checkpoint(source):
        data, lab_id, folder = _zoo_feed(source), f"zoo:{source}", None
    else:
        try:
            run = Run.open(source)
        except RunError as exc:
            raise ConfigError(f"{exc}; export takes a run id (python -m core runs) or a zoo model "
                              "(python -m core zoo)") from None
        data, lab_id, folder = run_feed(run), run.id, run.path
    if to == "tensorboard":
        from core.store.files import runs_dir
        from core.track.tensorboard_sink import TensorBoardSink, available
        if not available():
            raise ConfigError("TensorBoard is not installed in this environment (pip install -r requirements.txt)")
        target = out or (folder / "tensorboard" if folder else runs_dir() / "zoo" / source / "tensorboard")
        shutil.rmtree(target, ignore_errors=True)  # derived from the store: written afresh
        track = feed(data, [TensorBoardSink(target)])
        where = str(target)
    else:
        from core.track.mlflow_sink import MlflowSink
        from core.track.mlflow_sink import where as mlflow_where
        sink = MlflowSink(None, lab_id, record=False)
        track = feed(data, [sink])
        where = f"{mlflow_where()['uri']} run {sink.run_id}"
        if sink.error:
            track.dropped["mlflow"] = sink.error
    if track.dropped:
        raise ConfigError(f"export to {to} failed: {'; '.join(track.dropped.values())}")
    return {"source": source, "to": to, "where": where, "rows": len(data["rows"]), "grids": len(data["grids"]),
            "checkpoint": str(data["checkpoint"]) if Path(data["checkpoint"]).is_file() else None}
