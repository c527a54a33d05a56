"""Plain-text output the commands share: a result as JSON or one line of text, a table of rows, and scores."""
from __future__ import annotations

import json
from collections.abc import Callable


def report(a, res: dict, line: Callable[[dict], str]) -> None:
    """A command's result: as JSON with --json, else as the line its command writes for it."""
    print(json.dumps(res, indent=2) if a.json else line(res))


def table(rows: list[dict], cols: list[str]) -> str:
    cells = [[("" if r.get(c) is None else (f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c])))
              for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def score_text(res: dict, tag: str | None = None) -> str:
    """A score (`core.eval.score`'s dict) as text: with a tag, one line of a before/after pair (refine,
    invert); without, the full block headed by its model (score)."""
    prdc = "  ".join(f"{k} {res[k]:.3f}" for k in ("precision", "recall", "density", "coverage"))
    if tag is not None:
        return f"{tag:<7} fid {res['fid']:.3f}  {prdc}  class_kl {res['class_kl']:.4f}"
    cond = "—" if res["cond_acc"] is None else f"{res['cond_acc']:.3f}"
    return (f"{res.get('model', '')}: FID (classifier features) {res['fid']:.3f}  {prdc}\n"
            f"class KL to uniform {res['class_kl']:.4f}  cond. accuracy {cond}  confidence {res['confidence']:.3f}  "
            f"(n={res['n']}, {res['seconds']:.1f} s)\nclass histogram "
            + " ".join(f"{i}:{h:.3f}" for i, h in enumerate(res["class_hist"])) + _latent_text(res))


def _latent_text(res: dict) -> str:
    """score --latent's line (core.explore.latent_scores), when it was asked for."""
    if "ppl" not in res:
        return ""
    agree = "—" if res.get("component_agreement") is None else f"{res['component_agreement']:.3f}"
    return (f"\nlatent: PPL {res['ppl']:.1f}  separability {res['separability']:.3f}  component agreement {agree}  "
            f"authenticity {res['authenticity']:.3f} (features) {res.get('authenticity_pixels', float('nan')):.3f} (pixels)")
