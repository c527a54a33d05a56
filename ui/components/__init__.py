"""Bidirectional Streamlit components built on a copied plotly.js (no CDN, no npm build).

One declared component (``frontend/index.html`` + ``plotly.min.js`` + ``main.js``) serves two
kinds of plot, picked by the ``kind`` arg:

* :func:`drag_points` -- points drawn as draggable circles; returns the last drag.
* :func:`hover_scatter` -- a scattergl cloud whose hovered point shows its digit thumbnail;
  returns the last box/lasso selection.

The iframe Streamlit creates has ``title="ui.components.latent_lab_plot"`` (the
fully-qualified component name, see :data:`COMPONENT_NAME`).
"""
from __future__ import annotations

import base64
import math
import os
import shutil
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import streamlit.components.v1 as components

from core.store.images import DIGIT_COLOURS

FRONTEND = Path(__file__).resolve().parent / "frontend"
_SHORT_NAME = "latent_lab_plot"
COMPONENT_NAME = f"{__name__}.{_SHORT_NAME}"  # also the iframe's title attribute
IFRAME_SELECTOR = f'iframe[title="{COMPONENT_NAME}"]'

PALETTE = DIGIT_COLOURS  # the digits' colours everywhere (core.store.images)
NONE_COLOR = "#b0b0b0"


def ensure_plotly_js() -> Path:
    """The component serves plotly.js from its own folder (no CDN is reachable, and the
    component server refuses symlinks): a copy of ui.components.bundle.source() (the gl2d bundle
    fetched at setup, else the plotly package's full one), never a copy kept in git."""
    from ui.components.bundle import source as bundle_source
    target = FRONTEND / "plotly.min.js"
    source = bundle_source()
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)  # atomic: a concurrent server never serves half a file
    return target


def _component():
    # Declared on every call: declare_component registers with the running Streamlit instance
    # only when a script-run context exists, so a module imported outside a run (tests, CLI)
    # would otherwise never be registered. Re-registering an equal component is silent.
    ensure_plotly_js()
    return components.declare_component(_SHORT_NAME, path=str(FRONTEND))


def _floats(values) -> list[float]:
    out = []
    for v in values:
        f = float(v)
        out.append(f if math.isfinite(f) else 0.0)
    return out


def _range(r) -> list[float] | None:
    if r is None:
        return None
    lo, hi = (float(v) for v in r)
    return [lo, hi]


def drag_points(points: Sequence[Sequence[float]], labels: Sequence[str] | None = None,
                colors: Sequence[str] | None = None, key: str | None = None, height: int = 420,
                xrange: Sequence[float] | None = None, yrange: Sequence[float] | None = None,
                title: str = "") -> dict | None:
    """Draw ``points`` ([[x, y], ...]) as draggable circles with their labels.

    Returns None until the user first drags a point, then the last drag:
    ``{"index": i, "x": new_x, "y": new_y, "points": [[x, y], ...all current...], "seq": n}``
    (``seq`` grows with every drag, so dragging to an identical place still reruns).
    The plot redraws only when the args change, so keep passing the same ``points`` (or the
    updated ones) after a drag. Axis ranges are fixed: ``xrange``/``yrange`` or padded bounds.
    """
    pts = [_floats(p[:2]) for p in points]
    n = len(pts)
    labels_ = [str(v) for v in labels] if labels is not None else [str(i) for i in range(n)]
    colors_ = [str(c) for c in colors] if colors is not None else [PALETTE[i % 10] for i in range(n)]
    return _component()(kind="drag", points=pts, labels=labels_, colors=colors_, height=int(height),
                        xrange=_range(xrange), yrange=_range(yrange), title=str(title or ""),
                        key=key, default=None)


def hover_scatter(x: Sequence[float], y: Sequence[float], color_values: Sequence[int],
                  images_b64: Sequence[str], hover_text: Sequence[str], key: str | None = None,
                  height: int = 560, palette: Sequence[str] | None = None,
                  category_names: dict[int, str] | None = None, title: str = "",
                  marker_size: int = 5, dragmode: str = "lasso", legend_title: str = "",
                  marks: dict | None = None) -> dict | None:
    """A scattergl cloud (one legend entry per category); hovering a point shows its thumbnail.

    ``color_values`` are category ints (0-9 take ``palette``, default the 10-colour
    categorical :data:`PALETTE`; -1 means "none", grey). ``images_b64`` are base64 PNGs
    (one per point, e.g. from :func:`digits_to_png_b64`), shown at 84 px, pixelated, with the
    point's ``hover_text``. Returns None until a box/lasso selection, then
    ``{"selected": [point indices, sorted], "seq": n}`` (a cleared selection sends ``[]``).
    ``dragmode`` is the initial plotly drag mode ("lasso", "select", "zoom", "pan");
    ``legend_title`` names what the colours stand for. ``marks`` rings points found by a search:
    ``{"matches": [...], "focus": [i], "neighbours": [...]}`` (point indices; a legend entry each).
    """
    xs, ys = _floats(x), _floats(y)
    n = len(xs)
    if not (len(ys) == len(color_values) == len(images_b64) == len(hover_text) == n):
        raise ValueError("x, y, color_values, images_b64 and hover_text must have the same length")
    cats = [int(c) for c in color_values]
    imgs = [b.decode("ascii") if isinstance(b, bytes) else str(b) for b in images_b64]
    names = {str(int(k)): str(v) for k, v in (category_names or {}).items()}
    return _component()(kind="hover", x=xs, y=ys, color_values=cats, images_b64=imgs,
                        hover_text=[str(t) for t in hover_text], height=int(height),
                        palette=list(palette) if palette is not None else list(PALETTE),
                        category_names=names, title=str(title or ""), marker_size=int(marker_size),
                        dragmode=str(dragmode), legend_title=str(legend_title or ""),
                        marks={k: [int(i) for i in v] for k, v in (marks or {}).items()}, key=key, default=None)


def _png(raw_rows: bytes, w: int, h: int) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw_rows, 6)) + chunk(b"IEND", b""))


def digits_to_png_b64(images) -> list[str]:
    """Base64 PNG strings for a stack of greyscale images (N×H×W uint8 0-255, or float 0-1)."""
    import numpy as np

    arr = np.asarray(images)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"expected N x H x W greyscale images, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        arr = np.rint(np.clip(arr, 0.0, 1.0) * 255)
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    n, h, w = arr.shape
    rows = np.zeros((n, h, w + 1), np.uint8)  # each PNG row starts with filter byte 0
    rows[:, :, 1:] = arr
    return [base64.b64encode(_png(r.tobytes(), w, h)).decode("ascii") for r in rows]
