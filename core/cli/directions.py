"""CLI commands over the latent space's directions: `directions` (find them, and what each does)
and `edit` (a grid of digits moved along one)."""
from __future__ import annotations

import argparse
import json

from core.cli.options import add_json, add_model, add_prior, add_seed, positive_int


def float_list(text: str) -> list[float]:
    """Comma-separated numbers, e.g. strengths: -3,-1.5,0,1.5,3."""
    try:
        out = [float(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes numbers like -3,-1.5,0,1.5,3; got {text!r}") from None
    if not all(abs(v) < float("inf") for v in out):
        raise argparse.ArgumentTypeError(f"takes finite numbers; got {text!r}")
    return out


def _transitions_text(t: list[list[int]]) -> str:
    moves = sorted(((n, a, b) for a, row in enumerate(t) for b, n in enumerate(row) if a != b and n), reverse=True)
    return ", ".join(f"{a}→{b} ×{n}" for n, a, b in moves[:4]) or "none"


def cmd_directions(a):
    from core.explore.directions import analyse
    res = analyse(a.model, a.method, k=a.k, strengths=a.strengths, n=a.n, codes=a.codes, seed=a.seed, prior=a.prior)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    print(f"{res['model']} · {res['method']}: {res['about']}")
    if "separability" in res:
        print(f"linear separability of the digits read, in z: {res['separability']:.3f} held-out accuracy; "
              f"mean hit rate at strength {max(a.strengths):g}: {res['mean_hit_rate']}")
    if res.get("cosine_to_means"):
        print("cosine of each digit's direction with the way to its components' means: "
              + " ".join(f"{c}:{v:.2f}" for c, v in enumerate(res["cosine_to_means"]) if v is not None))
    print(f"each direction on {res['codes']} fixed codes at strengths {', '.join(f'{s:g}' for s in a.strengths)} (×σ):")
    for r in res["directions"]:
        target = f"digit {r['target']}  hit {r['hit_rate']}  " if "target" in r else ""
        print(f"  #{r['index']:<2} {target}digit changed {r['class_change']:.0%}  feature change "
              f"{r['feature_change']:.2f}  shell {r['shell']:.2f}  top moves: {_transitions_text(r['transitions'])}")
    print(f"({res['seconds']:.1f} s)")


def cmd_edit(a):
    from core.explore.directions import edit_grid, find
    from core.store.images import labelled_grid, save_png
    from core.store.registry import load_model
    m = load_model(a.model, prior=a.prior)
    d = find(m.G, m.prior, a.method, a.k, seed=a.seed)
    res = edit_grid(m.G, m.prior, d, a.direction, a.strengths, seeds=a.seeds, seed=a.seed)
    img = labelled_grid(res["images"], [int(v) for v in res["labels"]], nrow=len(res["strengths"]),
                        titles=[f"{s:+g}σ" for s in res["strengths"]])
    out = save_png(img, a.out)
    labels = res["labels"].reshape(a.seeds, -1).tolist()
    if a.json:
        print(json.dumps({"out": str(out), "model": a.model, "method": a.method, "direction": a.direction,
                          "strengths": res["strengths"], "labels": labels}, indent=2))
        return
    print(f"{a.model} · {a.method} direction {a.direction}: {a.seeds} codes × {len(res['strengths'])} strengths -> {out}")
    for row in labels:
        print("  " + " ".join(str(v) for v in row))


METHODS = ("sefa", "pca", "class")  # core.explore.directions.METHODS (not imported here: torch loads slowly)
STRENGTHS = (-3.0, -1.5, 1.5, 3.0)  # core.explore.directions.STRENGTHS


def cmd_atlas(a):
    from core.explore.atlas import atlas, atlas_image, mosaic_indices
    from core.store.images import DIGIT_COLOURS, save_grid, save_png
    res = atlas(a.model, a.through.split(","), res=a.res, prior=a.prior)
    out = save_png(atlas_image(res, DIGIT_COLOURS), a.out)
    side = min(16, a.res)
    mosaic = save_grid(res["images"][mosaic_indices(a.res, side)], a.mosaic, nrow=side) if a.mosaic else None
    keys = ("model", "through", "about", "res", "cell", "share", "boundary_edges", "boundary_length", "hybrid_share",
            "hybrid_threshold", "seconds")
    if a.json:
        print(json.dumps({**{k: res[k] for k in keys}, "out": str(out), "mosaic": mosaic and str(mosaic)}, indent=2))
        return
    print(f"{a.model}: the plane through {' · '.join(res['about'])} on {a.res}×{a.res} cells -> {out}"
          + (f" (mosaic {mosaic})" if mosaic else ""))
    owned = sorted(((s, d) for d, s in enumerate(res["share"]) if s), reverse=True)
    print("share of the plane: " + "  ".join(f"{d}: {s:.1%}" for s, d in owned))
    print(f"boundary {res['boundary_length']:.2f} (z units, {res['boundary_edges']} cell edges); hybrid cells "
          f"(confidence < {res['hybrid_threshold']}) {res['hybrid_share']:.1%}  ({res['seconds']:.1f} s)")


def add_parsers(sub) -> None:
    s = sub.add_parser("directions", help="directions in z (SeFa, GANSpace PCA, class boundaries) and what each does")
    add_model(s)
    s.add_argument("--method", required=True, choices=METHODS)
    s.add_argument("--k", type=positive_int, default=10, help="how many (the class method always finds ten)")
    s.add_argument("--strengths", type=float_list, default=list(STRENGTHS), help="edits in units of σ along each")
    s.add_argument("--n", type=positive_int, default=4000, help="prior samples the pca and class methods fit on")
    s.add_argument("--codes", type=positive_int, default=32, help="fixed codes each direction is measured on")
    add_prior(s)
    add_seed(s)
    add_json(s)
    s.set_defaults(fn=cmd_directions)

    s = sub.add_parser("edit", help="a grid of digits moved along one direction: rows are codes, columns strengths")
    add_model(s)
    s.add_argument("--method", required=True, choices=METHODS)
    s.add_argument("--direction", type=int, required=True, help="its index (for class: the digit)")
    s.add_argument("--k", type=positive_int, default=10)
    s.add_argument("--strengths", type=float_list, default=[-3, -1.5, 0, 1.5, 3])
    s.add_argument("--seeds", type=positive_int, default=8, help="how many codes (rows)")
    add_prior(s)
    s.add_argument("--out", default="edit.png")
    add_seed(s)
    add_json(s)
    s.set_defaults(fn=cmd_edit)

    s = sub.add_parser("atlas", help="the plane through three codes, each cell coloured by the digit read there")
    add_model(s)
    s.add_argument("--through", required=True, help="three of random:SEED, class:C, component:K, real:I (comma-separated)")
    s.add_argument("--res", type=positive_int, default=64, help="cells per side")
    add_prior(s)
    s.add_argument("--out", default="atlas.png")
    s.add_argument("--mosaic", help="also write the digits of a 16×16 sample of the cells here")
    add_json(s)
    s.set_defaults(fn=cmd_atlas)
