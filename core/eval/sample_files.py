"""A user's file of generated digits, read, checked and scored like a model's samples.

Accepted (the course's evaluation platform scored folders of samples):
* `.npz` holding one array (read whatever its name; with several, `key` names one),
* `.npy`, read without pickles,
* a folder of 28×28 PNGs (greyscale or RGB; read in name order),
* `.pt` holding one tensor, read with `weights_only=True`.
Shapes N×28×28, N×1×28×28 or N×784; values uint8 0–255, or float in [0, 1] or [−1, 1]
(detected from the values and reported). Anything else is refused with one line.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import ConfigError
from core.store.files import check_user_file

if TYPE_CHECKING:  # torch where tensors are read or made: the Overview's upload panel draws without it
    import torch

MAX_BYTES = 512 * 2**20   # a file of samples larger than this is refused before it is read
MAX_N = 50_000            # the floor is measured on at most the 50k train digits
MAX_VALUES = MAX_N * 784  # what a file may declare (shape), checked from its header before it is read
UPLOAD_BUDGET = MAX_BYTES  # uploads kept under <cache>/uploads/ in all; the oldest go first
RANGES = {"uint8": "uint8 0–255", "0-255": "0–255 (not uint8)", "0-1": "float in [0, 1]", "-1-1": "float in [−1, 1]"}


def _npz(path: Path, key: str | None) -> np.ndarray:
    from core.store.safeload import check_array, check_zip, npy_header
    check_zip(path, MAX_BYTES)  # what its entries inflate to, from the central directory
    with np.load(path, allow_pickle=False) as z:
        keys = list(z.keys())
        if not keys:
            raise ConfigError(f"{path.name} holds no array")
        if key is None and len(keys) > 1:
            raise ConfigError(f"{path.name} holds {len(keys)} arrays ({', '.join(keys[:8])}); name one with --key")
        if key is not None and key not in keys:
            raise ConfigError(f"{path.name} has no array {key!r}; it holds {', '.join(keys[:8])}")
        key = key or keys[0]
        entry = f"{key}.npy" if f"{key}.npy" in z.zip.namelist() else key
        with z.zip.open(entry) as member:  # its header, before numpy allocates the array
            check_array(*npy_header(member, f"{path.name}[{key}]"), MAX_VALUES, path.name)
        return z[key]


def _npy(path: Path) -> np.ndarray:
    from core.store.safeload import check_array, npy_header
    with open(path, "rb") as f:
        check_array(*npy_header(f, path.name), MAX_VALUES, path.name)
    return np.load(path, allow_pickle=False)


def _pngs(folder: Path) -> np.ndarray:
    from PIL import Image
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png" and p.is_file())  # no FIFO, no device
    if not files:
        raise ConfigError(f"{folder} holds no .png file")
    if len(files) > MAX_N:
        raise ConfigError(f"{folder} holds {len(files)} PNGs; at most {MAX_N} are scored")
    out = np.empty((len(files), 28, 28), np.uint8)
    for i, f in enumerate(files):
        try:
            with Image.open(f) as im:
                if im.size != (28, 28):
                    raise ConfigError(f"{f.name} is {im.size[0]}×{im.size[1]} pixels; every digit must be 28×28")
                out[i] = np.asarray(im.convert("L"))
        except (OSError, Image.DecompressionBombError) as exc:  # the header's size is checked before decoding
            raise ConfigError(f"{f.name} is not a readable 28×28 PNG ({str(exc)[:160]})") from None
    return out


def _pt(path: Path) -> np.ndarray:
    import warnings

    import torch

    from core.store.safeload import check_torch_file
    check_torch_file(path, MAX_BYTES, MAX_VALUES)
    with warnings.catch_warnings():  # a foreign pickle's protocol warning: the refusal below says it all
        warnings.simplefilter("ignore", UserWarning)
        obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict):
        tensors = [v for v in obj.values() if isinstance(v, torch.Tensor)]
        if len(tensors) != 1:
            raise ConfigError(f"{path.name} holds a dict with {len(tensors)} tensors; save the samples as one tensor")
        obj = tensors[0]
    if not isinstance(obj, torch.Tensor):
        raise ConfigError(f"{path.name} holds a {type(obj).__name__}, not a tensor of samples")
    return obj.detach().float().numpy() if obj.dtype != torch.uint8 else obj.numpy()


def read_array(path: str | Path, key: str | None = None) -> tuple[np.ndarray, str]:
    """The raw array of a samples file or folder, and its format's name."""
    path = Path(path)
    if path.is_dir():
        return _pngs(path), "folder of PNGs"
    if not path.is_file():
        raise ConfigError(f"no file or folder {path}")
    check_user_file(path, MAX_BYTES, "samples files")
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".npy", ".pt", ".pth"):
        raise ConfigError(f"{path.name}: expected .npz, .npy, .pt or a folder of PNGs")
    try:
        if suffix == ".npz":
            with open(path, "rb") as f:
                if f.read(2) != b"PK":
                    raise ConfigError(f"{path.name} is not a readable .npz file (not a zip archive)")
            return _npz(path, key), "npz"
        if suffix == ".npy":
            with open(path, "rb") as f:
                if f.read(6) != b"\x93NUMPY":
                    raise ConfigError(f"{path.name} is not a readable .npy file (no NumPy header)")
            return _npy(path), "npy"
        return _pt(path), "pt"
    except ConfigError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise ConfigError(f"{path.name} holds Python objects, not numbers; save a numeric array "
                              "(np.save('x.npy', images.astype(np.uint8)))") from None
        raise ConfigError(f"{path.name} is not a readable {suffix} file ({exc})") from None
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError) as exc:
        what = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path.name} is not a readable {suffix} file (truncated or not that format: {what})") \
            from None
    except Exception as exc:  # noqa: BLE001 - torch's weights_only refusal of code-running pickles, and the like
        raise ConfigError(f"{path.name} was refused: it is not plain tensor data ({type(exc).__name__}); "
                          "nothing in it was run") from None


def normalise(a: np.ndarray, name: str = "samples") -> tuple[torch.Tensor, str]:
    """N×784 float32 in [−1, 1] (the generator's range) and the range detected."""
    import torch
    if a.dtype.kind not in "uif" and a.dtype != np.bool_:
        raise ConfigError(f"{name}: values of type {a.dtype} are not pixels")
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    if not ((a.ndim == 3 and a.shape[1:] == (28, 28)) or (a.ndim == 2 and a.shape[1] == 784)):
        raise ConfigError(f"{name}: shape {'×'.join(map(str, a.shape))}; expected N×28×28, N×1×28×28 or N×784")
    n = a.shape[0]
    if n > MAX_N:
        raise ConfigError(f"{name}: {n} digits; at most {MAX_N} are scored")
    # one float32 copy, scaled in place: a 50k × 784 float64 file costs its own 314 MB and 157 MB more
    if a.dtype == np.uint8:
        return torch.from_numpy(_scaled(a.reshape(n, 784), 127.5, -1.0)), RANGES["uint8"]
    a = a.reshape(n, 784)
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ConfigError(f"{name}: {int((~np.isfinite(a)).sum())} values are NaN or infinite")
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0 and hi <= 1:
        return torch.from_numpy(_scaled(a, 0.5, -1.0)), RANGES["0-1"]
    if lo >= -1 and hi <= 1:
        return torch.from_numpy(_scaled(a, 1.0, 0.0)), RANGES["-1-1"]
    if lo >= 0 and hi <= 255:
        return torch.from_numpy(_scaled(a, 127.5, -1.0)), RANGES["0-255"]
    raise ConfigError(f"{name}: values from {lo:.3g} to {hi:.3g} fit none of uint8 0–255, [0, 1] or [−1, 1]")


def _scaled(a: np.ndarray, div: float, add: float) -> np.ndarray:
    """a / div + add as float32, in one copy (even of float32: the caller's array is never changed)."""
    x = a.astype(np.float32)
    x /= np.float32(div)
    x += np.float32(add)
    return x


def load_samples(path: str | Path, key: str | None = None) -> tuple[torch.Tensor, dict]:
    """(N×784 in [−1, 1], {format, range, n}) of a samples file; at least 2k+1 digits."""
    from core.eval.score import K
    a, fmt = read_array(path, key)
    x, rng = normalise(a, Path(path).name)
    if len(x) < 2 * K + 1:
        raise ConfigError(f"{Path(path).name}: {len(x)} digits; precision and recall (k = {K}) need at least "
                          f"{2 * K + 1}")
    return x, {"format": fmt, "range": rng, "n": len(x)}


def score_samples(path: str | Path, key: str | None = None, use_cache: bool = True) -> dict:
    """Score a file of samples like a model (same keys as `score`, plus format, range and n)."""
    x, info = load_samples(path, key)
    return score_loaded(x, info, str(path), use_cache)


def score_loaded(x: torch.Tensor, info: dict, path: str, use_cache: bool = True) -> dict:
    """`score_samples` of samples already read by `load_samples`, cached by the sha256 of the
    pixels scored (so a PNG folder and an .npy of the same digits share a result)."""
    import hashlib
    import json

    from core.eval.score import score_images
    from core.eval.score_files import VERSION, cache_dir, classifier_sha
    from core.store.files import write_json_atomic
    h = hashlib.sha256(x.numpy().tobytes()).hexdigest()[:20]  # what is scored, however it was stored
    cache = cache_dir() / "scores" / "samples" / f"{h}_v{VERSION}_{classifier_sha()[:12]}.json"
    if use_cache and cache.is_file():
        try:
            return {**json.loads(cache.read_text()), "model": path}
        except ValueError:
            pass
    res = {"model": path, "source": "samples", **info, **score_images(x)}
    if use_cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(cache, res)
    return res


def save_upload(files: list[tuple[str, bytes]]) -> Path:
    """Store uploaded files (name, bytes) under `<cache>/uploads/<sha>/` and return what to read:
    the one .npz/.npy/.pt, or the folder of the PNGs. Sizes and names are checked first."""
    import hashlib

    from core.eval.score_files import cache_dir
    from core.store.files import write_bytes_atomic
    if not files:
        raise ConfigError("no file uploaded")
    total = sum(len(b) for _, b in files)
    if total > MAX_BYTES:
        raise ConfigError(f"the upload is {total / 2**20:.0f} MiB; samples are limited to {MAX_BYTES // 2**20} MiB")
    suffixes = {Path(n).suffix.lower() for n, _ in files}
    if suffixes != {".png"} and (len(files) != 1 or not suffixes <= {".npz", ".npy", ".pt", ".pth"}):
        raise ConfigError("upload one .npz, .npy or .pt file, or any number of 28×28 PNGs")
    if len(files) > MAX_N:
        raise ConfigError(f"{len(files)} PNGs; at most {MAX_N} are scored")
    h = hashlib.sha256()
    for name, data in sorted(files):
        h.update(Path(name).name.encode() + b"\0" + hashlib.sha256(data).digest())
    folder = cache_dir() / "uploads" / h.hexdigest()[:20]
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, data) in enumerate(sorted(files)):
        safe = f"{i:06d}{Path(name).suffix.lower()}"  # the user's names never become paths
        if not (folder / safe).is_file():
            write_bytes_atomic(folder / safe, data)
    os.utime(folder)  # used now: the budget removes the least recently used first
    prune_uploads(keep=folder)
    return folder if suffixes == {".png"} else folder / f"000000{suffixes.pop()}"


def _upload_folder(path: Path) -> Path | None:
    """The uploads/<sha>/ folder that holds `path` (None if it is not an upload)."""
    from core.eval.score_files import cache_dir
    root = (cache_dir() / "uploads").resolve()
    path = Path(path).resolve()
    folder = path if path.parent == root else path.parent
    return folder if folder.parent == root and folder.is_dir() else None


def discard_upload(path: str | Path) -> None:
    """Remove an upload that was refused: only what was scored is kept."""
    import shutil
    folder = _upload_folder(Path(path))
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def prune_uploads(keep: Path | None = None, budget: int = UPLOAD_BUDGET) -> list[str]:
    """Keep <cache>/uploads/ under `budget` bytes in all: the least recently used uploads go
    first (never `keep`, the one in use)."""
    import shutil

    from core.eval.score_files import cache_dir
    root = cache_dir() / "uploads"
    if not root.is_dir():
        return []
    sizes = []
    for d in root.iterdir():
        try:
            sizes.append((d.stat().st_mtime, d, sum(f.stat().st_size for f in d.iterdir()) if d.is_dir() else 0))
        except OSError:
            continue
    total, gone = sum(n for *_, n in sizes), []
    for _, d, n in sorted(sizes, key=lambda t: t[0]):
        if total <= budget:
            break
        if keep is not None and d.resolve() == Path(keep).resolve():
            continue
        shutil.rmtree(d, ignore_errors=True) if d.is_dir() else d.unlink(missing_ok=True)
        total -= n
        gone.append(d.name)
    return gone
