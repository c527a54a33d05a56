"""Bounds on what a user's file may make this process allocate, read from the file's own
metadata before anything is materialised (issue 30: a 2 MB file must not inflate to 2 GiB).

* a zip archive (torch's format, .npz): every entry's size from the central directory, which
  is what Python's zipfile and torch's reader allocate and inflate to;
* a torch pickle (zip or legacy format): the storages it declares (their sizes) and the tensor
  shapes it builds on them (a stride-0 view of a tiny storage can declare 256 × 1,000,000
  values, which the first `.float()` or `isfinite` materialises). The pickle is read by a
  restricted unpickler whose every global is a stub of this module: nothing in it is imported
  or run;
* an .npy header (its shape and dtype), alone or inside an .npz.

Each check raises ConfigError with one line naming the file and the bound. Torch-free.
"""
from __future__ import annotations

import io
import math
import pickle
import zipfile
from pathlib import Path

from core.errors import ConfigError

MAX_ENTRIES = 10_000  # zip entries (a torch file of a state dict has one per tensor, plus five)
MAX_PICKLE = 16 * 2**20  # a state dict's pickle is a few KB; what torch parses before any storage
NPY_HEADER = 10_000  # numpy's own default max_header_size
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
ITEMSIZE = {"Double": 8, "Float": 4, "Half": 2, "BFloat16": 2, "Long": 8, "Int": 4, "Short": 2, "Char": 1, "Byte": 1,
            "Bool": 1, "ComplexFloat": 8, "ComplexDouble": 16, "Untyped": 1}


DAMAGED = (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile, EOFError)  # a damaged file raises


def why(exc: Exception) -> str:
    """A damaged file's error, in a few words."""
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:100]}"


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n:,} bytes"


def check_zip(path: Path, limit: int, what: str = "") -> int:
    """The bytes a zip archive inflates to (its central directory's sizes); ConfigError when
    that exceeds `limit` or it holds more than MAX_ENTRIES entries. 0 if it is not a zip."""
    if not zipfile.is_zipfile(path):
        return 0
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ConfigError(f"{what}{path.name} is not a readable zip archive ({exc})") from None
    if len(infos) > MAX_ENTRIES:
        raise ConfigError(f"{what}{path.name} holds {len(infos):,} zip entries; at most {MAX_ENTRIES:,}")
    total = sum(i.file_size for i in infos)
    if total > limit:
        big = max(infos, key=lambda i: i.file_size)
        raise ConfigError(f"{what}{path.name} inflates to {_mib(total)} ({big.filename}: {_mib(big.file_size)}); "
                          f"at most {_mib(limit)} is read")
    return total


# ---------------------------------------------------------------- torch pickles, scanned

class _Stub:
    """Whatever a global of the pickle builds: it accepts any call and any state, and holds nothing."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):
        pass

    def append(self, value):
        pass

    def extend(self, values):
        pass


class _Storage:
    def __init__(self, nbytes: int):
        self.nbytes = nbytes


class _StorageType:
    def __init__(self, name: str):
        self.itemsize = ITEMSIZE.get(name.removesuffix("Storage"), 16)


class _Scan(pickle.Unpickler):
    """Records the storages and tensor shapes a torch pickle declares; builds nothing else."""

    def __init__(self, f):
        super().__init__(f)
        self.storage_bytes = 0
        self.tensors: list[tuple[int, ...]] = []

    def _tensor(self, storage, offset, size, *rest):
        if not (isinstance(size, tuple) and all(isinstance(s, int) and s >= 0 for s in size)):
            raise ConfigError(f"declares a tensor of shape {str(size)[:60]}")
        self.tensors.append(size)
        return _Stub()

    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return self._tensor
        if module == "torch._utils" and name in ("_rebuild_parameter", "_rebuild_parameter_with_state"):
            return lambda data, *rest: data
        if module == "torch._utils" and name.startswith("_rebuild"):
            raise ConfigError(f"holds a kind of tensor that is not accepted ({name})")
        if module == "torch" and name.endswith("Storage"):
            return _StorageType(name)
        return _Stub

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[4], int)):
            raise ConfigError("declares a storage it does not size")
        itemsize = pid[1].itemsize if isinstance(pid[1], _StorageType) else 16
        self.storage_bytes += max(0, pid[4]) * itemsize
        return _Storage(pid[4] * itemsize)


def _torch_pickle(path: Path) -> io.BytesIO | None:
    """The pickle that torch.load parses first: data.pkl of the zip format, or the legacy
    format's stream after its magic number, protocol and system info (None: neither)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            pkl = next((i for i in z.infolist() if i.filename.endswith("data.pkl")), None)
            if pkl is None:
                return None
            if pkl.file_size > MAX_PICKLE:
                raise ConfigError(f"its data.pkl is {_mib(pkl.file_size)}; a state dict's is a few KB "
                                  f"(at most {_mib(MAX_PICKLE)})")
            return io.BytesIO(z.read(pkl))
    with open(path, "rb") as fh:
        f = io.BytesIO(fh.read(MAX_PICKLE))
    try:
        head = [_Scan(f).load() for _ in range(3)]  # magic number, protocol version, system info
    except Exception:  # noqa: BLE001 - not torch's legacy format: torch.load refuses it itself
        return None
    return f if head[0] == LEGACY_MAGIC else None


def check_torch_file(path: Path, max_bytes: int, max_values: int, what: str = "") -> int:
    """Bound a file for torch.load: its zip entries inflate to at most `max_bytes`, its pickle
    declares storages of at most `max_bytes` and tensors of at most `max_values` values in all.
    Returns the values declared. A pickle this scan cannot parse is left to torch.load, which
    refuses it before any storage is read."""
    path = Path(path)
    check_zip(path, max_bytes, what)
    try:
        f = _torch_pickle(path)
    except ConfigError as exc:
        raise ConfigError(f"{what}{path.name} {exc}") from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ConfigError(f"{what}{path.name} is truncated or not a PyTorch file ({type(exc).__name__})") from None
    if f is None:
        return 0
    scan = _Scan(f)
    try:
        scan.load()
    except ConfigError as exc:
        raise ConfigError(f"{what}{path.name} {exc}") from None
    except Exception:  # noqa: BLE001 - torch.load classifies a pickle it cannot parse (code, modules, truncation)
        pass
    values = sum(math.prod(s) for s in scan.tensors)
    if scan.storage_bytes > max_bytes:
        raise ConfigError(f"{what}{path.name} declares storages of {_mib(scan.storage_bytes)}; at most "
                          f"{_mib(max_bytes)} is read")
    if values > max_values:
        big = max(scan.tensors, key=math.prod)
        raise ConfigError(f"{what}{path.name} declares tensors of {values:,} values in all (one is "
                          f"{'×'.join(map(str, big))}); at most {max_values:,} are accepted")
    return values


# ---------------------------------------------------------------- numpy headers

def npy_header(f, name: str) -> tuple[tuple[int, ...], object]:
    """(shape, dtype) from an .npy stream's header, read without its data; ConfigError for a
    header that is not numpy's or longer than NPY_HEADER bytes."""
    import numpy as np
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = reader(f, max_header_size=NPY_HEADER)
    except ValueError as exc:
        if "max_header_size" in str(exc) or "large" in str(exc):
            raise ConfigError(f"{name}: its .npy header is longer than {NPY_HEADER:,} bytes; numpy writes "
                              "a few hundred") from None
        raise ConfigError(f"{name} is not a readable .npy array ({str(exc)[:120]})") from None
    return shape, dtype


def check_array(shape, dtype, max_values: int, name: str) -> None:
    """An array header that declares numbers, at most `max_values` of them, of at most 8 bytes each."""
    if dtype.hasobject:
        raise ConfigError(f"{name} holds Python objects, not numbers; save a numeric array "
                          "(np.save('x.npy', images.astype(np.uint8)))")
    if dtype.kind not in "uifb" or dtype.itemsize > 8:
        raise ConfigError(f"{name}: values of type {dtype} are not pixels")
    if math.prod(shape) > max_values:
        raise ConfigError(f"{name}: shape {'×'.join(map(str, shape))} declares {math.prod(shape):,} values; at most "
                          f"{max_values:,} are read")
