"""What scoring keeps on disk, read without torch: the classifier's sha256, the keys scores are
stored under (checkpoint and prior sha256, n, seed, classifier, metric version), a model's stored
scores and other stored measurements, the real-data floors, and the last scoring's time. The
dashboard's first page lists every model with its scores from these alone; scoring itself
(core.eval.score) writes them."""
from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path

from core.errors import CheckpointError
from core.store.checkpoint import file_sha256
from core.store.files import TRAINED, write_json_atomic
from core.store.mnist import CONTENT_SHA256, data_dir
from core.store.registry import prior_token, resolve

VERSION = 1  # bump when a metric's definition changes: cached scores carry it in their key
WEIGHTS = TRAINED / "classifier.pt"  # the shipped MNIST classifier (core.eval.classifier)
META = TRAINED / "classifier.json"
SHIPPED_REF = TRAINED / "reference"  # the test split's features and the floors, for the shipped classifier


def classifier_sha() -> str:
    """The shipped classifier's sha256 (recorded beside it): every score's cache key and fingerprint carry it."""
    if not WEIGHTS.is_file():
        raise CheckpointError(f"no classifier at {WEIGHTS}; train one with `python -m core classifier train`")
    return json.loads(META.read_text())["sha256"] if META.is_file() else file_sha256(WEIGHTS)


def cache_dir() -> Path:
    """Derived caches (reference statistics, the floor): $LATENT_LAB_CACHE, else the data cache."""
    env = os.environ.get("LATENT_LAB_CACHE")
    return Path(env) if env else data_dir()


def read_json(path: Path) -> dict:
    """A cache file's content, or {} when it is missing, corrupt or not an object (then it is
    rewritten)."""
    try:
        out = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def floor_key(n: int, seed: int, classifier: str, data: str = CONTENT_SHA256) -> str:
    """What a real-data floor is computed from: the metric version, the classifier, the data, n and seed."""
    return f"v{VERSION};classifier={classifier[:16]};data={data[:16]};n={n};seed={seed}"


def floor_path(key: str) -> Path:
    """Where the user's cache keeps a floor computed on this machine."""
    return cache_dir() / f"floor_{key.replace(';', '_').replace('=', '')}.json"


def known_floor(key: str, shipped_dir: Path = SHIPPED_REF) -> dict | None:
    """The floor of `key`: shipped (trained/reference/floor.json) or in the user's cache; None if neither."""
    found = (read_json(shipped_dir / "floor.json").get("floors") or {}).get(key) or read_json(floor_path(key))
    return found if found.get("key") == key else None


def stored_floor(n: int = 10_000, seed: int = 0) -> dict | None:
    """The real-data floor of this classifier and data at n and seed, if one is shipped or cached
    (core.eval.score.score_real computes it when not)."""
    return known_floor(floor_key(n, seed, classifier_sha()))


def is_shipped(path: Path) -> bool:
    return path.resolve().is_relative_to(TRAINED.resolve())


def sha_of(path: Path) -> str:
    """A file's sha256, hashed once per version of the file (its size and mtime)."""
    st = Path(path).stat()
    return _sha_memo(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha_memo(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(Path(path))


def cache_slot(model: str, n: int, seed: int, prior: str | None):
    """(checkpoint path, cache key, [score files to read], score file to write or None).
    A run's or a user's model.pt keeps its scores beside it; a shipped model's scores.json is
    read but new scores go to $LATENT_LAB_CACHE/scores/<name>.json."""
    ckpt_path = resolve(model)
    key = (f"v{VERSION};ckpt={sha_of(ckpt_path)[:16]};n={n};seed={seed};"
           f"classifier={classifier_sha()[:16]}")
    if prior:
        key += f";prior={prior}:{prior_token(model, prior, lambda p: sha_of(p)[:16])}"
    if ckpt_path.name not in ("checkpoint.pt", "model.pt"):
        return ckpt_path, key, [], None
    beside = ckpt_path.parent / "scores.json"
    if is_shipped(ckpt_path):
        user = cache_dir() / "scores" / f"{ckpt_path.parent.name}.json"
        return ckpt_path, key, [beside, user], user
    return ckpt_path, key, [beside], beside


def cache_key(model: str, n: int = 10_000, seed: int = 0) -> str:
    """The key under which a model's scores are stored (what `zoo export` ships)."""
    return cache_slot(model, n, seed, None)[1]


def stored_in(files: list[Path], key: str) -> dict | None:
    return next((d[key] for d in map(read_json, files) if key in d), None)


def stored_slot(model: str, what: str, n: int, seed: int, prior: str | None = None):
    """(key, files read, file written) of a measurement stored beside a model's scores."""
    _, key, files, cache = cache_slot(model, n, seed, prior)
    return f"{key};{what}", files, cache


def stored_only(model: str, what: str, n: int = 10_000, seed: int = 0, prior: str | None = None) -> dict | None:
    """A stored measurement (see `stored`), or None when it was never made for this checkpoint."""
    key, files, _ = stored_slot(model, what, n, seed, prior)
    return stored_in(files, key)


def cached_scores(model: str, n: int = 10_000, seed: int = 0, prior: str | None = None) -> dict | None:
    """A model's stored scores, or None if they were never computed (nothing is generated)."""
    _, key, files, _ = cache_slot(model, n, seed, prior)
    return stored_in(files, key)


def _timing_path() -> Path:
    return cache_dir() / "score_timing.json"


def record_timing(n: int, seconds: float) -> None:
    """Keep the wall time of the last scoring of n digits on this machine (loading, generating
    and scoring), for an honest estimate of the next one."""
    try:
        _timing_path().parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(_timing_path(), {**read_json(_timing_path()),
                                           str(n): {"seconds": round(seconds, 1), "date": time.strftime("%Y-%m-%d %H:%M")}})
    except OSError:
        pass  # an estimate is not worth failing a score over


def last_scoring(n: int = 10_000) -> dict | None:
    """{"seconds", "date"} of the last scoring of n digits on this machine, or None if none was timed."""
    rec = read_json(_timing_path()).get(str(n))
    return rec if isinstance(rec, dict) and isinstance(rec.get("seconds"), (int, float)) else None
