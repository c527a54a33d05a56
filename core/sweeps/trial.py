"""One trial of a sweep, in a Ray worker: Ray Tune's trainable `trial`. A training trial is an
ordinary run tagged with its sweep; it reports a quick score (classifier-feature FID on
`quick_n` digits) at every epoch's checkpoint, so ASHA can stop the bad ones early; the final
score is `score_model`'s. A trial that diverges ends `failed` and the sweep goes on. A refit or
refine trial scores one post-training knob of one model. A watchdog stops a trial whose
sweep's driver has died (it checkpoints; the same sweep command resumes it).
"""
from __future__ import annotations

import os
import threading
import time

from core.errors import LabError, RunError, TrainingFailed
from core.eval.names import METRICS
from core.gan.variants import make_config
from core.store.runs import Run, list_runs
from core.sweeps.records import INTERRUPTED, driver_gone, is_cancelled, load_trial, read_spec, save_trial
from core.sweeps.spec import MAXIMISE


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
        return save_trial(name, trial_id, status="done", scores=_final(run, spec))
    over = {**spec["fixed"], **params, "data_limit": spec["data_limit"], "epochs": spec["epochs"]}
    cfg = make_config(spec["variant"], over)
    argv = ["sweep", spec["variant"], "--name", name]
    if run is not None:  # interrupted (its driver was killed): from its checkpoint, or from step 0 if none
        again = resume if run.checkpoint_path.is_file() else restart
        trainer = again(run, device="auto", progress=False)
        run = trainer.run
    else:
        run = Run.create(cfg, argv=argv, tags={"sweep": name, "trial": trial_id})
        if spec.get("track"):  # a child of the sweep's MLflow run
            from core.track import request
            request(run.path, spec["track"], parent=read_spec(name).get("mlflow_parent"))
        trainer = engine.Trainer(cfg, engine.resolve_device("auto"), run=run, progress=False)
    save_trial(name, trial_id, run_id=run.id, status="running")
    history = [q for q in load_trial(name, trial_id).get("quick", []) if q["epoch"] <= trainer.epoch]

    def on_epoch(t):
        q = quick_scores(t.G, t.prior, spec["quick_n"], seed=t.cfg["seed"])
        history.append({"epoch": t.epoch, **q})
        save_trial(name, trial_id, quick=history, quick_n=spec["quick_n"])
        if t.epoch < spec["epochs"]:  # the last epoch is reported with the final score, after training
            _report({**q, "epoch": t.epoch})

    trainer.on_epoch = on_epoch
    trainer.stop_requested = lambda: is_cancelled(name) or _ORPHANED.is_set()
    try:
        state = trainer.fit(max_steps=spec["max_steps"])
    except SystemExit:  # Ray ends a trial its scheduler stopped at its report (the epoch's checkpoint is written)
        reason = f"stopped early by ASHA after epoch {trainer.epoch}"
        run.set_status("cancelled", reason=reason, step=trainer.step, epoch=trainer.epoch,
                       train_seconds=trainer.train_seconds)
        save_trial(name, trial_id, status="stopped", reason=reason, train_seconds=trainer.train_seconds)
        raise
    except TrainingFailed as exc:
        _report({**_worst(spec), "epoch": trainer.epoch})
        return save_trial(name, trial_id, status="failed", reason=str(exc).splitlines()[0])
    finally:
        run.close()
    if state == "cancelled" and not is_cancelled(name) and _ORPHANED.is_set():  # checkpointed; the same sweep resumes it
        run.set_status("failed", reason=INTERRUPTED, step=trainer.step, epoch=trainer.epoch,
                       train_seconds=trainer.train_seconds)
        return save_trial(name, trial_id, status="interrupted", reason="the sweep's driver died")
    if state != "done":
        if not history:
            _report({**_worst(spec), "epoch": trainer.epoch})
        return save_trial(name, trial_id, status=state)
    rec = save_trial(name, trial_id, status="done", scores=_final(run, spec), train_seconds=trainer.train_seconds)
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
    return save_trial(spec["name"], trial_id, status="done", scores=scores, prior=res["prior"],
                       recon_rmse=res["recon_rmse_mean"])


def _refine_trial(spec: dict, params: dict, trial_id: str) -> dict:
    from core.explore.refine import refine_model
    knobs = {k: v for k, v in params.items() if k != "seed"}
    res = refine_model(spec["model"], spec["method"], n=spec["score_n"], seed=int(params.get("seed", 0)), **knobs)
    scores = {k: res["after"][k] for k in (*METRICS, "class_hist", "n")}
    _report({k: scores[k] for k in METRICS})
    return save_trial(spec["name"], trial_id, status="done", scores=scores,
                       original={k: res["before"][k] for k in METRICS})


_ORPHANED = threading.Event()  # set in a trial's worker once its sweep's driver has died
ORPHAN_GRACE_S = 30.0  # what an orphaned trial gets to reach its next log row and checkpoint


def _watch_driver(name: str, finished: threading.Event) -> None:
    """A trial's watchdog. When the driver dies, the trial stops at its next log row (checkpoint,
    status 'interrupted': the same sweep command resumes it) and its process exits. Without it
    the worker trains on, then blocks for good in its next report (Tune's report waits for the
    driver to take the result), until Ray reaps it: over 6 minutes on a loaded 2-core machine."""
    while not finished.wait(1.0):
        if driver_gone(name):
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
    # its CPUs' worth of threads, never more than OMP_NUM_THREADS (Ray sets it to the trial's CPUs, or passes
    # the driver's): more threads than cores, beside another busy process, spin instead of working
    torch.set_num_threads(min(spec["cpus_per_trial"], int(os.environ.get("OMP_NUM_THREADS") or spec["cpus_per_trial"])))
    trial_id = tune.get_context().get_trial_id()
    done = load_trial(name, trial_id)
    if done.get("status") in ("done", "failed", "stopped"):  # ended before the driver was killed: not rerun
        _report({**_worst(spec), **(done.get("scores") or {}),
                 "epoch": (done.get("quick") or [{}])[-1].get("epoch", 0)})
        return
    t0 = time.time()
    save_trial(name, trial_id, params=params, status="running", started=t0, node=os.uname().nodename,
               worker_pid=os.getpid())  # Tune reuses a worker for the next trial (drive.py: reuse_actors)
    if is_cancelled(name):
        save_trial(name, trial_id, status="cancelled", reason="the sweep was cancelled before it started")
        _report({**_worst(spec), "epoch": 0})
        return
    finished = threading.Event()
    threading.Thread(target=_watch_driver, args=(name, finished), daemon=True, name="driver-watch").start()
    try:
        {"train": _train_trial, "refit": _refit_trial, "refine": _refine_trial}[spec["kind"]](spec, params, trial_id)
    except LabError as exc:
        save_trial(name, trial_id, status="failed", reason=str(exc).splitlines()[0])
        _report({**_worst(spec), "epoch": 0})
    finally:
        save_trial(name, trial_id, wall_seconds=round(time.time() - t0, 2), ended=time.time())
        finished.set()
