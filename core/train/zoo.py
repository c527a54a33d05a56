"""The pretrained zoo: one model per variant in trained/<variant>/, indexed by trained/zoo.json.

    trained/<variant>/model.pt     generator + critic (int8 per row, else float16) + prior, in
                                   checkpoint format (no optimiser state), weights_only=True
    trained/<variant>/config.json  the full config, the command that made it, device, seconds
    trained/<variant>/curves.json  per-epoch means of the logged training curves
    trained/<variant>/samples.png  a 10×10 grid from the fixed evaluation noise
    trained/<variant>/scores.json  scores on 10k samples (seed 0), keyed like a run's
    trained/<variant>/timeline.*   the training timeline (core/train/timeline.py), if it was recorded

A zoo name (= the variant name) is accepted wherever a MODEL is.
"""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import CheckpointError, ConfigError
from core.eval.fingerprints import fingerprint
from core.eval.names import METRICS
from core.gan.variants import RECIPES, VARIANTS, complete_saved, get_variant, make_config, recipe_of, seed_recipe
from core.store.checkpoint import FORMAT, compact, is_compact, load, save_atomic
from core.store.files import TRAINED, write_bytes_atomic, write_json_atomic
from core.store.registry import load_model, zoo_dir
from core.store.runs import Run

if TYPE_CHECKING:  # torch where models are scored or loaded: reading zoo.json (the app's first page) needs none
    import torch

INDEX = TRAINED / "zoo.json"
# Epochs per variant for `zoo train`: the seeds' recipes, shortened to the CPU budget of the
# zoo issue (about 5 CPU-hours in all on 2 cores); each stays well under an hour.
ZOO_EPOCHS = {v: 40 for v in VARIANTS} | {
    # the best model got 40 more: FID 0.150 -> 0.103, recall 0.60 -> 0.69 (n 10k, 2026-11-22)
    "gm-dynamic": 80,
    # added 2026-12-02 (issue 14) with less CPU time than the others: shorter, and said so in
    # the leaderboard's epochs column. gm-static-cluster collapses (FID 45 after 6 epochs, 71
    # after 20, class KL 1.96: D wins, G's cross-entropy toward its cluster stays ~11), as
    # seed 004's unsupervised static GM-GAN did (their Table 3: FID 251.6)
    "wgan": 20, "gm-static-sup": 20, "gm-static-cluster": 20}
# Where the zoo departs from a variant's seed defaults, and why (measured here, 2026-11-22):
# gm-static with seed 002's tight prior (c 0.1, σ 0.15) collapsed to one blurred digit within
# the first epoch (D(fake) → 0, generator gradients → 0; FID 85.8, precision 0 after 40
# epochs); after 4 epochs c 1, σ 1 (seed 004's static setting) scored FID 12.9 against 33.6
# (c 0.1, σ 0.15, seed 1), 23.7 (σ 0.5) and 31.9 (c 1, σ 0.5).
# Every model was first trained with its seed's recipe (no generator EMA, the seed's batch);
# `zoo train --recipe default --if-better` retrains one with today's defaults and ships it only
# if it beats the shipped model at equal epochs (each try is kept in zoo.json's "tries").
ZOO_FIXES: dict[str, dict] = {"gm-static": dict(prior_c=1.0, prior_sigma=1.0)}


def zoo_settings(name: str, recipe: str) -> dict:
    """Overrides of `name`'s defaults that `zoo train` uses: the recipe's, then the zoo's fixes."""
    if recipe not in RECIPES:
        raise ConfigError(f"recipe must be one of {', '.join(RECIPES)}, got {recipe!r}")
    return {**(seed_recipe(name) if recipe == "seed" else {}), **ZOO_FIXES.get(name, {})}


def _shipped_meta(name: str) -> dict:
    """trained/<name>/config.json (its training config, run_id, epochs…); {} if none is shipped."""
    try:
        return json.loads((zoo_dir(name) / "config.json").read_text())
    except (OSError, ValueError):
        return {}


def shipped_config(name: str) -> dict | None:
    """The config the shipped model of `name` was trained with (None if none is shipped)."""
    cfg = _shipped_meta(name).get("config")
    return complete_saved(cfg) if cfg else None


def shipped_recipe(name: str) -> str | None:
    cfg = shipped_config(name)
    return recipe_of(cfg) if cfg else None


def zoo_config(name: str, recipe: str | None, epochs: int) -> dict:
    """What `zoo train` trains: `recipe` ("default", "seed") with the zoo's fixes, or with None
    the shipped model's own config (today's defaults where none is shipped)."""
    cfg = shipped_config(name) if recipe is None else None
    base = {k: v for k, v in cfg.items() if k != "variant"} if cfg else zoo_settings(name, recipe or "default")
    return make_config(name, {**base, "epochs": epochs})


SCORE_N, SCORE_SEED = 10_000, 0
# How far a compact (int8) model's scores may move from the full-precision ones on the same
# noise (n 10k, seed 0): |Δ| ≤ absolute + relative·|score|. Within the sampling noise at n 10k:
# between noise seeds 0 and 1, vanilla, gm-dynamic, wgan-sn and gm-static-wgan moved by
# 0.001–0.16 FID, 0.003–0.011 precision, 0.001–0.10 recall, 0.001–0.013 coverage (2026-12-04).
NOISE = {"fid": (0.02, 0.01), "precision": (0.01, 0.0), "recall": (0.01, 0.0), "density": (0.01, 0.01),
         "coverage": (0.01, 0.0), "class_kl": (0.003, 0.02)}


def within_noise(a: dict, b: dict) -> bool:
    """Scores `a` match `b` within NOISE (a compact model against its full-precision self)."""
    return all(abs(a[k] - b[k]) <= tol + rel * abs(b[k]) for k, (tol, rel) in NOISE.items())


def _save_smallest(model: dict, g: dict, d: dict, name: str, full: dict) -> dict:
    """Save `model` with G and D int8 (`compact`) if that keeps its scores within NOISE of
    `full`, else float16 if that keeps them (to 1e-3), else float32; returns the final scores."""
    from core.eval.score import score_model
    out = zoo_dir(name) / "model.pt"
    half = {k: v.half() if v.is_floating_point() else v for k, v in g.items()}, \
        {k: v.half() if v.is_floating_point() else v for k, v in d.items()}
    for G, D, ok in ((compact(g), compact(d), within_noise),
                     (*half, lambda a, b: all(abs(a[k] - b[k]) <= 1e-3 * max(1.0, abs(b[k])) for k in NOISE)),
                     (g, d, None)):
        save_atomic({**model, "G": G, "D": D}, out)
        scores = score_model(name, n=SCORE_N, seed=SCORE_SEED, use_cache=False)
        if ok is None or ok(scores, full):
            return scores
    raise AssertionError("unreachable")


def _dtype(name: str) -> str:
    import torch
    sd = torch.load(zoo_dir(name) / "model.pt", map_location="cpu", weights_only=True)
    return "int8" if is_compact(sd["G"]) else str(next(iter(sd["G"].values())).dtype)


def compact_shipped(names: list[str] | None = None) -> list[dict]:
    """Rewrite shipped models in the smallest form that keeps their scores (`_save_smallest`)
    and their timelines with the grids a shipped one keeps (`timeline.thin_grids`); models'
    scores before (the full-precision file's, rescored now) and after go in zoo.json."""
    import torch

    from core.eval.score import score_model
    from core.eval.score_files import cache_key
    from core.train.timeline import GRID_EVERY, GRID_EVERY_UNTIL, thin_grids
    idx, report = index(strict=True), []
    for name in names or list(idx):
        if (zoo_dir(name) / "timeline.npz").is_file() and (saved := thin_grids(zoo_dir(name) / "timeline.npz")):
            print(f"{name}: timeline {saved / 1e6:.2f} MB smaller (grids of epochs 1-{GRID_EVERY_UNTIL}, "
                  f"then every {GRID_EVERY}th)",
                  file=sys.stderr)
        path = zoo_dir(name) / "model.pt"
        raw = torch.load(path, map_location="cpu", weights_only=True)
        if is_compact(raw["G"]):
            continue
        size0 = path.stat().st_size
        full = score_model(name, n=SCORE_N, seed=SCORE_SEED, use_cache=False)
        sd = load(path)
        scores = _save_smallest({k: v for k, v in raw.items() if k not in ("G", "D")}, sd["G"], sd["D"], name, full)
        entry = idx[name]
        entry["dtype"] = _dtype(name)
        entry["scores"] = {k: scores[k] for k in (*METRICS, "cond_acc", "n", "seed")}
        entry["scores_full_precision"] = {k: full[k] for k in NOISE}
        write_json_atomic(zoo_dir(name) / "scores.json", {cache_key(name, SCORE_N, SCORE_SEED): scores})
        write_json_atomic(INDEX, idx)
        report.append({"model": name, "dtype": entry["dtype"], "bytes_before": size0, "bytes": path.stat().st_size,
                       **{f"{k}_before": full[k] for k in NOISE}, **{k: scores[k] for k in NOISE}})
        print(f"{name}: {size0 / 1e6:.2f} MB -> {path.stat().st_size / 1e6:.2f} MB ({entry['dtype']}), FID "
              f"{full['fid']:.4f} -> {scores['fid']:.4f}", file=sys.stderr)
    return report


def _read_index() -> tuple[dict, dict]:
    """(the valid entries of trained/zoo.json, {name or the file: why} for what is left out)."""
    try:
        idx = json.loads(INDEX.read_text()) if INDEX.is_file() else {}
        if not isinstance(idx, dict):
            raise ValueError(f"it holds a {type(idx).__name__}, not an object")
    except (OSError, ValueError) as exc:
        return {}, {INDEX.name: str(exc)[:120]}
    bad = {k: why for k, v in idx.items() if (why := _entry_problem(v))}
    return {k: v for k, v in idx.items() if k not in bad}, bad


def _entry_problem(e) -> str | None:
    if not isinstance(e, dict) or not isinstance(e.get("scores"), dict) or not isinstance(e.get("epochs"), int):
        return "not an object with its epochs and scores"
    if not all(isinstance(e["scores"].get(k), (int, float)) for k in LEADER_COLS[5:-1]):
        return "its scores are not numbers"
    return None


def index(strict: bool = False) -> dict:
    """trained/zoo.json: {model: entry}. A damaged entry (or file) is left out, and named by
    `index_problems`; `strict` (the writers, which must not overwrite it): a ConfigError instead."""
    idx, bad = _read_index()
    if strict and bad:
        raise ConfigError(f"{INDEX} is damaged ({'; '.join(f'{k}: {v}' for k, v in bad.items())}); restore it "
                          f"(git checkout {INDEX.name}) before writing it")
    return idx


def index_problems() -> list[str]:
    """'name: why' for each part of zoo.json that `index` leaves out."""
    return [f"{k}: {v}" for k, v in _read_index()[1].items()]


def curves_of(run: Run) -> dict:
    """Per-epoch means of every logged curve: compact enough to ship."""
    path = run.path / "metrics.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        # a row logged at fractional epoch 3.4 belongs to epoch 4; one at exactly 3.0 to epoch 3
        rows = db.execute("SELECT MAX(1, CAST(epoch + 0.999999 AS INTEGER)) AS e, key, AVG(value) FROM metrics "
                          "WHERE step > 0 AND key NOT LIKE 'tl!_%' ESCAPE '!' GROUP BY e, key ORDER BY e").fetchall()
    out: dict[str, list] = {}
    for e, k, v in rows:
        out.setdefault(k, []).append([e, round(v, 6)])
    return out


def train_args(cfg: dict) -> list[str]:
    """`train` arguments that rebuild `cfg`: its variant, epochs and every value that differs
    from the variant's defaults (a resumed or extended run included: resume is bit-exact, so
    the straight run gives the same weights)."""
    base = make_config(cfg["variant"])
    sets = [arg for k, v in cfg.items() if k not in ("variant", "epochs") and v != base[k]
            for arg in ("--set", f"{k}={v}")]
    return ["train", "--variant", cfg["variant"], "--epochs", str(cfg["epochs"]), *sets]


def train_command(cfg: dict, device: str | None = None) -> str:
    return " ".join(["python -m core", *train_args(cfg), *(["--device", device] if device else [])])


def export(run_id: str, name: str | None = None, force: bool = False, if_better: bool = False) -> Path | None:
    """Copy a finished run into trained/<variant>/ (weights in int8 per row if that keeps the
    scores within NOISE, else float16 if that leaves them unchanged, else float32), score it on
    10k samples and update zoo.json (with the full-precision scores beside the shipped ones).
    `if_better`: only if its FID beats the shipped model's at the same epochs; either way the
    try is recorded in zoo.json's "tries" of that model. Returns the folder, or None if not shipped."""
    from core.eval.score import score_model
    from core.eval.score_files import cache_key
    run = Run.open(run_id)
    if run.status()["status"] != "done" and not force:
        raise CheckpointError(f"run {run_id} is {run.status()['status']}, not done: only finished runs are "
                              "shipped (force=True to override)")
    sd = load(run.checkpoint_path)
    cfg = sd["config"]
    name = name or cfg["variant"]
    get_variant(name)
    idx = index(strict=True)
    old = idx.get(name)
    if if_better and old and old["epochs"] != sd["epoch"]:
        raise ConfigError(f"run {run_id} has {sd['epoch']} epochs and the shipped {name} {old['epochs']}: "
                          "--if-better compares at equal epochs")
    out = zoo_dir(name)
    out.mkdir(parents=True, exist_ok=True)
    full = score_model(str(run.checkpoint_path), n=SCORE_N, seed=SCORE_SEED, use_cache=False)
    tries = (old or {}).get("tries", [])
    if old:  # what is shipped now, then this challenger
        tries = tries or [{"run_id": _shipped_meta(name).get("run_id"), "recipe": old.get("recipe") or shipped_recipe(name),
                           "epochs": old["epochs"], "fid": shipped_fid(old), "shipped": True}]
    better = not old or full["fid"] < shipped_fid(old)
    report = _report_on_another_seed(str(run.checkpoint_path), name) if old else {}
    tries = tries + [{"run_id": run.id, "recipe": recipe_of(cfg), "epochs": sd["epoch"], "fid": full["fid"],
                      "decided_on_seed": SCORE_SEED, **report, "shipped": better or not if_better}]
    if if_better and not better:
        idx[name]["tries"] = tries
        write_json_atomic(INDEX, idx)
        return None
    g = sd["G_ema"] if sd.get("G_ema") is not None else sd["G"]  # with ema on, the EMA generator is shipped
    model = {"format": FORMAT, "config": cfg, "step": sd["step"], "epoch": sd["epoch"],
             "train_seconds": sd["train_seconds"], "prior": sd["prior"]}
    scores = _save_smallest(model, g, sd["D"], name, full)
    write_json_atomic(out / "scores.json", {cache_key(name, SCORE_N, SCORE_SEED): scores})  # shipped with it
    st = run.status()
    write_json_atomic(out / "config.json", {
        "variant": name, "config": cfg, "epochs": sd["epoch"], "steps": sd["step"], "device": st.get("device"),
        "train_seconds": round(sd["train_seconds"], 1), "run_id": run.id,
        "command": train_command(cfg, st.get("device"))})
    write_json_atomic(out / "curves.json", curves_of(run))
    from core.train.timeline import export as export_timeline
    if not export_timeline(run, out, fingerprint(name)):  # a model retrained without the recorder keeps no stale timeline
        for f in ("timeline.json", "timeline.npz"):
            (out / f).unlink(missing_ok=True)
    grid = run.latest_sample()
    if grid:
        write_bytes_atomic(out / "samples.png", grid.read_bytes())
    idx = index(strict=True)
    idx[name] = {"path": f"{name}/model.pt", "epochs": sd["epoch"], "device": st.get("device"),
                 "train_seconds": round(sd["train_seconds"], 1), "dtype": _dtype(name), "recipe": recipe_of(cfg),
                 "scores": {k: scores[k] for k in (*METRICS, "cond_acc", "n", "seed")},
                 "scores_full_precision": {k: full[k] for k in NOISE},
                 **({"tries": [dict(t, shipped=t is tries[-1]) for t in tries]} if len(tries) > 1 else {})}
    write_json_atomic(INDEX, dict(sorted(idx.items(), key=lambda kv: list(VARIANTS).index(kv[0]))))
    return out


REPORT_SEED = SCORE_SEED + 1  # --if-better decides on SCORE_SEED's FID and reports both models' on this one


def _report_on_another_seed(challenger: str, name: str) -> dict:
    """The challenger's and the shipped model's FID on REPORT_SEED (before anything is overwritten):
    the choice is made on SCORE_SEED, so the number reported is not the one it was made on."""
    from core.eval.score import score_model
    return {"report_seed": REPORT_SEED,
            "fid_report": score_model(challenger, n=SCORE_N, seed=REPORT_SEED, use_cache=False)["fid"],
            "rival_fid_report": score_model(name, n=SCORE_N, seed=REPORT_SEED)["fid"]}


def shipped_fid(entry: dict) -> float:
    """A zoo.json entry's full-precision FID (what a challenger is compared with)."""
    return entry.get("scores_full_precision", entry["scores"])["fid"]


def lost_default_try(name: str) -> dict | None:
    """The last `zoo train --recipe default --if-better` try of `name` that was not shipped
    (the shipped model beat it at equal epochs), with the FID it lost to beside it."""
    entry = index().get(name, {})
    lost = [t for t in entry.get("tries", []) if t.get("recipe") == "default" and not t.get("shipped")]
    return dict(lost[-1], shipped_fid=shipped_fid(entry)) if lost else None


LEADER_COLS = ["variant", "recipe", "epochs", "device", "train_seconds", *METRICS, "cond_acc"]


def leaderboard() -> list[dict]:
    """The real-data floor first, then every zoo model by FID."""
    from core.eval.score import score_real
    floor = score_real(n=SCORE_N, seed=SCORE_SEED)
    rows = [{"variant": "real data (floor)", "recipe": None, "epochs": None, "device": None, "train_seconds": None,
             **{k: floor[k] for k in LEADER_COLS[5:]}}]
    models = [{"variant": name, "recipe": e.get("recipe"), "epochs": e["epochs"], "device": e.get("device"),
               "train_seconds": e.get("train_seconds"), **{k: e["scores"].get(k) for k in LEADER_COLS[5:]}}
              for name, e in index().items()]
    return rows + sorted(models, key=lambda r: r["fid"])


def train_subprocess(cfg: dict, device: str = "auto") -> str:
    """Train `cfg` in its own `python -m core train` process (a crash or an out-of-memory kill
    stays there); returns the run id."""
    res = subprocess.run([sys.executable, "-m", "core", *train_args(cfg), "--device", device, "--quiet"],
                         capture_output=True, text=True)
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise CheckpointError(f"training {cfg['variant']} did not finish (exit {res.returncode}): {last}")
    return res.stdout.strip().splitlines()[0]


def train(variants: list[str] | None = None, epochs: int | None = None, device: str = "auto",
          recipe: str | None = None, if_better: bool = False) -> list[str]:
    """Retrain zoo models one at a time, each in its own `python -m core train` process, and
    export each as soon as it finishes (so an interrupted zoo run keeps what it made). `recipe`
    ("default" or "seed"; None: the one each shipped model was trained with) and the zoo's
    fixes; `if_better`: ship only what beats the shipped model at equal epochs. Returns the
    names shipped."""
    done = []
    for name in variants or list(VARIANTS):
        n_ep = epochs or ZOO_EPOCHS[name]
        t0 = time.time()
        cfg = zoo_config(name, recipe, n_ep)
        shipped = export(train_subprocess(cfg, device), name, if_better=if_better)
        print(f"{name}: {n_ep} epochs in {time.time() - t0:.0f} s -> "
              f"{shipped or 'not shipped (the shipped model is better)'}", file=sys.stderr)
        if shipped:
            done.append(name)
    return done


def check_loadable(name: str) -> torch.Tensor:
    """Load a zoo model with weights_only=True and generate 8 digits (N×784, in [-1, 1])."""
    import torch

    from core.gan.sampling import generate
    m = load_model(name)
    return generate(m.G, m.prior, 8, generator=torch.Generator().manual_seed(0))[0]
