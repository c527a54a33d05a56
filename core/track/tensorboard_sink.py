"""TensorBoard event files beside a run's metrics (runs/<id>/tensorboard/), so `tensorboard --logdir
runs/` shows the run store as it is: every metric row as scalars (the timeline's records under
timeline/, the rest under train/), each epoch's sample grid as an image, and the critic's weight
histograms where the run records them (clipped WGANs). Written with torch's SummaryWriter; read back
with TensorBoard's own EventAccumulator (tests/test_trackers.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from core.track.base import TIMELINE_PREFIX, Sink


def available() -> bool:
    """Whether the tensorboard package (which torch's SummaryWriter needs) is installed."""
    return importlib.util.find_spec("tensorboard") is not None


def tag(key: str) -> str:
    """A metric's TensorBoard tag: timeline/fid for the recorder's tl_fid, train/loss_d for the rest."""
    return f"timeline/{key[len(TIMELINE_PREFIX):]}" if key.startswith(TIMELINE_PREFIX) else f"train/{key}"


class TensorBoardSink(Sink):
    name = "tensorboard"

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.writer = None

    def start(self, config: dict, step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter
        # purge_step: a resumed run drops what was logged after its checkpoint, here as in its store
        self.writer = SummaryWriter(str(self.folder), purge_step=step or None, flush_secs=30)
        if not step:
            self.writer.add_text("config", "\n".join(f"    {k} = {v!r}" for k, v in sorted(config.items())), 0)

    def log(self, step: int, epoch: float, row: dict) -> None:
        for k, v in row.items():
            self.writer.add_scalar(tag(k), float(v), step)

    def epoch(self, epoch: int, step: int, grid: Path | None, weight_hist: dict | None) -> None:
        if grid is not None and grid.is_file():
            from PIL import Image
            with Image.open(grid) as im:
                self.writer.add_image("samples", np.asarray(im.convert("L")), step, dataformats="HW")
        hists = {k: v for k, v in (weight_hist or {}).items() if k.startswith("l") and isinstance(v, list)}
        if hists:  # core.gan.losses.weight_histograms: counts over [-2c, 2c], before clipping
            from core.gan.losses import HIST_SPAN
            c = float(weight_hist["c"])
            for layer, counts in hists.items():
                counts = np.asarray(counts, dtype=float)
                edges = np.linspace(-HIST_SPAN * c, HIST_SPAN * c, len(counts) + 1)
                centres = (edges[:-1] + edges[1:]) / 2
                self.writer.add_histogram_raw(
                    f"critic_weights/{layer}", min=float(edges[0]), max=float(edges[-1]), num=int(counts.sum()),
                    sum=float((counts * centres).sum()), sum_squares=float((counts * centres ** 2).sum()),
                    bucket_limits=edges[1:].tolist(), bucket_counts=counts.tolist(), global_step=step)

    def end(self, status: str, step: int, scores: dict | None, checkpoint: Path | None) -> None:
        for k, v in (scores or {}).items():
            if isinstance(v, (int, float)):
                self.writer.add_scalar(f"final/{k}", float(v), step)
        self.writer.add_text("status", status, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
