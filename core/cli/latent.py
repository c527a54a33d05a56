"""CLI commands over refinement and the latent tools: refine, invert, interpolate, map."""
from __future__ import annotations

import json
import sys

from core.cli.options import add_json, add_model, add_prior, add_seed, non_negative_int, positive_float, positive_int
from core.cli.text import score_text


def cmd_refine(a):
    from core.explore.refine import DRS_RULES, refine_model
    if a.method in DRS_RULES:
        knobs = {"percentile": a.percentile, "target_rate": a.target_rate, "tau": a.tau, "eps": a.eps,
                 "burn_in": a.burn_in}
    else:
        knobs = {"steps": a.steps, "lr": a.lr, "optimizer": a.optimizer, "delta": a.delta, "k": a.k_eff}
    res = refine_model(a.model, a.method, n=a.n, seed=a.seed, **knobs)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    extra = (f"acceptance {res['acceptance_rate']:.3f} of {res['proposals']} proposals"
             if res["acceptance_rate"] is not None else
             f"k_eff {res['k_eff']:.4g}, mean transport cost {res['mean_cost']:.3f}, "
             f"objective {res['objective_start']:.4g} → {res['objective_end']:.4g}")
    print(f"{res['model']} · {res['method']} on n={res['n']}: {extra} ({res['seconds']:.1f} s)")
    print(score_text(res["before"], "before"))
    print(score_text(res["after"], "after"))


def cmd_invert(a):
    from tqdm.auto import tqdm

    from core.explore.latent import invert_and_refit
    bar = None if a.json else tqdm(total=a.n * a.restarts, desc="inverting", unit="digit", file=sys.stderr)

    def progress(done, total):
        if bar is not None:
            bar.total, bar.n = total, done  # --n 0 learns the split's size here
            bar.refresh()

    res = invert_and_refit(a.model, n=a.n, k=a.components, covariance=a.covariance, steps=a.steps, lr=a.lr,
                           restarts=a.restarts, seed=a.seed, name=a.name, split=a.split, score_n=a.score_n,
                           progress=progress)
    if bar is not None:
        bar.close()
    if a.json:
        print(json.dumps(res, indent=2))
        return
    print(f"{res['model']}: inverted {res['n']} {res['split']} digits (scores below are against the "
          f"{res['scored_against']} split) in {res['invert_compute_seconds']:.0f} s of inversion ({res['invert_seconds']:.0f} s "
          f"this call; chunks already cached are read), RMS error "
          f"mean {res['recon_rmse_mean']:.4f} median {res['recon_rmse_median']:.4f} (pixels in [0, 1])")
    print(f"fitted {res['fit_k']} components ({res['fit_covariance']}) -> prior {res['prior']!r} at {res['path']}")
    print(score_text(res["original"], "original"))
    print(score_text(res["refit"], "refit"))
    print(f"use it with: python -m core score {res['model']} --prior {res['prior']}")


def cmd_interpolate(a):
    from core.explore.latent import endpoint, interpolate
    from core.store.images import save_grid
    from core.store.registry import load_model
    m = load_model(a.model, prior=a.prior)
    ea, eb = endpoint(m.G, m.prior, a.start, m.conditional), endpoint(m.G, m.prior, a.end, m.conditional)
    res = interpolate(m.G, ea, eb, frames=a.frames, mode=a.mode)
    path = save_grid(res["images"], a.out, nrow=a.frames)
    warnings = [f"{side}: {e.warning}" for side, e in (("from", ea), ("to", eb)) if e.warning]
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if a.json:
        print(json.dumps({"out": str(path), "from": ea.about, "to": eb.about, "t": res["t"].tolist(),
                          "labels": res["labels"].tolist(), "confidence": res["confidence"].tolist(),
                          "warnings": warnings}, indent=2))
        return
    print(f"{ea.about} → {eb.about} ({a.mode}, {a.frames} frames) -> {path}")
    print("labels      " + " ".join(f"{int(v):>4}" for v in res["labels"]))
    print("confidence  " + " ".join(f"{float(v):.2f}" for v in res["confidence"]))


def cmd_map(a):
    import csv

    from core.explore.maps import model_map
    res = model_map(a.model, n=a.n, space=a.space, method=a.method, real=a.real, seed=a.seed, prior=a.prior)
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x", "y", "source", "label", "confidence", "component"])
        for (x, y), s, lab, c, comp in zip(res["xy"], res["source"], res["label"], res["confidence"],
                                           res["component"]):
            w.writerow([f"{x:.4f}", f"{y:.4f}", s, int(lab), f"{c:.4f}", int(comp)])
    print(f"{len(res['xy'])} points ({a.method} of {a.space}) -> {a.out}")


def add_parsers(sub) -> None:
    s = sub.add_parser("refine", help="DRS / discriminator optimal transport: scores before and after")
    add_model(s)
    s.add_argument("--method", required=True, choices=["drs", "drs-sigmoid", "dot-latent", "dot-target"])
    s.add_argument("--n", type=positive_int, default=10_000)
    add_seed(s)
    s.add_argument("--percentile", type=float, default=80.0, help="drs: γ = this percentile of the burn-in's F̂")
    s.add_argument("--target-rate", type=float, help="drs/drs-sigmoid: solve γ/τ for this acceptance rate")
    s.add_argument("--tau", type=float, help="drs-sigmoid: p = σ(D(x) − τ)")
    s.add_argument("--eps", type=positive_float, default=1e-6)
    s.add_argument("--burn-in", type=positive_int, default=10_000)
    s.add_argument("--steps", type=positive_int, default=20,
                   help="dot: updates (seed 001: 20; the official code: 100)")
    s.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"],
                   help="dot: plain SGD (the official DOT default) or Adam β (0, 0.9), which moves far more")
    s.add_argument("--lr", type=positive_float, default=0.01)
    s.add_argument("--delta", type=float, default=1e-3)
    s.add_argument("--k-eff", type=float, help="dot: fix k_eff instead of estimating it")
    add_json(s)
    s.set_defaults(fn=cmd_refine)

    s = sub.add_parser("invert", help="invert real digits, refit the prior by EM, score both priors")
    add_model(s)
    s.add_argument("--n", type=non_negative_int, default=1000,
                   help="digits to invert; 0 = the whole split (50k train digits: chunks of 1000 are cached as they "
                        "finish, so a killed run continues where it stopped)")
    s.add_argument("--components", type=positive_int,
                   help="K (per class for a conditional variant; default: BIC over 1..15)")
    s.add_argument("--covariance", default="diag", choices=["full", "diag", "spherical", "tied"])
    s.add_argument("--steps", type=positive_int, default=1000)
    s.add_argument("--lr", type=positive_float, default=0.01)
    s.add_argument("--restarts", type=positive_int, default=1,
                   help="the first starts at the prior's centre, others at draws")
    add_seed(s)
    s.add_argument("--name", help="save the prior under this name (default em-k<K>-<covariance>)")
    s.add_argument("--split", default="train", choices=["train", "valid", "test"],
                   help="the real digits inverted (default train); test is refused: every score is measured "
                        "against it, so the refit would be judged by digits it has seen")
    s.add_argument("--score-n", type=positive_int, default=10_000)
    add_json(s)
    s.set_defaults(fn=cmd_invert)

    s = sub.add_parser("interpolate", help="a strip of digits between two codes")
    add_model(s)
    s.add_argument("--from", dest="start", default="random:0", help="random:SEED | class:C | component:K | real:I")
    s.add_argument("--to", dest="end", default="random:1")
    s.add_argument("--frames", type=positive_int, default=10)
    s.add_argument("--mode", default="slerp", choices=["slerp", "lerp"])
    add_prior(s)
    s.add_argument("--out", default="interpolation.png")
    add_json(s)
    s.set_defaults(fn=cmd_interpolate)

    s = sub.add_parser("map", help="a 2-D map (PCA / t-SNE / UMAP) of generated digits, as CSV")
    add_model(s)
    s.add_argument("--method", default="umap", choices=["pca", "tsne", "umap"])
    s.add_argument("--space", default="features", choices=["pixels", "features", "latent"])
    s.add_argument("--n", type=positive_int, default=2000)
    s.add_argument("--real", type=int, default=0, help="also map this many real test digits")
    add_seed(s)
    add_prior(s)
    s.add_argument("--out", default="map.csv")
    s.set_defaults(fn=cmd_map)
