"""Sweeps on Ray Tune: one variant trained over a grid (and random draws) of knobs × seeds, or
one model's post-training knob swept (EM components, DRS/DOT knobs). Ray runs embedded on this
machine when no address is given (`ray.init()` starts it) and joins a cluster with `address`.

    runs/.sweeps/<name>/sweep.json        the spec, its status, the driver's pid, times
    runs/.sweeps/<name>/trials/<id>.json  each trial: its knobs, status, quick scores, final scores
    runs/.sweeps/<name>/ray/              Ray Tune's experiment storage (restored after a kill)
    runs/.sweeps/<name>/cancel            present: cancel requested (trials checkpoint and stop)
    runs/<run id>/                        a training trial: an ordinary run tagged with its sweep

Each training trial reports a quick score (classifier-feature FID on `quick_n` digits) at every
epoch's checkpoint, so ASHA can stop the bad ones early; the final score is `score_model`'s.
A trial that diverges ends `failed` and the sweep goes on. Running the same sweep again after
its driver was killed restores it: finished trials are not rerun, interrupted ones resume from
their run's checkpoint.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import re
import signal
import threading
import time
from pathlib import Path

from core.errors import ConfigError, LabError, RunError, TrainingFailed
from core.gan.variants import make_config
from core.store.files import ROOT, runs_dir, write_json_atomic
from core.store.runs import Run, list_runs, pid_alive
from core.sweeps.check import MAX_TRIALS, check_refine, check_spec, check_trials, clean_trial, range_limit

INTERRUPTED = "the training process exited without finishing"  # what Run.status says of a dead writer

KINDS = ("train", "refit", "refine")
SCHEDULERS = ("none", "asha")
METRICS = ("fid", "precision", "recall", "density", "coverage", "class_kl")
ENDED = ("done", "failed", "stopped", "cancelled")  # a trial in one of these will not change again
MAXIMISE = ("precision", "recall", "density", "coverage")
DISTRIBUTIONS = ("loguniform", "uniform")
ENV_KEYS = ("LATENT_LAB_RUNS", "LATENT_LAB_CACHE", "LATENT_LAB_DATA", "LATENT_LAB_IMPORTED")
NAME_RE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}"


def sweeps_dir() -> Path:
    return runs_dir() / ".sweeps"


def sweep_dir(name: str) -> Path:
    if not re.fullmatch(NAME_RE, name or ""):
        raise ConfigError(f"sweep name {name!r}: use letters, digits, '.', '_' or '-'")
    return sweeps_dir() / name


# ---------------------------------------------------------------- the spec

def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_grid(pairs: list[str]) -> dict[str, list]:
    """['prior_sigma=0.2,0.5', 'clip=0.01,0.1'] -> {'prior_sigma': [0.2, 0.5], 'clip': [0.01, 0.1]}."""
    out = {}
    for pair in pairs or []:
        key, sep, values = pair.partition("=")
        vals = [v.strip() for v in values.split(",") if v.strip()] if sep else []
        if not key.strip() or not vals:
            raise ConfigError(f"--grid takes key=v1,v2,…; got {pair!r}")
        out[key.strip()] = [_value(v) for v in vals]
    return out


def parse_random(pairs: list[str]) -> dict[str, list]:
    """['lr_g=loguniform:1e-5:1e-3'] -> {'lr_g': ['loguniform', 1e-05, 0.001]}."""
    out = {}
    for pair in pairs or []:
        key, _, spec = pair.partition("=")
        parts = spec.split(":")
        try:
            dist, lo, hi = parts[0], float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            raise ConfigError(f"--random takes key=loguniform:LOW:HIGH or key=uniform:LOW:HIGH; got {pair!r}") from None
        if dist not in DISTRIBUTIONS or len(parts) != 3 or not lo < hi or (dist == "loguniform" and lo <= 0):
            raise ConfigError(f"--random {pair}: a {' or '.join(DISTRIBUTIONS)} range LOW < HIGH "
                              "(LOW > 0 for loguniform)")
        out[key.strip()] = [dist, lo, hi]
    return out


def parse_range(text: str, max_trials: int = MAX_TRIALS) -> list[int]:
    """'1..20' or '1,2,5' -> [1, …] (a range is bounded before it is built)."""
    m = re.fullmatch(r"(\d+)\.\.(\d+)", text.strip())
    if m:
        range_limit(int(m.group(1)), int(m.group(2)), max_trials)
    try:
        vals = list(range(int(m.group(1)), int(m.group(2)) + 1)) if m else [int(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"expected A..B or a,b,c (integers); got {text!r}") from None
    if not vals or min(vals) < 1:
        raise ConfigError(f"expected positive integers; got {text!r}")
    return vals


def make_spec(kind: str = "train", variant: str | None = None, model: str | None = None, grid: dict | None = None,
              random: dict | None = None, samples: int = 1, seeds: list[int] | None = None,
              epochs: int | None = None, max_steps: int | None = None, scheduler: str = "none",
              metric: str = "fid", cpus_per_trial: int = 1, quick_n: int = 2000, score_n: int = 10_000,
              data_limit: int = 0, fixed: dict | None = None, name: str | None = None, method: str | None = None,
              n: int = 1000, max_trials: int = MAX_TRIALS) -> dict:
    """A sweep's spec, checked: every trial's config is validated before anything starts (the
    number of trials first: at most `max_trials`)."""
    if kind not in KINDS:
        raise ConfigError(f"sweep kind must be one of {', '.join(KINDS)}")
    if scheduler not in SCHEDULERS:
        raise ConfigError(f"--scheduler must be one of {', '.join(SCHEDULERS)}, got {scheduler!r}")
    if metric not in METRICS:
        raise ConfigError(f"--metric must be one of {', '.join(METRICS)}, got {metric!r}")
    grid, random, fixed, seeds = dict(grid or {}), dict(random or {}), dict(fixed or {}), list(seeds or [0])
    if not grid and not random and len(seeds) < 2:
        raise ConfigError("a sweep needs something to vary: --grid key=v1,v2, --random key=…, or --seeds 0,1")
    if cpus_per_trial < 1 or samples < 1 or quick_n < 11 or score_n < 11:
        raise ConfigError("--cpus-per-trial and --samples must be positive, --quick-n and --score-n at least 11")
    check_trials(grid, seeds, samples, max_trials)
    if kind == "train":
        make_config(variant or "", {**fixed, "data_limit": data_limit})  # the variant and fixed knobs
        for combo in itertools.product(*grid.values()):
            make_config(variant, {**fixed, **dict(zip(grid, combo)), "seed": seeds[0]})
        for key, (_dist, lo, hi) in random.items():
            make_config(variant, {**fixed, key: lo if isinstance(make_config(variant)[key], float) else int(lo)})
            make_config(variant, {**fixed, key: hi if isinstance(make_config(variant)[key], float) else int(hi)})
        epochs = epochs or make_config(variant, fixed)["epochs"]
    elif not model:
        raise ConfigError(f"a {kind} sweep needs a MODEL")
    elif kind == "refine":
        check_refine(method, grid)  # each knob is the method's, each value of its type and range
    name = name or "-".join([variant or Path(str(model)).stem, *grid, *random] + (["seeds"] if len(seeds) > 1 else [])
                            + [time.strftime("%Y%m%d-%H%M%S")])
    sweep_dir(name)  # checks the name
    return {"name": name, "kind": kind, "variant": variant, "model": model, "method": method, "grid": grid,
            "random": random, "samples": samples, "seeds": seeds, "epochs": epochs, "max_steps": max_steps,
            "scheduler": scheduler, "metric": metric, "cpus_per_trial": cpus_per_trial, "quick_n": quick_n,
            "score_n": score_n, "data_limit": data_limit, "fixed": fixed, "n": n}


def fingerprint_of(spec: dict) -> dict:
    """What a sweep's scores depend on: the swept model's checkpoint (refit, refine) and the
    classifier; a train sweep trains from scratch, so only the classifier that scored it."""
    from core.eval.fingerprints import fingerprint
    return fingerprint(*([spec["model"]] if spec["kind"] != "train" else []))


def n_trials(spec: dict) -> int:
    return math.prod(len(v) for v in spec["grid"].values()) * len(spec["seeds"]) * spec["samples"]


# ---------------------------------------------------------------- records on disk

def read_spec(name: str) -> dict:
    path = sweep_dir(name) / "sweep.json"
    try:
        rec = json.loads(path.read_text())
        if not isinstance(rec, dict):
            raise ValueError(f"it holds a {type(rec).__name__}, not an object")
        check_spec(rec.get("spec"), KINDS, METRICS)
        return rec
    except FileNotFoundError:
        raise RunError(f"no sweep {name!r} (see `python -m core sweep list`)") from None
    except (OSError, ValueError) as exc:
        raise RunError(f"sweep {name}: unreadable sweep.json ({exc})") from None


def _write_record(name: str, **fields) -> dict:
    path = sweep_dir(name) / "sweep.json"
    rec = {**(json.loads(path.read_text()) if path.is_file() else {}), **fields}
    write_json_atomic(path, rec)
    return rec


def trial_records(name: str) -> list[dict]:
    """Every trial of a sweep, with its run's live status (a training trial), oldest first."""
    out = []
    for p in sorted((sweep_dir(name) / "trials").glob("*.json")):
        try:
            t = clean_trial(json.loads(p.read_text()), p.stem)
        except (OSError, ValueError) as exc:  # written atomically: a bad one stays bad, and is listed as such
            t = {"trial": p.stem, "status": "unreadable", "reason": f"{p.name}: {str(exc)[:80]}"}
        if t.get("run_id"):
            try:
                st = Run.open(t["run_id"]).status()
                t["progress"] = (st.get("step") or 0) / max(1, st.get("total_steps") or 1)
                if t.get("status") == "running" and st.get("status") != "running":
                    # a process killed mid-training (its driver killed): the same sweep resumes it
                    t["status"] = "interrupted" if st.get("reason") == INTERRUPTED else st["status"]
            except (RunError, OSError, ValueError):
                t["status"] = "unreadable"
        out.append(t)
    return sorted(out, key=lambda t: t.get("started") or 0)


def _load_trial(name: str, trial_id: str) -> dict:
    path = sweep_dir(name) / "trials" / f"{trial_id}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _save_trial(name: str, trial_id: str, **fields) -> dict:
    path = sweep_dir(name) / "trials" / f"{trial_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = {**_load_trial(name, trial_id), **fields, "trial": trial_id}
    write_json_atomic(path, rec)
    return rec


def status(name: str, trials: list[dict] | None = None) -> dict:
    """The sweep's record with its trial counts by status and its driver's liveness (`trials`:
    its trial_records, when the caller has read them)."""
    rec = read_spec(name)
    trials = trial_records(name) if trials is None else trials
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.get("status", "?")] = counts.get(t.get("status", "?"), 0) + 1
    state = rec.get("status", "?")
    if state == "running" and not pid_alive(rec.get("pid"), rec.get("pid_start")):
        state = "interrupted"  # the driver died: the same command resumes it
    return {**rec, "name": name, "status": state, "trials": len(trials), "expected": n_trials(rec["spec"]),
            "counts": counts}


def list_sweeps() -> list[dict]:
    root = sweeps_dir()
    out = []
    for p in sorted(root.iterdir()) if root.is_dir() else []:
        if (p / "sweep.json").is_file():
            try:
                out.append(status(p.name))
            except (LabError, OSError, ValueError) as exc:
                out.append({"name": p.name, "status": "unreadable", "reason": str(exc)})
    return out


def cancel(name: str) -> str:
    """Ask a sweep to stop: running trials checkpoint and end `cancelled`; none starts after."""
    rec = read_spec(name)
    (sweep_dir(name) / "cancel").write_text(str(time.time()))
    if rec.get("status") == "running" and pid_alive(rec.get("pid"), rec.get("pid_start")):
        return "cancel requested: running trials checkpoint at their next log row and stop"
    return "cancel recorded (the sweep's driver is not running)"


def _cancelled(name: str) -> bool:
    return (sweep_dir(name) / "cancel").is_file()


def _driver_gone(name: str) -> bool:
    """Has this sweep's driver died (kill -9)? Known only on the driver's own machine; elsewhere
    Ray ends the orphaned trial itself."""
    try:
        rec = read_spec(name)
    except LabError:
        return False
    return (rec.get("status") == "running" and rec.get("host") == os.uname().nodename
            and not pid_alive(rec.get("pid"), rec.get("pid_start")))


# ---------------------------------------------------------------- one trial (in a Ray worker)

def quick_scores(G, prior, n: int, seed: int = 0) -> dict:
    """Scores of n digits from G (classifier-feature FID and the rest at that n)."""
    import torch

    from core.eval.score import score_images
    from core.gan.sampling import generate
    was = G.training
    G.eval()
    try:
        x, _ = generate(G, prior, n, generator=torch.Generator().manual_seed(seed))
        return {k: v for k, v in score_images(x, None, str(x.device)).items() if k in METRICS}
    finally:
        G.train(was)


def _trial_run(name: str, trial_id: str) -> Run | None:
    for run in list_runs():
        try:
            t = run.tags()
        except (RunError, OSError):
            continue
        if t.get("sweep") == name and t.get("trial") == trial_id:
            return run
    return None


def _worst(spec: dict) -> dict:
    """A report for a trial with no score (failed, cancelled): the metric's worst value, which
    Tune's strict metric check and a scheduler both accept."""
    return {spec["metric"]: 0.0 if spec["metric"] in MAXIMISE else float("inf")}


def _report(metrics: dict) -> None:
    from ray import tune
    tune.report({k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})


def _train_trial(spec: dict, params: dict, trial_id: str) -> dict:
    from core.train import engine
    from core.train.resume import restart, resume
    name = spec["name"]
    run = _trial_run(name, trial_id)
    if run is not None and run.status().get("status") == "done":  # trained, not yet scored, when it was killed
        return _save_trial(name, trial_id, status="done", scores=_final(run, spec))
    over = {**spec["fixed"], **params, "data_limit": spec["data_limit"], "epochs": spec["epochs"]}
    cfg = make_config(spec["variant"], over)
    argv = ["sweep", spec["variant"], "--name", name]
    if run is not None:  # interrupted (its driver was killed): from its checkpoint, or from step 0 if none
        again = resume if run.checkpoint_path.is_file() else restart
        trainer = again(run, device="auto", progress=False)
        run = trainer.run
    else:
        run = Run.create(cfg, argv=argv, tags={"sweep": name, "trial": trial_id})
        trainer = engine.Trainer(cfg, engine.resolve_device("auto"), run=run, progress=False)
    _save_trial(name, trial_id, run_id=run.id, status="running")
    history = [q for q in _load_trial(name, trial_id).get("quick", []) if q["epoch"] <= trainer.epoch]

    def on_epoch(t):
        q = quick_scores(t.G, t.prior, spec["quick_n"], seed=t.cfg["seed"])
        history.append({"epoch": t.epoch, **q})
        _save_trial(name, trial_id, quick=history, quick_n=spec["quick_n"])
        if t.epoch < spec["epochs"]:  # the last epoch is reported with the final score, after training
            _report({**q, "epoch": t.epoch})

    trainer.on_epoch = on_epoch
    trainer.stop_requested = lambda: _cancelled(name) or _ORPHANED.is_set()
    try:
        state = trainer.fit(max_steps=spec["max_steps"])
    except SystemExit:  # Ray ends a trial its scheduler stopped at its report (the epoch's checkpoint is written)
        reason = f"stopped early by ASHA after epoch {trainer.epoch}"
        run.set_status("cancelled", reason=reason, step=trainer.step, epoch=trainer.epoch,
                       train_seconds=trainer.train_seconds)
        _save_trial(name, trial_id, status="stopped", reason=reason, train_seconds=trainer.train_seconds)
        raise
    except TrainingFailed as exc:
        _report({**_worst(spec), "epoch": trainer.epoch})
        return _save_trial(name, trial_id, status="failed", reason=str(exc).splitlines()[0])
    finally:
        run.close()
    if state == "cancelled" and not _cancelled(name) and _ORPHANED.is_set():  # checkpointed; the same sweep resumes it
        run.set_status("failed", reason=INTERRUPTED, step=trainer.step, epoch=trainer.epoch,
                       train_seconds=trainer.train_seconds)
        return _save_trial(name, trial_id, status="interrupted", reason="the sweep's driver died")
    if state != "done":
        if not history:
            _report({**_worst(spec), "epoch": trainer.epoch})
        return _save_trial(name, trial_id, status=state)
    rec = _save_trial(name, trial_id, status="done", scores=_final(run, spec), train_seconds=trainer.train_seconds)
    _report({**rec["scores"], "epoch": trainer.epoch})  # a scheduler stops a trial at max_t here: it is done
    return rec


def _final(run: Run, spec: dict) -> dict:
    from core.eval.score import score_model
    final = score_model(run.id, n=spec["score_n"], seed=0)
    return {k: final[k] for k in (*METRICS, "class_hist", "n")}


def _refit_trial(spec: dict, params: dict, trial_id: str) -> dict:
    from core.explore.latent import invert_and_refit
    k = int(params["components"])
    res = invert_and_refit(spec["model"], n=spec["n"], k=k, steps=spec["fixed"].get("steps", 1000),
                           seed=int(params.get("seed", 0)), name=f"{spec['name']}-k{k}", score_n=spec["score_n"],
                           score_original=False)  # the trained prior's score is the same for every trial
    scores = {k_: res["refit"][k_] for k_ in (*METRICS, "class_hist", "n")}
    _report({k_: scores[k_] for k_ in METRICS})
    return _save_trial(spec["name"], trial_id, status="done", scores=scores, prior=res["prior"],
                       recon_rmse=res["recon_rmse_mean"])


def _refine_trial(spec: dict, params: dict, trial_id: str) -> dict:
    from core.explore.refine import refine_model
    knobs = {k: v for k, v in params.items() if k != "seed"}
    res = refine_model(spec["model"], spec["method"], n=spec["score_n"], seed=int(params.get("seed", 0)), **knobs)
    scores = {k: res["after"][k] for k in (*METRICS, "class_hist", "n")}
    _report({k: scores[k] for k in METRICS})
    return _save_trial(spec["name"], trial_id, status="done", scores=scores,
                       original={k: res["before"][k] for k in METRICS})


_ORPHANED = threading.Event()  # set in a trial's worker once its sweep's driver has died
ORPHAN_GRACE_S = 30.0  # what an orphaned trial gets to reach its next log row and checkpoint


def _watch_driver(name: str, finished: threading.Event) -> None:
    """A trial's watchdog. When the driver dies, the trial stops at its next log row (checkpoint,
    status 'interrupted': the same sweep command resumes it) and its process exits. Without it
    the worker trains on, then blocks for good in its next report (Tune's report waits for the
    driver to take the result), until Ray reaps it: over 6 minutes on a loaded 2-core machine."""
    while not finished.wait(1.0):
        if _driver_gone(name):
            _ORPHANED.set()
            finished.wait(ORPHAN_GRACE_S)  # its state is on disk; a report may block it for ever
            os._exit(0)


def trial(params: dict) -> None:
    """Ray Tune's trainable: one trial of the sweep named in params['_sweep']."""
    import torch
    from ray import tune
    params = dict(params)
    name = params.pop("_sweep")
    spec = read_spec(name)["spec"]
    torch.set_num_threads(spec["cpus_per_trial"])
    trial_id = tune.get_context().get_trial_id()
    done = _load_trial(name, trial_id)
    if done.get("status") in ("done", "failed", "stopped"):  # ended before the driver was killed: not rerun
        _report({**_worst(spec), **(done.get("scores") or {}),
                 "epoch": (done.get("quick") or [{}])[-1].get("epoch", 0)})
        return
    t0 = time.time()
    _save_trial(name, trial_id, params=params, status="running", started=t0, node=os.uname().nodename)
    if _cancelled(name):
        _save_trial(name, trial_id, status="cancelled", reason="the sweep was cancelled before it started")
        _report({**_worst(spec), "epoch": 0})
        return
    finished = threading.Event()
    threading.Thread(target=_watch_driver, args=(name, finished), daemon=True, name="driver-watch").start()
    try:
        {"train": _train_trial, "refit": _refit_trial, "refine": _refine_trial}[spec["kind"]](spec, params, trial_id)
    except LabError as exc:
        _save_trial(name, trial_id, status="failed", reason=str(exc).splitlines()[0])
        _report({**_worst(spec), "epoch": 0})
    finally:
        _save_trial(name, trial_id, wall_seconds=round(time.time() - t0, 2), ended=time.time())
        finished.set()


# ---------------------------------------------------------------- the driver

def _token_auth(address: str | None) -> None:
    """A cluster started with `ray start` wants its token (token authentication stays on); Ray
    reads the mode when it is imported, so this runs before the first `import ray`."""
    if address or os.environ.get("RAY_ADDRESS"):
        os.environ.setdefault("RAY_AUTH_MODE", "token")


def ray_init(address: str | None = None, num_cpus: int | None = None) -> float:
    """Start Ray on this machine (no address) or join a cluster; returns the seconds it took.
    Workers see this project's code and stores through their environment."""
    _token_auth(address)
    import ray
    if ray.is_initialized():
        return 0.0
    t0 = time.perf_counter()
    env = {k: os.environ[k] for k in ENV_KEYS if k in os.environ}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    address = address or os.environ.get("RAY_ADDRESS") or None
    # no address: a new Ray of our own ("local"), never a leftover `ray start` cluster found on disk
    kw = {} if address else {"num_cpus": num_cpus or os.cpu_count(), "include_dashboard": False}
    if address:
        _probe(address)  # a port where nothing listens would keep ray.init waiting for ever
    try:
        ray.init(address=address or "local", runtime_env={"env_vars": env}, log_to_driver=False,
                 logging_level="ERROR", configure_logging=True, **kw)
    except ConnectionError as exc:
        raise RunError(f"could not join the Ray cluster at {address}: {str(exc).splitlines()[0][:200]} (is it "
                       "running, and is its token in $RAY_AUTH_TOKEN or ~/.ray/auth_token?)") from None
    except Exception as exc:  # noqa: BLE001 - Ray's start-up failures (a timed-out node, a bad address): one line
        from core.sweeps.check import fsize_limit
        lim = fsize_limit()
        raise RunError(f"Ray did not start{f' at {address}' if address else ''}: {(str(exc).splitlines() or [''])[0][:200]}"
                       + (f" (the file-size limit, ulimit -f, is {lim / 2**20:.0f} MiB)" if lim is not None else "")) \
            from None
    if not address:  # a Ray of our own: stopped by a watcher if this driver dies without shutting it down
        from core.sweeps import reaper as ray_reaper
        try:
            ray_reaper.start(ray._private.worker._global_node.session_name)
        except (AttributeError, OSError):
            pass  # another Ray's internals, or no /proc: its processes are left to Ray itself
    return time.perf_counter() - t0


def _probe(address: str) -> None:
    """RunError, within seconds, unless something listens at the cluster's address ('auto': the
    one Ray recorded on this machine)."""
    from core.sweeps.check import reachable
    if address.startswith("ray://"):
        return reachable(address)
    try:
        from ray._private.services import canonicalize_bootstrap_address
        resolved = canonicalize_bootstrap_address(address) or address
    except (ImportError, AttributeError):
        resolved = address
    except (ConnectionError, ValueError) as exc:
        raise RunError(f"could not find the Ray cluster {address!r}: {str(exc).splitlines()[0][:200]}") from None
    reachable(resolved if resolved != "auto" else "", shown=address)


def _param_space(spec: dict) -> dict:
    from ray import tune
    space = {k: tune.grid_search(v) for k, v in spec["grid"].items()}
    for k, (dist, lo, hi) in spec["random"].items():
        space[k] = tune.loguniform(lo, hi) if dist == "loguniform" else tune.uniform(lo, hi)
    if len(spec["seeds"]) > 1 or spec["kind"] == "train":
        space["seed"] = tune.grid_search(spec["seeds"])
    return {**space, "_sweep": spec["name"]}


def _scheduler(spec: dict):
    if spec["scheduler"] != "asha" or spec["kind"] != "train":
        return None
    from ray.tune.schedulers import ASHAScheduler
    return ASHAScheduler(time_attr="epoch", max_t=spec["epochs"], grace_period=1, reduction_factor=2)


def run_sweep(spec: dict, address: str | None = None, progress: bool = True) -> dict:
    """Run (or, with the same spec, resume) a sweep to its end; returns `status(name)` plus the
    seconds Ray took to start and the sweep's wall time. One driver per sweep: it holds an flock
    on the sweep's driver.lock, which the OS releases however the driver ends."""
    from core.store.files import read_holder, try_lock, write_holder
    from core.sweeps.check import check_address, check_limits
    check_address(address or os.environ.get("RAY_ADDRESS"))  # bad input: one line before anything starts
    check_limits()
    folder = sweep_dir(spec["name"])
    folder.mkdir(parents=True, exist_ok=True)
    lock = try_lock(folder / "driver.lock")
    if lock is None:
        raise RunError(f"sweep {spec['name']} is being run by {read_holder(folder / 'driver.lock') or 'another driver'}; "
                       f"`python -m core sweep cancel {spec['name']}` stops it")
    try:
        write_holder(lock, f"pid {os.getpid()}")
        return _drive(spec, address, progress)
    finally:
        lock.close()


def _drive(spec: dict, address: str | None, progress: bool) -> dict:
    _token_auth(address)
    from ray import tune
    name = spec["name"]
    folder = sweep_dir(name)
    if (folder / "sweep.json").is_file():
        old = read_spec(name)
        if old["spec"] != spec:
            raise ConfigError(f"a sweep named {name} with other settings exists; choose another --name")
        st = status(name)
        if st["status"] == "running":
            raise RunError(f"sweep {name} is running (pid {st.get('pid')}); `python -m core sweep cancel {name}` "
                           "stops it")
        if old.get("fingerprint") and old["fingerprint"] != fingerprint_of(spec):
            raise ConfigError(f"sweep {name} was run on another {spec.get('model') or 'classifier'} (its checkpoint "
                              f"changed since): remove {folder} to run it again on this one, or choose another --name")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cancel").unlink(missing_ok=True)
    from core.store.runs import proc_start
    _write_record(name, spec=spec, status="running", fingerprint=fingerprint_of(spec), pid=os.getpid(),
                  pid_start=proc_start(os.getpid()),
                  host=os.uname().nodename, started=time.time(), address=address or os.environ.get("RAY_ADDRESS"))
    t0 = time.perf_counter()
    old_term = signal.getsignal(signal.SIGTERM)
    if old_term is not None:
        signal.signal(signal.SIGTERM, lambda *_: (folder / "cancel").write_text("SIGTERM"))
    try:
        start_s = ray_init(address)
        trainable = tune.with_resources(trial, {"cpu": spec["cpus_per_trial"]})
        storage = folder / "ray"
        mode = "max" if spec["metric"] in MAXIMISE else "min"
        if tune.Tuner.can_restore(str(storage / name)):
            tuner = tune.Tuner.restore(str(storage / name), trainable, resume_unfinished=True, resume_errored=False)
            resumed = True
        else:
            from ray.tune import RunConfig
            tuner = tune.Tuner(trainable, param_space=_param_space(spec),
                               tune_config=tune.TuneConfig(metric=spec["metric"], mode=mode,
                                                           scheduler=_scheduler(spec), num_samples=spec["samples"]),
                               run_config=RunConfig(name=name, storage_path=str(storage), verbose=1 if progress else 0))
            resumed = False
        if spec["kind"] != "train" and not read_spec(name).get("baseline"):
            from core.eval.score import score_model  # what each trial is compared with: the model as it is
            base = score_model(spec["model"], n=spec["score_n"], seed=0)
            _write_record(name, baseline={k: base[k] for k in (*METRICS, "n")})
        t_fit = time.perf_counter()
        tuner.fit()
        fit_s = time.perf_counter() - t_fit
        _mark_early_stopped(name)
        state = "cancelled" if _cancelled(name) else "done"
        _write_record(name, status=state, ended=time.time(), ray_start_seconds=round(start_s, 2),
                      fit_seconds=round(fit_s, 2), resumed=resumed)
    except BaseException as exc:
        _write_record(name, status="failed", ended=time.time(), reason=f"{type(exc).__name__}: {exc}"[:300])
        raise
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return {**status(name), "wall_seconds": round(time.perf_counter() - t0, 2)}


def _mark_early_stopped(name: str) -> None:
    """A trial ASHA stopped was ended by Ray between reports: its run says so."""
    for t in trial_records(name):
        if t.get("status") in ("running", "interrupted") and t.get("run_id"):
            try:
                run = Run.open(t["run_id"])
                if not pid_alive(run.status().get("pid"), run.status().get("pid_start")):
                    reason = "stopped early by ASHA" if not _cancelled(name) else "the sweep was cancelled"
                    run.set_status("cancelled", reason=reason)
                    _save_trial(name, t["trial"], status="stopped" if "ASHA" in reason else "cancelled",
                                reason=reason)
            except (RunError, OSError):
                continue


def shutdown() -> None:
    import ray
    if ray.is_initialized():
        ray.shutdown()


def table(name: str, records: list[dict] | None = None) -> list[dict]:
    """One flat row per trial: knobs, status, final scores (quick ones while it trains)."""
    rows = []
    for t in trial_records(name) if records is None else records:
        s = t.get("scores") or (t.get("quick") or [{}])[-1]
        rows.append({"trial": t.get("trial"), **{k: v for k, v in (t.get("params") or {}).items()},
                     "status": t.get("status"), "run_id": t.get("run_id"),
                     "epoch": (t.get("quick") or [{}])[-1].get("epoch"), "progress": t.get("progress"),
                     **{k: s.get(k) for k in METRICS}, "scored_n": (t.get("scores") or {}).get("n") or t.get("quick_n"),
                     "wall_s": t.get("wall_seconds"), "reason": t.get("reason")})
    return rows


def efficiency(name: str, concurrency: int) -> dict:
    """(sum of trial wall times ÷ concurrency) ÷ the sweep's fit wall time."""
    rec = read_spec(name)
    walls = [t.get("wall_seconds") or 0 for t in trial_records(name)]
    fit = rec.get("fit_seconds") or float("nan")
    return {"trials": len(walls), "trial_seconds": round(sum(walls), 2), "concurrency": concurrency,
            "fit_seconds": fit, "ray_start_seconds": rec.get("ray_start_seconds"),
            "efficiency": round(sum(walls) / concurrency / fit, 3) if fit == fit and fit > 0 else None}



# ---------------------------------------------------------------- reading results (CLI, page)

def shipped_dir() -> Path:
    from core.store.files import TRAINED
    return TRAINED / "sweeps"


def names() -> list[str]:
    """Every sweep to show: this machine's, then the shipped ones it does not have."""
    return [s["name"] for s in listing()]


def _shipped_names() -> list[str]:
    root = shipped_dir()
    return sorted(p.name for p in root.iterdir() if (p / "sweep.json").is_file()) if root.is_dir() else []


def read_shipped(name: str) -> dict:
    """trained/sweeps/<name>/sweep.json, checked; RunError naming it when it is unreadable."""
    from core.sweeps.check import check_shipped
    path = shipped_dir() / name / "sweep.json"
    if not re.fullmatch(NAME_RE, name or "") or not path.is_file():
        raise RunError(f"no sweep {name!r} here or shipped (see `python -m core sweep list`)")
    try:
        rec = check_shipped(json.loads(path.read_text()))
        check_spec(rec.get("spec"), KINDS, METRICS)
    except (OSError, ValueError) as exc:
        raise RunError(f"shipped sweep {name}: unreadable sweep.json ({exc})") from None
    return rec


def listing() -> list[dict]:
    """This machine's sweeps (`list_sweeps`), then the shipped ones it does not have (source
    'shipped'): what the Sweeps page and `sweep list` show. An unreadable one is a row saying so."""
    live = [{**r, "source": "live"} for r in list_sweeps()]
    have = {r["name"] for r in live}
    for n in _shipped_names():
        if n in have:
            continue
        try:
            rec = read_shipped(n)
            live.append({**{k: rec.get(k) for k in ("status", "trials", "expected", "counts")}, "name": n,
                         "source": "shipped"})
        except RunError as exc:
            live.append({"name": n, "status": "unreadable", "reason": str(exc), "source": "shipped"})
    return live


def view(name: str) -> dict:
    """A sweep as the page shows it: spec, status, rows, each trial's sample grid, the baseline
    (refit / refine sweeps) and its note; from this machine's run store, else from trained/sweeps/."""
    if (sweep_dir(name) / "sweep.json").is_file():
        records = trial_records(name)  # read once: each reads every trial's run status
        st = status(name, records)
        grids = {}
        for t in records:
            try:
                g = Run.open(t["run_id"]).latest_sample() if t.get("run_id") else None
            except RunError:
                g = None
            if g:
                grids[t["trial"]] = str(g)
        return {**st, "source": "live", "rows": table(name, records), "grids": grids}
    rec = read_shipped(name)
    grids = {p.stem: str(p) for p in sorted((shipped_dir() / name / "grids").glob("*.png"))}
    return {**rec, "source": "shipped", "grids": grids}


def export(name: str, note: str = "") -> Path:
    """Ship a finished sweep: trained/sweeps/<name>/sweep.json (spec, scores, no weights) and
    each trial's last sample grid."""
    import shutil
    st = status(name)
    if st["status"] not in ("done", "cancelled"):
        raise RunError(f"sweep {name} is {st['status']}: only a finished sweep is shipped")
    out = shipped_dir() / name
    (out / "grids").mkdir(parents=True, exist_ok=True)
    v = view(name)
    for trial_id, grid in v["grids"].items():
        shutil.copyfile(grid, out / "grids" / f"{trial_id}.png")
    keep = ("name", "spec", "status", "counts", "trials", "expected", "baseline", "ray_start_seconds",
            "fit_seconds", "started", "ended")
    fp = st.get("fingerprint") or fingerprint_of(st["spec"])  # a sweep started before fingerprints: its model now
    write_json_atomic(out / "sweep.json", {**{k: st.get(k) for k in keep}, "rows": v["rows"], "note": note,
                                           "fingerprint": fp, "exported": time.time()})
    return out


def knob_curve(rows: list[dict], knob: str, metric: str) -> list[dict]:
    """The metric against one knob, with its spread over the other knobs and the seeds: per
    value its mean, min, max and count (finished trials only) — the shape of seed 004's Fig. 2."""
    by: dict = {}
    for r in rows:
        v = r.get(metric)
        if r.get("status") == "done" and isinstance(v, (int, float)) and math.isfinite(v) and knob in r:
            by.setdefault(r[knob], []).append(v)
    return [{"value": k, "mean": sum(vs) / len(vs), "min": min(vs), "max": max(vs), "n": len(vs)}
            for k, vs in sorted(by.items(), key=lambda kv: kv[0])]


def swept_knobs(spec: dict) -> list[str]:
    return [*spec["grid"], *spec["random"]] + (["seed"] if len(spec["seeds"]) > 1 else [])


def bench_sweep(trials: int = 4, epochs: int = 2, data_limit: int = 12800) -> dict:
    """Ray's start-up cost and a sweep's efficiency for `trials` tiny wgan-gp trials, one CPU
    each, in a temporary run store: (sum of trial wall times ÷ concurrency) ÷ the sweep's wall."""
    import tempfile
    old = os.environ.get("LATENT_LAB_RUNS")
    with tempfile.TemporaryDirectory(prefix="latent-lab-bench-sweep-") as tmp:
        os.environ["LATENT_LAB_RUNS"] = tmp
        try:
            spec = make_spec(variant="wgan-gp", grid={"lr_g": [1e-4 * (i + 1) for i in range(trials)]}, epochs=epochs,
                             fixed={"batch_size": 32}, data_limit=data_limit, quick_n=200, score_n=200, name="bench")
            t0 = time.perf_counter()
            res = run_sweep(spec, progress=False)
            wall = time.perf_counter() - t0
            import ray
            concurrency = int(ray.cluster_resources().get("CPU", 1)) // spec["cpus_per_trial"]
            out = efficiency("bench", min(concurrency, trials))
            shutdown()
            return {**out, "wall_seconds_with_start": round(wall, 2), "status": res["status"],
                    "efficiency_with_start": round(out["trial_seconds"] / out["concurrency"] / wall, 3)}
        finally:
            if old is None:
                os.environ.pop("LATENT_LAB_RUNS", None)
            else:
                os.environ["LATENT_LAB_RUNS"] = old
