"""CLI command `bench WHAT`: timings of training (train, profile), time to quality (quality), scoring,
the latent maps (embed), the dashboard's edits (ui) and Ray's sweeps (sweep)."""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

from core.cli.options import SEED_RECIPE_HELP, add_device, add_json, add_seed, add_set, positive_float, positive_int
from core.cli.text import report
from core.errors import ConfigError

WHATS = ["train", "quality", "peer", "profile", "score", "embed", "ui", "sweep", "latent", "track"]


def _latent(a) -> None:
    from core.explore.latent_scores import bench_latent
    res = bench_latent(model=a.model or "wgan-gp", n=a.n)
    took = {m: res[f"find_{m}_s"] + res[f"measure_{m}_s"] for m in ("sefa", "pca", "class")}
    report(a, res, lambda r: f"{r['model']}: directions (k 10, found + measured) sefa {took['sefa']:.1f} s, "
                              f"pca {took['pca']:.1f} s, class {took['class']:.1f} s "
                              f"({r['find_class_again_s'] + r['measure_class_s']:.1f} s the second time); "
                              f"slider step {r['slider_step_ms']:.0f} ms; atlas 64×64 {r['atlas_64_s']:.1f} s; "
                              f"PPL on {r['n']} pairs {r['ppl_s']:.1f} s; "
                              f"authenticity of {r['n']} digits {r['authenticity_features_s']:.1f} s (features), "
                              f"{r['authenticity_pixels_s']:.1f} s (pixels)")


def _ui(a) -> None:
    from core.dashboard.mixture_editor import bench_edit
    res = bench_edit(a.model or "cwgan-gp")
    report(a, res, lambda r: f"{r['model']}: one GMM drag -> new grid + histogram {r['drag_ms']:.0f} ms, one interpolation "
                              f"step {r['interpolation_step_ms']:.0f} ms, one direction-slider step "
                              f"{r['direction_step_ms']:.0f} ms (median of {r['repeats']}, server side)")


def _embed(a) -> None:
    from core.explore.maps import bench_embed
    res = bench_embed(n=a.n, model=a.model)
    report(a, res, lambda r: f"{r['n']} points ({r['space']}, {r['dims']}-d): pca {r['pca_s']:.1f} s, "
                              f"t-SNE {r['tsne_s']:.1f} s, UMAP {r['umap_s']:.1f} s cold; cached {r['cached_s']:.3f} s "
                              f"(after a one-time {r['warm_up_s']:.1f} s warm-up of umap's compiled kernels)")


def _sweep(a) -> None:
    from core.sweeps.drive import bench_sweep
    with contextlib.redirect_stdout(sys.stderr):  # Tune's tables
        res = bench_sweep()
    report(a, res, lambda r: f"{r['trials']} tiny trials, {r['concurrency']} at a time: Ray started in "
                              f"{r['ray_start_seconds']} s; one trial alone {r['alone_trial_seconds']} s, the sweep "
                              f"{r['fit_seconds']} s -> speed-up {r['speedup']}, efficiency {r['efficiency']} "
                              f"(speed-up ÷ {r['concurrency']} slots; {r['efficiency_with_start']} counting Ray's start)")


def _score(a) -> None:
    from core.eval.score import bench_score
    res = bench_score(model=a.model, n=a.n)
    report(a, res, lambda r: f"scoring {r['n']} digits: {r['cold_s']:.1f} s with the test reference computed, "
                              f"{r['shipped_s']:.1f} s read from trained/reference/, {r['warm_s']:.1f} s in memory")


def _profile(a) -> None:
    from core.gan.variants import parse_sets
    from core.train.profile import profile_fit
    res = profile_fit(a.variant, steps=a.steps, batch_size=a.batch_size, device=a.device,
                      overrides=parse_sets(a.set), threads=a.threads)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    print(f"{res['variant']} batch {res['batch_size']} on {res['device']} ({res['threads']} thread(s) on {res['cores']} "
          f"core(s)): {res['steps']} steps of a real run "
          f"in {res['fit_wall_s']:.1f} s (+{res['setup_s']:.1f} s to build it, +{res['caches_s']:.1f} s for the "
          f"machine's one-off caches)")
    for k, v in res["parts_s"].items():
        print(f"  {k:<16} {v:8.2f} s  {100 * res['parts_share'][k]:5.1f} %")
    f = lambda k, fmt=".0f": "n/a" if res.get(k) is None else format(res[k], fmt)
    lo, hi = res["logged_img_s_range"] or ("n/a", "n/a")
    print(f"img/s: steps alone {f('step_img_s')}, wall {f('wall_img_s')}, logged (median row) "
          f"{f('logged_img_s_median')} (rows {lo}–{hi}); engine windows beside the rows "
          f"{f('engine_windows_img_s_median')} -> logged/engine {f('logged_vs_engine_windows', '.3f')} "
          f"(median of pairs); bench train after the run {f('bench_engine_img_s')} -> logged/bench "
          f"{f('logged_vs_bench', '.3f')}")


def _train(a) -> None:
    from core.gan.variants import parse_sets
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


def _quality(a) -> None:
    from core.gan.variants import make_config, parse_sets, seed_recipe
    from core.results.quality import bench_quality
    if a.recipe:
        return _compare_recipes(a)
    if a.ship == "":
        raise ConfigError("--ship names the recipe of the row it keeps (e.g. --ship default), except with --recipe")
    overrides = {**(seed_recipe(a.variant) if a.seed_recipe else {}), **parse_sets(a.set)}
    make_config(a.variant, overrides)  # a typo fails now, not after the first seed's training
    seeds = a.seed or [0]

    res = bench_quality(a.variant, a.seconds or 540.0, seeds, overrides, n=a.n, device=a.device,
                        progress=not a.json, on_row=lambda r: _said_seed(a, r), threads=a.threads)
    if a.ship:
        from core.results.quality import ship
        ship(res, a.ship)
    if a.json:
        print(json.dumps(res, indent=2))
    elif len(seeds) > 1:
        print(f"{a.variant}, {res['seconds']:g} s on {res['cores']} core(s), median of {len(seeds)} seeds: "
              f"FID {res['fid']:.2f} "
              f"({res['fid_min']:.2f}–{res['fid_max']:.2f}), precision {res['precision']:.3f}, recall "
              f"{res['recall']:.3f}, coverage {res['coverage']:.3f}, {res['epochs']:g} epochs"
              + (f"; live generator (no EMA) FID {res['fid_raw']:.2f} ({res['fid_raw_min']:.2f}–"
                 f"{res['fid_raw_max']:.2f})" if "fid_raw" in res else ""))


def _peer(a) -> None:
    """`bench peer --script PATH`: a patched peer script and our --variant under one budget (core.results.peer)."""
    from core.gan.variants import make_config, parse_sets
    from core.results.peer import compare_peer
    if not a.script:
        raise ConfigError("bench peer needs --script PATH (a peer's training script, patched: see the README)")
    overrides = parse_sets(a.set)
    make_config(a.variant, overrides)

    def said(p, o):
        print(f"seed {p['seed']}: {Path(a.script).name} FID {p['fid']:.2f} ({p['steps']} steps), {a.variant} FID "
              f"{o['fid']:.2f} ({o['epochs']:g} epochs)", file=sys.stderr if a.json else sys.stdout, flush=True)
    from core.cores import allowed_cpus
    res = compare_peer(a.script, a.variant, a.seconds or 540.0, a.seed or [0, 1, 2], a.threads or len(allowed_cpus()), n=a.n,
                       overrides=overrides, on_row=said)
    report(a, res, lambda r: f"{r['seconds']:g} s on {r['cores']} core(s), {r['schedule']}: {r['script']} FID "
                              f"{r['peer']['fid']:.2f} ({r['peer']['fid_min']:.2f}–{r['peer']['fid_max']:.2f}), "
                              f"{r['variant']} {r['ours']['fid']:.2f} ({r['ours']['fid_min']:.2f}–"
                              f"{r['ours']['fid_max']:.2f}), median of {len(r['seeds'])} seeds: ours "
                              f"{'ahead' if r['ahead_pct'] > 0 else 'behind'} by {abs(r['ahead_pct']):.1f} % "
                              f"[{r['folder']}]")


def _said_seed(a, r) -> None:
    print((f"{r['recipe']}, " if "recipe" in r else "")
          + f"seed {r['seed']}: {r['epochs']:g} epochs ({r['steps']} steps, {r['img_s']:.0f} img/s over "
          f"{r['wall_seconds']:.0f} s) -> FID {r['fid']:.2f} (validation split {r['fid_valid']:.2f}), precision "
          f"{r['precision']:.3f}, recall {r['recall']:.3f}, coverage {r['coverage']:.3f}, class KL {r['class_kl']:.3f}"
          + (f"; its live generator (no EMA): FID {r['fid_raw']:.2f}" if "fid_raw" in r else "")
          + f"  [run {r['run']}]",
          file=sys.stderr if a.json else sys.stdout, flush=True)


def _compare_recipes(a) -> None:
    """`bench quality --recipe A --recipe B …`: the recipes trained interleaved, chosen on the
    validation split, reported on the test split (core.results.quality.compare_recipes)."""
    from core.gan.variants import make_config, parse_recipe, parse_sets
    from core.results.quality import compare_recipes, ship
    if a.seed_recipe:
        raise ConfigError("--seed-recipe is one recipe: with --recipe, say --recipe seed")
    if a.ship:
        raise ConfigError("with --recipe, --ship takes no name: each row is kept under its recipe's name")
    shared = parse_sets(a.set)
    recipes = {}
    for spec in a.recipe:
        name, overrides = parse_recipe(a.variant, spec)
        if name in recipes:
            raise ConfigError(f"--recipe {name} is named twice")
        cfg = make_config(a.variant, {**overrides, **shared})  # a typo fails now, not after an hour of training
        recipes[name] = {k: cfg[k] for k in {**overrides, **shared}}  # typed as the config has them
    res = compare_recipes(a.variant, recipes, a.seconds or 540.0, a.seed or [0, 1, 2], n=a.n, device=a.device,
                          progress=not a.json, on_row=lambda r: _said_seed(a, r), threads=a.threads)
    if a.ship is not None:
        for name, r in res["recipes"].items():
            ship(r, name, comparison=res, argv=a.argv)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    for name, r in sorted(res["recipes"].items(), key=lambda kv: kv[1]["fid_valid"]):
        print(f"{name}{' (chosen)' if name == res['chosen'] else ''}: validation FID {r['fid_valid']:.2f} "
              f"({r['fid_valid_min']:.2f}–{r['fid_valid_max']:.2f}); test FID {r['fid']:.2f} "
              f"({r['fid_min']:.2f}–{r['fid_max']:.2f}), precision {r['precision']:.3f}, recall {r['recall']:.3f}, "
              f"{r['epochs']:g} epochs")
    print(f"chosen on the {res['chosen_on']}: {res['chosen']}; run order: {', '.join(res['order'])}")


def _track(a):
    """What `--track mlflow` and the TensorBoard files add to a run: a short default run of --variant
    (--steps, one run store of its own), then its records replayed through the sinks, timed by parts."""
    from core.gan.variants import make_config
    from core.store.files import scratch_runs
    from core.store.runs import Run
    from core.track.bench import bench_tracking
    from core.train.engine import Trainer, resolve_device
    with scratch_runs("latent-lab-bench-track-"):
        cfg = make_config(a.variant, {"eval_n": 1000})
        run = Run.create(cfg)
        Trainer(cfg, resolve_device(a.device), run=run, progress=False).fit(max_steps=a.steps)
        run.close()
        res = bench_tracking(run.id)
    print(json.dumps(res, indent=2) if a.json else
          f"tracking {a.variant}: imports {res['imports_s']:.2f} s, database {res['database_s']:.2f} s (created or opened, "
          f"and checked), start {res['start_s']:.2f} s, {res['epoch_ms']:.0f} ms per epoch on the training "
          f"thread ({res['rows_per_epoch']} rows, a grid), end {res['end_s']:.2f} s (a {res['checkpoint_mib']:g} MiB "
          f"checkpoint) — to {res['mlflow']}")


BENCHES = {"train": _train, "quality": _quality, "peer": _peer, "profile": _profile, "score": _score, "embed": _embed, "ui": _ui,
           "sweep": _sweep, "latent": _latent, "track": _track}


def cmd_bench(a):
    BENCHES[a.what](a)


def add_parsers(sub) -> None:
    s = sub.add_parser("bench", help="benchmarks")
    s.add_argument("what", choices=WHATS,
                   help="quality: train VARIANT from scratch for --seconds of wall time, then score it on --n "
                        "digits; profile: where a real run's time goes over --steps steps")
    s.add_argument("--model", help="score/embed: the generator to time (default: an untrained one); "
                                   "ui: a mixture-prior model (default cwgan-gp); latent: the model (default wgan-gp)")
    s.add_argument("--n", type=positive_int, default=10_000)
    s.add_argument("--variant", default="wgan-gp")
    s.add_argument("--batch-size", type=positive_int, help="train, profile: the batch size (default: the variant's)")
    add_device(s)
    s.add_argument("--seconds", type=positive_float, help="train: timed seconds per loop and round (5); "
                                                           "quality: the wall-time budget of each run (540)")
    s.add_argument("--steps", type=positive_int, default=800, help="profile: training steps of the profiled run")
    s.add_argument("--ship", metavar="RECIPE", nargs="?", const="",
                   help="quality: keep the result as VARIANT's row for RECIPE (e.g. seed, default) in "
                        "trained/quality.json, shown on the Overview; with --recipe, no name: every recipe's row")
    s.add_argument("--recipe", action="append", metavar="SPEC",
                   help="quality: compare recipes (repeat; default, seed or NAME:key=value[,key=value…]): trained "
                        "interleaved, seed by seed (3 seeds unless --seed), chosen on the validation split's "
                        "median FID, reported on the test split")
    add_seed(s, default=None, action="append", help="quality: a training seed (repeat for the spread; 0)")
    s.add_argument("--seed-recipe", action="store_true", help="quality: " + SEED_RECIPE_HELP)
    s.add_argument("--rounds", type=positive_int, default=3, help="alternating rounds; each loop's best counts")
    s.add_argument("--script", metavar="PATH",
                   help="peer: a peer's training script with the two-line latent_lab_peer patch (README): it and "
                        "--variant train --seconds each, per --seed (0, 1, 2), and both are scored alike")
    s.add_argument("--threads", type=positive_int,
                   help="quality, profile, peer: run on this many CPU cores, one torch thread each (the process is "
                        "pinned to them; default: torch's own thread count on every core)")
    add_set(s)
    add_json(s)
    s.set_defaults(fn=cmd_bench)
