"""One recorded epoch of a training timeline (core.train.timeline) as the Timeline page shows it:
its scores, its digits on the fixed map of real digits, the quality curves up to it, and the
table of every record. Pure functions of a Timeline: the page draws them."""
from __future__ import annotations

from core.errors import ConfigError
from core.eval.names import METRICS

RECORD_COLS = ("epoch", *METRICS, "confidence", "cond_acc", "seconds")  # the page's table of every record


def epoch_scores(row: dict) -> dict:
    """{metric: value or None} of one record, in METRICS order."""
    return {k: row.get(k) for k in METRICS}


def map_points(tl, epoch: int) -> tuple[dict | None, str | None]:
    """The epoch's digits placed on the fixed map ({xy, label, conf, comp}: Timeline.points) and
    None; or None and why there are none (no map kept for that epoch, or its file is damaged)."""
    try:
        return tl.points(epoch), None
    except ConfigError as exc:
        return None, str(exc)


def padded_range(values, pad: float = 0.05) -> list[float]:
    """[low, high] of the values widened by `pad` of their span on each side."""
    lo, hi = float(min(values)), float(max(values))
    margin = pad * (hi - lo)
    return [lo - margin, hi + margin]


def map_ranges(frame_xy) -> tuple[list[float], list[float]]:
    """The fixed map's x and y ranges: the frame's real digits with a margin, the same at every epoch."""
    return padded_range(frame_xy[:, 0]), padded_range(frame_xy[:, 1])


def epoch_axis(epochs: list[int]) -> list[float]:
    """An x range over the whole run (3 % margin, at least one epoch), so a curve drawn up to an
    epoch never rescales as the slider moves."""
    pad = max(1, (epochs[-1] - epochs[0]) * 0.03)
    return [epochs[0] - pad, epochs[-1] + pad]


def curve_so_far(rows: list[dict], key: str, epoch: int) -> dict[str, list[tuple[int, float]]]:
    """(epoch, value) of `key` in every record up to `epoch`: 'ema' the sampled generator's
    (the EMA when the run keeps one), 'raw' the live generator's, where it was scored too."""
    upto = [r for r in rows if r["epoch"] <= epoch]
    return {"ema": [(r["epoch"], r[key]) for r in upto if r.get(key) is not None],
            "raw": [(r["epoch"], r["raw"][key]) for r in upto if r.get("raw") and r["raw"].get(key) is not None]}


def record_table(rows: list[dict]) -> list[dict]:
    """Every record's RECORD_COLS (None where a record lacks one)."""
    return [{k: r.get(k) for k in RECORD_COLS} for r in rows]
