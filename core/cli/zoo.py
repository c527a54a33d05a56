"""CLI command `zoo`: the pretrained models' leaderboard (`list`), and `train`, `export`, `compact` to
rebuild, ship or shrink them."""
from __future__ import annotations

import json

from core.cli.options import add_device, add_json, positive_int
from core.cli.text import table
from core.errors import ConfigError


def _export(a) -> None:
    from core.train import zoo
    if not a.run:
        raise ConfigError("zoo export needs --run RUN_ID")
    out = zoo.export(a.run, if_better=a.if_better)
    e = zoo.index()[zoo.Run.open(a.run).config()["variant"]]
    if out is None:
        print(f"not shipped: FID {e['tries'][-1]['fid']:.3f} does not beat the shipped model's "
              f"{zoo.shipped_fid(e):.3f} at {e['epochs']} epochs (recorded in zoo.json's tries)")
    else:
        print(out)


def _latent(a) -> None:
    import sys

    from core.explore.latent_scores import LATENT_KEYS, ship
    from core.gan.variants import VARIANTS
    from core.store.registry import zoo_checkpoint
    names = a.variants.split(",") if a.variants else [v for v in VARIANTS if zoo_checkpoint(v)]
    rows = ship(names, progress=lambda what: print(f"  {what}…", file=sys.stderr, flush=True))
    print(json.dumps(rows, indent=2) if a.json else table(rows, ["model", *LATENT_KEYS, "latent_seconds"]))


def cmd_zoo(a):
    from core.train import zoo
    if a.action == "train":
        from core.gan.variants import VARIANTS
        names = a.variants.split(",") if a.variants else list(VARIANTS)
        for n in names:
            if n not in VARIANTS:
                raise ConfigError(f"unknown variant {n!r} in --variants")
        zoo.train(names, epochs=a.epochs, device=a.device, recipe=a.recipe, if_better=a.if_better)
        return
    if a.action == "compact":
        rows = zoo.compact_shipped(a.variants.split(",") if a.variants else None)
        print(json.dumps(rows, indent=2) if a.json else table(rows, ["model", "dtype", "bytes_before", "bytes",
                                                                      "fid_before", "fid", "recall_before", "recall"]))
        return
    if a.action == "export":
        return _export(a)
    if a.action == "latent":
        return _latent(a)
    rows = zoo.leaderboard()
    print(json.dumps(rows, indent=2) if a.json else table(rows, zoo.LEADER_COLS))


def add_parsers(sub) -> None:
    s = sub.add_parser("zoo", help="the pretrained models: leaderboard, retrain, export a run")
    s.add_argument("action", nargs="?", choices=["list", "train", "export", "compact", "latent"], default="list",
                   help="compact: rewrite shipped models as int8 where their scores stay within sampling noise; "
                        "latent: measure the latent numbers (score --latent) and ship them in trained/<name>/scores.json")
    add_json(s)
    s.add_argument("--variants", help="train, compact, latent: comma-separated names (default: all)")
    s.add_argument("--epochs", type=positive_int, help="train: override each variant's zoo epochs")
    add_device(s)
    s.add_argument("--run", help="export: the finished run to ship as trained/<variant>/")
    s.add_argument("--recipe", choices=["default", "seed"],
                   help="train: today's defaults or the seed's recipe (default: each shipped model's own config)")
    s.add_argument("--if-better", action="store_true",
                   help="train, export: ship only a model whose FID (10k, seed 0) beats the shipped one at equal "
                        "epochs; every try is recorded in trained/zoo.json")
    s.set_defaults(fn=cmd_zoo)
