"""Driving a sweep on Ray Tune: Ray started on this machine when no address is given
(`ray.init()` starts it) or joined at `address`; one driver per sweep (an flock); cancel; the
benchmark of Ray's start-up and a sweep's efficiency. Running the same sweep again after its
driver was killed restores it: finished trials are not rerun, interrupted ones resume from
their run's checkpoint.
"""
from __future__ import annotations

import os
import signal
import time

from core.errors import ConfigError, RunError
from core.eval.names import METRICS
from core.store.files import ROOT
from core.store.runs import Run, pid_alive
from core.sweeps.records import is_cancelled, read_spec, save_trial, status, trial_records, write_record
from core.sweeps.spec import MAXIMISE, fingerprint_of, make_spec, sweep_dir
from core.sweeps.trial import trial

ENV_KEYS = ("LATENT_LAB_RUNS", "LATENT_LAB_CACHE", "LATENT_LAB_DATA", "LATENT_LAB_IMPORTED", "MLFLOW_TRACKING_URI",
            "MLFLOW_EXPERIMENT_NAME", "OMP_NUM_THREADS")  # OMP_NUM_THREADS: the driver's cap on a trial's threads


def cancel(name: str) -> str:
    """Ask a sweep to stop: running trials checkpoint and end `cancelled`; none starts after."""
    rec = read_spec(name)
    (sweep_dir(name) / "cancel").write_text(str(time.time()))
    if rec.get("status") == "running" and pid_alive(rec.get("pid"), rec.get("pid_start")):
        return "cancel requested: running trials checkpoint at their next log row and stop"
    return "cancel recorded (the sweep's driver is not running)"


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
    write_record(name, spec=spec, status="running", fingerprint=fingerprint_of(spec), pid=os.getpid(),
                  pid_start=proc_start(os.getpid()),
                  host=os.uname().nodename, started=time.time(), address=address or os.environ.get("RAY_ADDRESS"))
    t0 = time.perf_counter()
    old_term = signal.getsignal(signal.SIGTERM)
    if old_term is not None:
        signal.signal(signal.SIGTERM, lambda *_: (folder / "cancel").write_text("SIGTERM"))
    try:
        if spec.get("track") == "mlflow" and not read_spec(name).get("mlflow_parent"):  # one parent run per sweep
            from core.track.mlflow_sink import create_parent
            write_record(name, mlflow_parent=create_parent(name, spec))
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
                                                           scheduler=_scheduler(spec), num_samples=spec["samples"],
                                                           # a finished trial's worker takes the next trial: no new
                                                           # process, imports and classifier load per trial
                                                           reuse_actors=True),
                               run_config=RunConfig(name=name, storage_path=str(storage), verbose=1 if progress else 0))
            resumed = False
        if spec["kind"] != "train" and not read_spec(name).get("baseline"):
            from core.eval.score import score_model  # what each trial is compared with: the model as it is
            base = score_model(spec["model"], n=spec["score_n"], seed=0)
            write_record(name, baseline={k: base[k] for k in (*METRICS, "n")})
        t_fit = time.perf_counter()
        tuner.fit()
        fit_s = time.perf_counter() - t_fit
        _mark_early_stopped(name)
        state = "cancelled" if is_cancelled(name) else "done"
        write_record(name, status=state, ended=time.time(), ray_start_seconds=round(start_s, 2),
                      fit_seconds=round(fit_s, 2), resumed=resumed)
        if parent := read_spec(name).get("mlflow_parent"):
            from core.track.mlflow_sink import end_parent
            end_parent(parent, state)
    except BaseException as exc:
        write_record(name, status="failed", ended=time.time(), reason=f"{type(exc).__name__}: {exc}"[:300])
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
                    reason = "stopped early by ASHA" if not is_cancelled(name) else "the sweep was cancelled"
                    run.set_status("cancelled", reason=reason)
                    save_trial(name, t["trial"], status="stopped" if "ASHA" in reason else "cancelled",
                                reason=reason)
            except (RunError, OSError):
                continue


def shutdown() -> None:
    import ray
    if ray.is_initialized():
        ray.shutdown()


def efficiency(name: str, concurrency: int) -> dict:
    """(sum of trial wall times ÷ concurrency) ÷ the sweep's fit wall time."""
    rec = read_spec(name)
    walls = [t.get("wall_seconds") or 0 for t in trial_records(name)]
    fit = rec.get("fit_seconds") or float("nan")
    return {"trials": len(walls), "trial_seconds": round(sum(walls), 2), "concurrency": concurrency,
            "fit_seconds": fit, "ray_start_seconds": rec.get("ray_start_seconds"),
            "efficiency": round(sum(walls) / concurrency / fit, 3) if fit == fit and fit > 0 else None}


def bench_sweep(trials: int = 4, epochs: int = 2, data_limit: int = 12800) -> dict:
    """Ray's start-up cost and a sweep's speed-up for `trials` tiny wgan-gp trials, one CPU each, in a
    temporary run store. First one trial alone (a sweep of one, same knobs), then the sweep, in the same
    command: speed-up = trials × the lone trial's wall time ÷ the sweep's fit time, efficiency = speed-up
    ÷ the slots (concurrent trials). `busy_efficiency` (the sum of the sweep's own trial walls ÷ slots ÷
    its fit time) is kept beside it: contention that slows every trial raises it, so it is no speed-up."""
    from core.store.files import scratch_runs
    with scratch_runs("latent-lab-bench-sweep-"):
        def spec_of(values, name):
            return make_spec(variant="wgan-gp", grid={"lr_g": values}, epochs=epochs, fixed={"batch_size": 32},
                             data_limit=data_limit, quick_n=200, score_n=200, name=name)
        run_sweep(spec_of([1e-4], "bench-alone"), progress=False)  # starts Ray: the sweep then finds it running
        lone = efficiency("bench-alone", 1)
        alone, start = lone["trial_seconds"], lone["ray_start_seconds"] or 0.0
        spec = spec_of([1e-4 * (i + 1) for i in range(trials)], "bench")
        t0 = time.perf_counter()
        res = run_sweep(spec, progress=False)
        wall = time.perf_counter() - t0
        import ray
        concurrency = min(int(ray.cluster_resources().get("CPU", 1)) // spec["cpus_per_trial"], trials)
        out = efficiency("bench", concurrency)
        shutdown()
        speedup = trials * alone / out["fit_seconds"]
        return {**out, "ray_start_seconds": start, "busy_efficiency": out.pop("efficiency"),
                "alone_trial_seconds": alone, "speedup": round(speedup, 3), "efficiency": round(speedup / concurrency, 3),
                "wall_seconds_with_start": round(wall + start, 2), "status": res["status"],
                "efficiency_with_start": round(trials * alone / (wall + start) / concurrency, 3)}
