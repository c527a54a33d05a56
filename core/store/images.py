"""Digit grids as PNG (PIL only)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from core.store.mnist import to_uint8

if TYPE_CHECKING:
    import torch

# The digits' colours everywhere (tab10, with 7 near-black instead of tab10's grey: grey is the colour of
# real digits behind generated ones, and a "read as 7" point must not vanish into it): maps, timelines,
# atlases and the app's plots.
DIGIT_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#222222", "#bcbd22", "#17becf"]


def _uint8(images) -> np.ndarray:
    """Digits (model range N×784, or uint8 N×28×28) as uint8 N×28×28 (torch only for tensors' sake)."""
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        return images.reshape(-1, 28, 28)
    import torch
    return to_uint8(torch.as_tensor(images)).numpy().reshape(-1, 28, 28)


def grid(images: torch.Tensor | np.ndarray, nrow: int = 10, pad: int = 2) -> Image.Image:
    """N digits (model range N×784, or uint8 N×28×28) -> one grayscale PIL image, `nrow` per row."""
    u8 = _uint8(images)
    n = len(u8)
    rows = max(1, -(-n // nrow))
    canvas = np.zeros((rows * (28 + pad) + pad, nrow * (28 + pad) + pad), np.uint8)
    for i, img in enumerate(u8):
        r, c = divmod(i, nrow)
        canvas[pad + r * (28 + pad):pad + r * (28 + pad) + 28, pad + c * (28 + pad):pad + c * (28 + pad) + 28] = img
    return Image.fromarray(canvas, mode="L")


def save_png(img: Image.Image, path: str | Path) -> Path:
    """Write a PIL image as PNG atomically (the app may be reading the previous one)."""
    from core.store.files import write_bytes_atomic
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, png_bytes(img))
    return path


def save_grid(images, path: str | Path, nrow: int = 10) -> Path:
    return save_png(grid(images, nrow), path)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def grid_png_bytes(images, nrow: int = 10) -> bytes:
    return png_bytes(grid(images, nrow))


def labelled_grid(images, labels, nrow: int, scale: int = 2, titles: list[str] | None = None) -> Image.Image:
    """Digits enlarged `scale`× with a label under each (e.g. the digit it reads as) and, optionally,
    a title over each column (e.g. the edit's strength)."""
    from PIL import ImageDraw
    u8 = _uint8(images)
    cell, text_h, pad = 28 * scale, 12, 4
    top = text_h if titles else 0
    rows = max(1, -(-len(u8) // nrow))
    canvas = Image.new("L", (nrow * (cell + pad) + pad, top + rows * (cell + text_h + pad) + pad), 255)
    draw = ImageDraw.Draw(canvas)
    for c, t in enumerate(titles or []):
        draw.text((pad + c * (cell + pad), 0), str(t), fill=0)
    for i, (img, lab) in enumerate(zip(u8, labels)):
        r, c = divmod(i, nrow)
        x, y = pad + c * (cell + pad), top + pad + r * (cell + text_h + pad)
        canvas.paste(Image.fromarray(img, mode="L").resize((cell, cell), Image.NEAREST), (x, y))
        draw.text((x, y + cell), str(lab), fill=0)
    return canvas


def gif_bytes(images, scale: int = 4, ms: int = 120, bounce: bool = True) -> bytes:
    """An animated GIF of digits (model range N×784), each frame enlarged `scale`×; with
    `bounce` the animation plays forth and back."""
    u8 = _uint8(images)
    frames = [Image.fromarray(f, mode="L").resize((28 * scale, 28 * scale), Image.NEAREST) for f in u8]
    if bounce and len(frames) > 2:
        frames += frames[-2:0:-1]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=ms, loop=0)
    return buf.getvalue()
