"""Digit grids as PNG (PIL only)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data import to_uint8


def grid(images: torch.Tensor | np.ndarray, nrow: int = 10, pad: int = 2) -> Image.Image:
    """N digits (model range N×784, or uint8 N×28×28) -> one grayscale PIL image, `nrow` per row."""
    u8 = images if isinstance(images, np.ndarray) and images.dtype == np.uint8 else to_uint8(torch.as_tensor(images)).numpy()
    u8 = u8.reshape(-1, 28, 28)
    n = len(u8)
    rows = max(1, -(-n // nrow))
    canvas = np.zeros((rows * (28 + pad) + pad, nrow * (28 + pad) + pad), np.uint8)
    for i, img in enumerate(u8):
        r, c = divmod(i, nrow)
        canvas[pad + r * (28 + pad):pad + r * (28 + pad) + 28, pad + c * (28 + pad):pad + c * (28 + pad) + 28] = img
    return Image.fromarray(canvas, mode="L")


def save_grid(images, path: str | Path, nrow: int = 10) -> Path:
    """Write the grid atomically (the app may be reading the previous one)."""
    from .store import write_bytes_atomic
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, grid_png_bytes(images, nrow))
    return path


def grid_png_bytes(images, nrow: int = 10) -> bytes:
    buf = io.BytesIO()
    grid(images, nrow).save(buf, format="PNG")
    return buf.getvalue()
