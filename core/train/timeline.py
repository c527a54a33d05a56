"""The training timeline: how a run's quality, classes and latent map changed, epoch by epoch,
as core/train/recorder.py recorded it (the scores under `tl_*` keys in the run's metrics store,
the placed digits in runs/<id>/timeline/). Read back as a `Timeline`, summarised, played back,
animated as a GIF, and packed for the zoo.
The sample grid of each epoch is the run's samples/epoch_XXXX.png (fixed evaluation noise).

A shipped zoo model keeps its timeline in trained/<name>/timeline.json (the rows) and
timeline.npz (the points, the frame and the grids as PNG bytes), written by `zoo export`.
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import ConfigError
from core.store.images import DIGIT_COLOURS
from core.store.safeload import DAMAGED as _BAD
from core.store.safeload import why as _why
from core.train.recorder import KEYS, PREFIX, RAW, SCALARS, write_npz

if TYPE_CHECKING:
    from PIL import Image

GRID_EVERY_UNTIL, GRID_EVERY = 10, 10  # a zoo timeline's sample grids: epochs 1..10, then every 10th (and the last)
SHARE = 0.05  # a class "appears" when it first exceeds this share of the samples
ROW_KEYS = {"epoch", "fid", "class_hist", "n", "seconds", "train_seconds"}  # what every reader of a row uses


# ---------------------------------------------------------------- reading
@dataclass
class Timeline:
    """One model's recorded epochs. rows: one dict per record, oldest first (epoch, step, the
    scores, class_hist, seconds = the record's own cost, train_seconds = training time so far)."""
    name: str
    rows: list[dict]
    frame_xy: np.ndarray
    frame_label: np.ndarray
    _points: dict = field(repr=False)  # epoch -> Path of its npz, or the arrays themselves
    _grids: dict = field(repr=False)  # epoch -> Path of its PNG, or its bytes
    unreadable: list = field(default_factory=list)  # "file (why)" of each damaged part, skipped
    fingerprint: dict | None = None  # a shipped timeline's: the model it was recorded for (freshness.timeline_note)

    @property
    def epochs(self) -> list[int]:
        return [r["epoch"] for r in self.rows]

    def points(self, epoch: int) -> dict:
        """{xy, label, conf (0..1), comp} of the epoch's placed digits."""
        src = self._points.get(epoch)
        if src is None:
            raise ConfigError(f"{self.name} has no map for epoch {epoch}")
        try:
            if isinstance(src, Path):
                with np.load(src, allow_pickle=False) as f:
                    src = {k: f[k] for k in ("xy", "label", "conf", "comp")}
            out = {"xy": src["xy"].astype(np.float32), "label": src["label"].astype(int),
                   "conf": src["conf"].astype(np.float32) / 255, "comp": src["comp"].astype(int)}
            if out["xy"].shape != (len(out["label"]), 2):
                raise ValueError(f"xy is {out['xy'].shape}")
            return out
        except _BAD as exc:
            raise ConfigError(f"{self.name}: the map of epoch {epoch} is unreadable ({_why(exc)})") from None

    def grid(self, epoch: int) -> bytes | None:
        """The epoch's 10×10 sample grid (PNG), if it was kept."""
        src = self._grids.get(epoch)
        if isinstance(src, Path):
            return src.read_bytes() if src.is_file() else None
        return src

    def nearest_grid(self, epoch: int) -> tuple[int, bytes] | None:
        """(epoch, PNG) of the latest grid kept at or before `epoch` (a zoo timeline keeps
        `shipped_grid_epochs`); None if there is none."""
        for e in sorted((e for e in self._grids if e <= epoch), reverse=True):
            png = self.grid(e)
            if png:
                return e, png
        return None


def _zoo_timeline(model: str, files: tuple[Path, Path]) -> Timeline:
    """A shipped timeline (timeline.json + timeline.npz), checked: ConfigError naming a damaged file."""
    try:
        doc = json.loads(files[0].read_text())  # {"fingerprint", "rows"}; a bare list before fingerprints
        rows, fp = (doc.get("rows"), doc.get("fingerprint")) if isinstance(doc, dict) else (doc, None)
        if not isinstance(rows, list) or not rows or not all(
                isinstance(r, dict) and isinstance(r.get("epoch"), int) and set(r) >= ROW_KEYS
                and isinstance(r["class_hist"], list) and len(r["class_hist"]) == 10 for r in rows):
            raise ValueError(f"it is not a list of records with {', '.join(sorted(ROW_KEYS))}")
    except _BAD as exc:
        raise ConfigError(f"{model}'s {files[0].name} is unreadable ({_why(exc)})") from None
    try:
        with np.load(files[1], allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
        epochs = [int(e) for e in data["epochs"]]
        pts = {e: {k: data[k][i] for k in ("xy", "label", "conf", "comp")} for i, e in enumerate(epochs)}
        grids = {e: data[f"grid_{e:04d}"].tobytes() for e in epochs if f"grid_{e:04d}" in data}
        return Timeline(model, rows, data["frame_xy"], data["frame_label"], pts, grids,
                        fingerprint=fp if isinstance(fp, dict) else None)
    except _BAD as exc:
        raise ConfigError(f"{model}'s {files[1].name} is unreadable ({_why(exc)})") from None


def _row(epoch: int, step: int, vals: dict) -> dict:
    row = {"epoch": epoch, "step": step, **{k: vals.get(PREFIX + k) for k in SCALARS},
           "class_hist": [vals.get(f"{PREFIX}hist_{d}", 0.0) for d in range(10)],
           "n": int(vals.get(PREFIX + "n", 0)), "seconds": vals.get(PREFIX + "seconds"),
           "train_seconds": vals.get(PREFIX + "train_s")}
    if any(RAW + k in vals for k in SCALARS):  # the run kept an EMA: the live generator's scores too
        row["raw"] = {k: vals.get(RAW + k) for k in SCALARS}
    return row


def run_rows(run) -> list[dict]:
    """A run's records from its metrics store, one per epoch (the latest row wins)."""
    by_epoch: dict[int, tuple[int, dict]] = {}
    for step, epoch, _, key, value in run.metrics(KEYS):
        e = int(round(epoch))
        st, vals = by_epoch.get(e, (step, {}))
        if step > st:  # a later row for the same epoch replaces the old one
            st, vals = step, {}
        vals[key] = value
        by_epoch[e] = (st, vals)
    return [_row(e, st, vals) for e, (st, vals) in sorted(by_epoch.items())]


def _zoo_files(name: str) -> tuple[Path, Path] | None:
    from core.gan.variants import VARIANTS
    from core.store.registry import zoo_dir
    if name not in VARIANTS:
        return None
    d = zoo_dir(name)
    return (d / "timeline.json", d / "timeline.npz") if (d / "timeline.json").is_file() else None


def load(model: str) -> Timeline:
    """The timeline of a run or a zoo model; ConfigError when none was recorded."""
    from core.errors import RunError
    from core.store.runs import Run
    files = _zoo_files(model)
    if files:
        return _zoo_timeline(model, files)
    try:
        run = Run.open(model)
    except RunError:
        raise ConfigError(f"{model!r} is neither a run nor a zoo model with a timeline "
                          f"(see `python -m core timeline --list`)") from None
    rows = run_rows(run)
    folder = run.path / "timeline"
    if not rows or not (folder / "frame.npz").is_file():
        raise ConfigError(f"run {model} has no timeline: it was trained with eval_every 0, or before its first "
                          f"record (train with --set eval_every=1)")
    try:
        with np.load(folder / "frame.npz", allow_pickle=False) as f:
            fxy, flab, bad = f["xy"].astype(np.float32).reshape(-1, 2), f["label"], []
    except _BAD as exc:  # the scores are still there: the maps go without their grey frame
        fxy, flab, bad = np.zeros((0, 2), np.float32), np.zeros(0, np.uint8), [f"frame.npz ({_why(exc)})"]
    pts = {r["epoch"]: folder / f"epoch_{r['epoch']:04d}.npz" for r in rows
           if (folder / f"epoch_{r['epoch']:04d}.npz").is_file()}
    grids = {r["epoch"]: run.samples_dir / f"epoch_{r['epoch']:04d}.png" for r in rows}
    return Timeline(model, rows, fxy, flab, pts, grids, bad)


def version(model: str) -> str:
    """A token that changes whenever the model's timeline grows or is rewritten (a training
    run adds a record every eval_every epochs): the cache key of views derived from it."""
    from core.errors import RunError
    from core.store.runs import Run
    files = _zoo_files(model)
    if files:
        return ":".join(str(f.stat().st_mtime_ns) for f in files if f.is_file())
    try:
        folder = Run.open(model).path / "timeline"
    except RunError:
        return "none"
    return f"{len(list(folder.glob('epoch_*.npz')))}:{folder.stat().st_mtime_ns if folder.is_dir() else 0}"


def curves(models: list[str], keys: tuple[str, ...] = ("fid", "class_kl")) -> dict[str, dict]:
    """Per-epoch curves of several models for an overlay: {model: {"epoch": [...], key: [...]}}
    for each model that has a timeline (the others are left out)."""
    out = {}
    for m in models:
        try:
            rows = load(m).rows
        except ConfigError:
            continue
        out[m] = {"epoch": [r["epoch"] for r in rows], **{k: [r.get(k) for r in rows] for k in keys}}
    return out


def available() -> list[str]:
    """Zoo models with a shipped timeline, then runs with records (newest first)."""
    from core.gan.variants import VARIANTS
    from core.store.runs import list_runs
    names = [v for v in VARIANTS if _zoo_files(v)]
    for run in reversed(list_runs()):
        if (run.path / "timeline" / "frame.npz").is_file():
            names.append(run.id)
    return names


def shipped_grid_epochs(epochs: list[int]) -> list[int]:
    """The epochs whose sample grid a zoo timeline keeps: every one of the first GRID_EVERY_UNTIL
    (where a GAN changes fastest), then every GRID_EVERY-th and the last. The grids are most of
    a timeline's bytes and the tracked tree has a budget (tests/test_zoo.py)."""
    last = max(epochs, default=0)
    return [e for e in epochs if e <= GRID_EVERY_UNTIL or e % GRID_EVERY == 0 or e == last]


def thin_grids(path: Path) -> int:
    """Drop the grids `shipped_grid_epochs` does not keep from a shipped timeline.npz; returns
    the bytes saved (0 if it was already thin)."""
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    keep = {f"grid_{e:04d}" for e in shipped_grid_epochs([int(e) for e in data["epochs"]])}
    drop = [k for k in data if k.startswith("grid_") and k not in keep]
    if not drop:
        return 0
    size0 = path.stat().st_size
    write_npz(path, **{k: v for k, v in data.items() if k not in drop})
    return size0 - path.stat().st_size


def export(run, out_dir: Path, fingerprint: dict | None = None) -> bool:
    """Pack a run's timeline into out_dir/timeline.json + timeline.npz (for the zoo), with the
    `fingerprint` of the model shipped beside it; False if the run has none."""
    try:
        tl = load(run.id)
    except ConfigError:
        return False
    eps = [e for e in tl.epochs if e in tl._points]
    if not eps:
        return False
    pts = [tl.points(e) for e in eps]
    arrays = {"epochs": np.array(eps, dtype=np.int32), "frame_xy": tl.frame_xy, "frame_label": tl.frame_label,
              "xy": np.stack([p["xy"] for p in pts]).astype(np.float16),
              "label": np.stack([p["label"] for p in pts]).astype(np.uint8),
              "conf": np.stack([(p["conf"] * 255).round() for p in pts]).astype(np.uint8),
              "comp": np.stack([p["comp"] for p in pts]).astype(np.int16)}
    for e in shipped_grid_epochs(eps):
        png = tl.grid(e)
        if png:
            arrays[f"grid_{e:04d}"] = np.frombuffer(png, dtype=np.uint8)
    from core.store.files import write_json_atomic
    write_json_atomic(out_dir / "timeline.json", {"fingerprint": fingerprint,
                                                  "rows": [r for r in tl.rows if r["epoch"] in eps]})
    write_npz(out_dir / "timeline.npz", **arrays)
    return True


# ---------------------------------------------------------------- what it shows
def summary(tl: Timeline) -> dict:
    """What a reader asks of a timeline: the epoch each class first exceeds SHARE of the
    samples (None = never), the best FID and its epoch, the last record, and the recorder's
    cost as a share of the training time between records."""
    first = {}
    for d in range(10):
        first[d] = next((r["epoch"] for r in tl.rows if r["class_hist"][d] > SHARE), None)
    best = min(tl.rows, key=lambda r: r["fid"] if r["fid"] is not None else math.inf)
    best = best if best["fid"] is not None else {"fid": None, "epoch": None}
    costs, prev = [], 0.0
    for r in tl.rows:
        if r["seconds"] is not None and r["train_seconds"] is not None and r["train_seconds"] > prev:
            costs.append(r["seconds"] / (r["train_seconds"] - prev))
            prev = r["train_seconds"]
    return {"model": tl.name, "epochs": tl.epochs, "first_epoch_over_5pct": first,
            "best_fid": best["fid"], "best_fid_epoch": best["epoch"], "last": tl.rows[-1],
            "record_cost": float(np.median(costs)) if costs else None}


# ---------------------------------------------------------------- playback


def _map_image(tl: Timeline, epoch: int, size: int) -> Image.Image:
    from PIL import Image, ImageDraw
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    p = tl.points(epoch)
    ref = tl.frame_xy if len(tl.frame_xy) else p["xy"]  # a run whose frame is unreadable: the points' own extent
    lo, hi = (ref.min(0), ref.max(0)) if len(ref) else (np.zeros(2), np.ones(2))
    span = np.maximum(hi - lo, 1e-6)

    def px(xy):
        return np.clip((xy - lo) / span * (size - 12) + 6, 0, size - 1)
    for x, y in px(tl.frame_xy):
        draw.point((x, size - y), fill=(215, 215, 215))
    for (x, y), lab in zip(px(p["xy"]), p["label"]):
        draw.ellipse((x - 1.5, size - y - 1.5, x + 1.5, size - y + 1.5), fill=DIGIT_COLOURS[lab % 10])
    return img


def _grid_image(png: bytes | None) -> Image.Image:
    """An epoch's sample grid, black where it is missing or not a small PNG."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(png or b"")) as im:  # the header's size, checked before it is decoded
            return im.convert("RGB") if im.size[0] * im.size[1] <= 2048 * 2048 else Image.new("RGB", (302, 302))
    except (OSError, Image.DecompressionBombError):
        return Image.new("RGB", (302, 302), "black")


def animation(tl: Timeline, ms: int = 400) -> bytes:
    """An animated GIF of the timeline: per recorded epoch, the sample grid beside the map of
    that epoch's digits (grey: the frame's real digits; colour: the class read), titled with
    the epoch and its FID."""
    from PIL import Image, ImageDraw
    frames = []
    for r in tl.rows:
        if r["epoch"] not in tl._points:
            continue
        try:
            grid = _grid_image(tl.grid(r["epoch"]))
            size = grid.size[1]
            mapped = _map_image(tl, r["epoch"], size)
        except ConfigError as exc:  # one damaged epoch: the others are animated, and it is named
            tl.unreadable.append(str(exc))
            continue
        canvas = Image.new("RGB", (grid.size[0] + size + 8, size + 22), "white")
        canvas.paste(grid, (0, 22))
        canvas.paste(mapped, (grid.size[0] + 8, 22))
        fid = f"FID {r['fid']:.2f}" if r["fid"] is not None else ""
        ImageDraw.Draw(canvas).text((4, 5), f"{tl.name} · epoch {r['epoch']} · {fid} (n {r['n']})", fill="black")
        frames.append(canvas.convert("P", palette=Image.ADAPTIVE, colors=64))
    if not frames:
        raise ConfigError(f"{tl.name} has no recorded maps to animate")
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=ms, loop=0)
    return buf.getvalue()


PLAY_EPOCHS_PER_S = 1.0  # the Timeline page's playback speed


def playback_epoch(epochs: list[int], start: int, elapsed: float, per_s: float = PLAY_EPOCHS_PER_S) -> int:
    """The epoch a playback that began at epoch `start` shows after `elapsed` seconds: one
    record per 1/per_s seconds by the clock (wrapping after the last), not one per page redraw,
    so a slow redraw neither slows it down nor queues epochs that a pause would then skip to."""
    i = epochs.index(start) if start in epochs else 0
    return epochs[(i + int(max(elapsed, 0.0) * per_s)) % len(epochs)]
