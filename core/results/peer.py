"""Side by side with a script users copy: `python -m core bench peer --script PATH`.

The peer's script trains under the same wall-time budget as our `bench quality` run of a variant,
on the same 50,000 training digits, with the same threads and cores, and its samples are scored
exactly as ours are (`score --samples`: the test split, 10k digits). The script needs a two-line
patch (core/peers/latent_lab_peer.py; README: "Side by side with the scripts users copy"): the
hook it imports hands it the wheel's training split as torchvision's MNIST, and its `tick()` in
the batch loop stops it on time and writes its samples. Nothing of the peer is shipped or vendored.

With `threads` × 2 cores free, the peer and ours train at the same time, each pinned to cores of its
own (swapped from seed to seed); otherwise one after the other, the order rotated from seed to seed.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from core.errors import ConfigError, RunError

HOOK_DIR = Path(__file__).resolve().parents[1] / "peers"
GRACE_S = 600.0  # past its budget: the script's start-up, its sampling, a slow machine


def check_script(path: str | Path) -> Path:
    """The script as a readable .py file that imports the hook (else: one line saying the patch)."""
    p = Path(path)
    if not p.is_file() or p.suffix != ".py":
        raise ConfigError(f"--script {path}: not a .py file")
    text = p.read_text(errors="replace")
    if "latent_lab_peer" not in text or ".tick(" not in text:
        raise ConfigError(f"--script {p.name} is not patched: add `import latent_lab_peer` after its imports and "
                          "`latent_lab_peer.tick(lambda n: generator(torch.randn(n, opt.latent_dim)))` as the first "
                          "line of its batch loop (README: Side by side with the scripts users copy)")
    return p


def write_training_split(folder: Path) -> Path:
    """The 50k training digits and labels our runs train on, as a plain .npz the hook reads."""
    import numpy as np

    from core.store.mnist import load_split
    x, y = load_split("train")
    path = folder / "mnist_train.npz"
    np.savez(path, x=x, y=y)
    return path


def _pinned(cpus: list[int]):
    from core.cores import pin
    return lambda: pin(cpus)  # in the child, before it runs anything


def start_peer(script: Path, seconds: float, seed: int, threads: int, cpus: list[int], n: int, folder: Path,
               data: Path) -> subprocess.Popen:
    """The script in `folder`/cwd/peer (its relative paths stay in `folder`), stopped by its hook."""
    cwd = folder / "cwd" / "peer"
    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LATENT_LAB_PEER_SECONDS": str(seconds), "LATENT_LAB_PEER_OUT": str(folder / "samples.npy"),
           "LATENT_LAB_PEER_N": str(n), "LATENT_LAB_PEER_SEED": str(seed), "LATENT_LAB_PEER_THREADS": str(threads),
           "LATENT_LAB_PEER_DATA": str(data),
           "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join([str(HOOK_DIR), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.Popen([sys.executable, str(script.resolve())], cwd=cwd, env=env, preexec_fn=_pinned(cpus),
                            stdout=open(folder / "log.txt", "w"), stderr=subprocess.STDOUT, start_new_session=True)


def start_ours(variant: str, seconds: float, seed: int, threads: int, cpus: list[int], n: int, overrides: dict,
               folder: Path) -> subprocess.Popen:
    """Our side: `bench quality` of the variant in a process of its own, pinned like the peer."""
    sets = [a for k, v in overrides.items() for a in ("--set", f"{k}={v}")]
    cmd = [sys.executable, "-m", "core", "bench", "quality", "--variant", variant, "--seconds", f"{seconds:g}",
           "--seed", str(seed), "--threads", str(threads), "--n", str(n), "--json", *sets]
    from core.store.files import ROOT
    return subprocess.Popen(cmd, cwd=ROOT, preexec_fn=_pinned(cpus), stdout=open(folder / "ours.json", "w"),
                            stderr=open(folder / "ours.log", "w"), start_new_session=True)


def _wait(proc: subprocess.Popen, seconds: float, what: str, log: Path) -> None:
    try:
        rc = proc.wait(seconds + GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        raise RunError(f"{what} did not stop {GRACE_S:.0f} s after its {seconds:g}-s budget (is latent_lab_peer.tick "
                       f"called in its batch loop?); its output: {log}") from None
    if rc != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.is_file() else []
        raise RunError(f"{what} exited with {rc}: {tail[0][:300] if tail else 'no output'} (all of it: {log})")


def peer_row(folder: Path, seed: int) -> dict:
    """The peer's samples scored like ours (score --samples), with its steps and wall time."""
    from core.eval.names import METRICS
    from core.eval.sample_files import score_samples
    out = folder / "samples.npy"
    if not out.is_file():
        raise RunError(f"the script ended without writing {out}: does its batch loop call latent_lab_peer.tick?")
    info = json.loads((folder / "samples.npy.json").read_text())
    res = score_samples(out)
    return {"seed": seed, "n": res["n"], **{k: res[k] for k in METRICS}, **info, "samples": str(out)}


def _run_pair(order: list[str], starts: dict, whats: dict, halves: list, together: bool, seconds: float) -> None:
    """Both sides at once, each on its half of the cores, or one after the other on the first half."""
    if together:
        procs = {who: starts[who](cpus) for who, cpus in zip(order, halves)}
        for who in order:
            _wait(procs[who], seconds, *whats[who])
    else:
        for who in order:
            _wait(starts[who](halves[0]), seconds, *whats[who])


def compare_peer(script: str | Path, variant: str, seconds: float = 540.0, seeds=(0, 1, 2), threads: int = 1,
                 n: int = 10_000, overrides: dict | None = None, folder: Path | None = None, on_row=None) -> dict:
    """The peer's script and our `variant`, `seconds` each per seed (see the module's text)."""
    from core.cores import allowed_cpus, first_cores
    from core.store.files import runs_dir
    script = check_script(script)
    first_cores(threads)  # enough of them, or one line now
    cpus = allowed_cpus()
    together = 2 * threads <= len(cpus)
    halves = [cpus[:threads], cpus[threads:2 * threads] or cpus[:threads]]
    folder = folder or runs_dir() / ".peers" / f"{time.strftime('%Y%m%d-%H%M%S')}-{script.stem}"
    folder.mkdir(parents=True, exist_ok=True)
    data = write_training_split(folder)
    peer_rows, our_rows = [], []
    for i, seed in enumerate(seeds):
        d = folder / f"seed{seed}"
        d.mkdir(exist_ok=True)
        starts = {"peer": lambda c, s=seed, d=d: start_peer(script, seconds, s, threads, c, n, d, data),
                  "ours": lambda c, s=seed, d=d: start_ours(variant, seconds, s, threads, c, n, overrides or {}, d)}
        whats = {"peer": (f"{script.name} (seed {seed})", d / "log.txt"), "ours": (variant, d / "ours.log")}
        order = ["peer", "ours"] if i % 2 == 0 else ["ours", "peer"]  # who goes first, or gets which cores
        _run_pair(order, starts, whats, halves, together, seconds)
        peer_rows.append(peer_row(d, seed))
        ours = json.loads((d / "ours.json").read_text())
        our_rows.append({**ours["runs"][0], **{k: ours[k] for k in ("threads", "cores", "cpus")}})
        if on_row:
            on_row(peer_rows[-1], our_rows[-1])
    res = summary(script.name, variant, seconds, list(seeds), threads, together, peer_rows, our_rows, str(folder))
    from core.store.files import write_json_atomic
    write_json_atomic(folder / "result.json", res)  # beside the logs and samples it summarises
    return res


def summary(script: str, variant: str, seconds: float, seeds: list, threads: int, together: bool,
            peer_rows: list[dict], our_rows: list[dict], folder: str) -> dict:
    """Medians (and ranges) of both sides' FIDs, and how far ours is ahead: (peer − ours) ÷ peer."""
    def side(rows):
        fids = [r["fid"] for r in rows]
        return {"fid": statistics.median(fids), "fid_min": min(fids), "fid_max": max(fids), "runs": rows}
    peer, ours = side(peer_rows), side(our_rows)
    return {"script": script, "variant": variant, "seconds": seconds, "seeds": seeds, "threads": threads,
            "cores": threads, "schedule": "side by side, each on cores of its own (swapped by seed)" if together
            else "one after the other (the order swapped by seed)",
            "peer": peer, "ours": ours, "ahead_pct": round(100 * (peer["fid"] - ours["fid"]) / peer["fid"], 1),
            "folder": folder}
