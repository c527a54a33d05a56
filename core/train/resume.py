"""Resuming a run: from its last checkpoint (with fine-tuning: new optimiser knobs, their moments
kept) or, before its first checkpoint, from step 0 in its own folder. Either way the caller
becomes the run's one writer (core/store/runs.py) before anything changes.
"""
from __future__ import annotations

import os

from core.errors import CheckpointError, ConfigError
from core.gan.variants import complete_saved, make_config
from core.store import checkpoint as ckpt_io
from core.store.registry import checkpoint_config
from core.store.runs import Run
from core.train.engine import Trainer, resolve_device

# What `train --resume RUN --set k=v` may change (seed 001's fine-tuning): the optimisers' and
# the losses' knobs. Anything else (sizes, prior, batch, seed) would be another model.
FINE_TUNE = ("lr_g", "lr_d", "lr_prior", "beta1", "beta2", "n_critic", "gp_lambda", "clip", "san_lambda",
             "max_seconds", "max_steps")  # the optimiser's knobs, and the budgets (a resume may extend them)


def _as_writer(run: Run, build):
    """build() as the run's one writer: take its lock (RunError naming the process that trains
    it), check that its status is not running and its metrics database is readable, remove the
    temp files of dead writers. If anything fails, a lock taken here is given back."""
    fresh = run._lock is None
    try:
        run.acquire()
        st = run.status()
        if st["status"] == "running":
            raise ConfigError(f"run {run.id} is still training (pid {st.get('pid')}); cancel it first")
        run.check_metrics()
        run.clean_stale_temp()
        return build()
    except BaseException:
        if fresh:
            run.close()
        raise


def resume(run: Run, device="auto", progress: bool = True, data_limit: int | None = None,
           changes: dict | None = None) -> Trainer:
    """A Trainer restored from a run's last checkpoint, with the run's own config (its data_limit
    included; `data_limit` may only repeat it). `changes` fine-tunes it (seed 001): new values
    of the optimiser knobs in `FINE_TUNE`, applied to the restored optimisers (their moments
    kept) and recorded in the run's history with the step they took effect at."""
    return _as_writer(run, lambda: _resume(run, device, progress, data_limit, changes or {}))


def _fine_tune(trainer: Trainer, changes: dict) -> dict:
    """Apply `changes` to a restored trainer; returns {key: [old, new]} of what changed."""
    bad = sorted(set(changes) - set(FINE_TUNE))
    if bad:
        raise ConfigError(f"a resumed run can change only {', '.join(FINE_TUNE)}; {', '.join(bad)} would make it "
                          "another model (start a new run instead)")
    c = trainer.cfg
    new = make_config(c["variant"], {**{k: v for k, v in c.items() if k != "variant"}, **changes})
    diff = {k: [c[k], new[k]] for k in changes if new[k] != c[k]}
    c.update({k: new[k] for k in diff})
    groups_g = trainer.opt_g.param_groups
    groups_g[0]["lr"] = c["lr_g"]
    if len(groups_g) > 1:  # the learnable prior's group
        groups_g[1]["lr"] = c["lr_prior"] or c["lr_g"]
    trainer.opt_d.param_groups[0]["lr"] = c["lr_d"]
    for opt in (trainer.opt_g, trainer.opt_d):
        for g in opt.param_groups:
            if "betas" in g:
                g["betas"] = (c["beta1"], c["beta2"])
    return diff


def _resume(run: Run, device, progress: bool, data_limit: int | None, changes: dict) -> Trainer:
    if not run.checkpoint_path.is_file():
        raise CheckpointError(f"run {run.id} stopped before its first checkpoint (one is written at the end of "
                              f"each epoch and every ckpt_minutes), so there is nothing to resume from; train it "
                              f"again from the start with `python -m core train --restart {run.id}`")
    sd = ckpt_io.load(run.checkpoint_path)
    cfg = checkpoint_config(sd)
    recorded = cfg["data_limit"]
    if data_limit is not None and "data_limit" not in sd["config"]:  # saved before the knob was recorded
        cfg["data_limit"] = recorded = data_limit
    if data_limit is not None and data_limit != recorded:
        raise ConfigError(f"run {run.id} was trained on {f'the first {recorded}' if recorded else 'all'} training "
                          f"digits; resume continues with its own config (leave out --data-limit)")
    trainer = Trainer(cfg, resolve_device(device), run=run, progress=progress)
    try:
        trainer.load_state_dict(sd)
    except CheckpointError:
        raise
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{run.checkpoint_path} cannot be resumed ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:120]})") from None
    if changes:
        diff = _fine_tune(trainer, changes)
        if diff:
            run.update_config(trainer.cfg)
            run.record_change({"step": trainer.step, "epoch": trainer.epoch, "changes": diff})
    run.truncate_metrics(trainer.step)
    run.set_status("running", pid=os.getpid())
    return trainer


def restart(run: Run, device="auto", progress: bool = True) -> Trainer:
    """A run that stopped before its first checkpoint, trained again from step 0 in its own
    folder with its recorded config (its partial curves and grids are dropped). A run with a
    checkpoint is resumed instead, never thrown away."""
    return _as_writer(run, lambda: _restart(run, device, progress))


def _restart(run: Run, device, progress: bool) -> Trainer:
    if run.checkpoint_path.is_file():
        raise ConfigError(f"run {run.id} has a checkpoint: continue it with `python -m core train --resume {run.id}`")
    trainer = Trainer(complete_saved(run.config()), resolve_device(device), run=run, progress=progress)
    run.truncate_metrics(-1)
    for grid in run.samples_dir.glob("epoch_*.png"):
        grid.unlink()
    run.set_status("running", pid=os.getpid(), step=0, epoch=0, train_seconds=0.0)
    return trainer
