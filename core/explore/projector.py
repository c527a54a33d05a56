"""UMAP and t-SNE fits, in this process or in a worker process of their own.

umap-learn brings numba and llvmlite: about 310 MB of the app server's memory before a single
map, plus its compiled kernels. The dashboard sets OUT_OF_PROCESS, so the fits run in one
long-lived worker (`python -m core.explore.projector`, numpy and umap only, no torch), which exits after
IDLE_S without work and is started again by the next map. The CLI and the tests fit in-process.
The exact kNN graph UMAP uses is computed by the caller (core.explore.maps, with torch) and sent along.

umap-learn compiles its numba kernels in every new process (~11 s of one core) and caches none of
them; `import_umap` makes numba cache them on disk (numba's own cache, keyed by each kernel's source
file and this CPU: beside the installed package, or in NUMBA_CACHE_DIR), so a new worker pays ~3 s
instead. `python -m core data prepare` fills that cache once (~15 s) on a new install.

Protocol: one JSON line per request on the worker's stdin, {"in": npz path, "out": npy path,
"method", "seed", "param"}; one JSON line back, {"ok": true} or {"error": "..."}.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

OUT_OF_PROCESS = False  # the dashboard's server sets it (app.py)
IDLE_S = 600.0  # the worker exits after this long without a request (its memory goes back)
# t-SNE: 250 early-exaggeration + 250 normal iterations (the library's default is 500 normal ones;
# on 10k MNIST points the map is settled well before, at half the time)
TSNE_ITER = 250
# UMAP: 200 layout epochs at every size (umap-learn's own choice above 10k points; below, it runs
# 500, which took 1.4 s of a 1000-digit map's 2.2 s on the dashboard's first Latent map visit)
UMAP_EPOCHS = 200


def fit(method: str, x: np.ndarray, seed: int, param: float, knn: tuple | None = None) -> np.ndarray:
    """N×2 map of x here: 'umap' (param = n_neighbors; knn = (indices, distances) precomputed)
    or 'tsne' (param = perplexity)."""
    import warnings
    if method == "tsne":
        from openTSNE import TSNE
        return np.asarray(TSNE(perplexity=min(param, (len(x) - 1) / 3), n_iter=TSNE_ITER, n_jobs=-1,
                               random_state=seed, negative_gradient_method="fft" if len(x) > 2000 else "bh",
                               verbose=False).fit(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap warns that a seed disables its parallelism
        umap = import_umap()
        return umap.UMAP(n_neighbors=int(param), random_state=seed, n_jobs=1, n_epochs=UMAP_EPOCHS,
                         precomputed_knn=(knn[0], knn[1], None) if knn is not None else (None, None, None),
                         init="pca" if len(x) > 20 else "random").fit_transform(x)


def import_umap():
    """umap-learn, its numba kernels compiled with cache=True (numba.njit's default is False and
    umap sets none): patched before umap's first import in this process, a no-op afterwards."""
    if "umap" not in sys.modules:
        import numba
        plain = numba.njit

        def njit(*args, **kw):
            kw.setdefault("cache", True)
            return plain(*args, **kw)

        numba.njit = njit
        try:
            import umap
        finally:
            numba.njit = plain  # only umap's (and pynndescent's) kernels are declared with it
    import umap
    return umap


def _serve() -> None:
    replies, sys.stdout = sys.stdout, sys.stderr  # whatever a library prints never reaches the protocol
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], IDLE_S)
        if not ready:
            return  # idle: give the memory back; the next map starts a worker again
        line = sys.stdin.readline()
        if not line:
            return
        req = json.loads(line)
        try:
            with np.load(req["in"], allow_pickle=False) as d:
                knn = (d["ki"], d["kd"]) if "ki" in d.files else None
                y = fit(req["method"], d["x"], int(req["seed"]), float(req["param"]), knn)
            np.save(req["out"], np.ascontiguousarray(y, dtype=np.float32), allow_pickle=False)
            reply = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - any failure goes back to the caller as one line
            reply = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


class _Worker:
    def __init__(self):
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, "-m", "core.explore.projector"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                         cwd=Path(__file__).resolve().parents[2])
        return self.proc

    def run(self, method: str, x: np.ndarray, seed: int, param: float, knn: tuple | None) -> np.ndarray:
        from core.errors import ConfigError
        with self.lock, tempfile.TemporaryDirectory(prefix="latent-lab-projector-") as tmp:
            src, out = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npy")
            np.savez(src, x=x, **({"ki": knn[0], "kd": knn[1]} if knn is not None else {}))
            req = json.dumps({"in": src, "out": out, "method": method, "seed": seed, "param": param}) + "\n"
            for _attempt in (0, 1):  # a worker that exited (idle, or killed) is started again, once
                proc = self._start()
                try:
                    proc.stdin.write(req)
                    proc.stdin.flush()
                    reply = proc.stdout.readline()
                except (BrokenPipeError, OSError):
                    reply = ""
                if reply:
                    break
                proc.wait(timeout=10)
                self.proc = None
            if not reply:
                raise ConfigError(f"the {method} worker process died twice while fitting {len(x)} points")
            res = json.loads(reply)
            if "error" in res:
                raise ConfigError(f"{method} failed: {res['error']}")
            return np.load(out, allow_pickle=False)

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None


WORKER = _Worker()


def run(method: str, x: np.ndarray, seed: int, param: float, knn: tuple | None = None) -> np.ndarray:
    """A map of x, fitted in the worker when OUT_OF_PROCESS is set, else here."""
    if OUT_OF_PROCESS:
        return WORKER.run(method, np.ascontiguousarray(x, dtype=np.float32), seed, param, knn)
    return fit(method, x, seed, param, knn)


if __name__ == "__main__":
    _serve()
