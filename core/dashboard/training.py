"""A training run as the Train page shows it: the knobs its launch form offers and what they
change, its progress line, what its config changed from the variant's defaults, its fine-tune
history, and its critic-weight histograms as chart data. Pure functions of a run's status,
config and records: the page draws them."""
from __future__ import annotations

import math

from core.dashboard.catalog import eta_seconds
from core.gan.losses import weight_histogram_centres
from core.gan.variants import ARCHITECTURE, BASE, HOUSEKEEPING, get_variant, make_config

RESUMABLE = ("cancelled", "failed")  # a run that stopped early: resumed from its checkpoint, or restarted


def form_knobs(variant: str) -> list[str]:
    """The knobs a launch form (Train, Sweeps) offers for a variant: the ones it uses, less
    the housekeeping and the networks' shape (set those with `--set`)."""
    return [k for k in get_variant(variant).knobs() if k not in HOUSEKEEPING + ARCHITECTURE]


def float_step(value: float) -> float:
    """A "+" that nudges a value by a tenth of its order of magnitude (0.001 -> 0.0011, not 0.01)."""
    return 10.0 ** (math.floor(math.log10(abs(value))) - 1) if value else 0.01


def launch_overrides(values: dict, defaults: dict, minutes: float = 0.0) -> dict:
    """What a launch form sends to `train --set`: only the knobs whose value differs from the
    variant's defaults (`defaults`, today's), plus a wall-time limit as max_seconds."""
    out = {k: v for k, v in values.items() if v != defaults[k]}
    if minutes:
        out["max_seconds"] = round(60 * minutes, 3)
    return out


def changed_from_defaults(cfg: dict) -> dict:
    """The knobs of a run's config that differ from its variant's defaults today (every knob a
    variant has; the run's own bookkeeping is left out)."""
    defaults = make_config(cfg["variant"])
    return {k: v for k, v in cfg.items() if k in BASE and v != defaults.get(k)}


def eta_text(status: dict) -> str:
    """' · ~12 min left' for a running run with a pace, else ''."""
    eta = eta_seconds(status)
    if eta is None:
        return ""
    return f" · ~{eta / 60:.0f} min left" if eta >= 90 else f" · ~{eta:.0f} s left"


def progress_text(status: dict, cfg: dict) -> str:
    """The progress bar's line: variant, state, step, epoch, training time and time left."""
    total = status.get("total_steps") or 0
    return (f"{cfg['variant']} · {status.get('status', '?')} · step {status.get('step', 0)}/{total or '?'} · epoch "
            f"{status.get('epoch', 0)}/{cfg['epochs']} · {status.get('train_seconds') or 0:.0f} s" + eta_text(status))


def progress_fraction(status: dict) -> float:
    """How far a run is through its steps, in [0, 1] (0 before the trainer knows its total)."""
    total = status.get("total_steps") or 0
    return min((status.get("step") or 0) / total, 1.0) if total else 0.0


def fine_tune_changes(cfg: dict, lr_g: float, lr_d: float) -> dict:
    """The `--set` changes of a fine-tune: the new learning rates, and no step limit (a run that
    stopped at its max_steps would otherwise stop again at once)."""
    return {"lr_g": lr_g, "lr_d": lr_d, **({"max_steps": 0} if cfg.get("max_steps") else {})}


def history_lines(history: list[dict]) -> list[str]:
    """One line per fine-tune of a run: 'At step 500 (epoch 5): lr_g 0.0002 → 0.0001, …'."""
    def change(k, old, new):
        return f"{k} {old:g} → {new:g}" if isinstance(old, (int, float)) else f"{k} {old} → {new}"
    return [f"At step {h['step']} (epoch {h['epoch']}): "
            + ", ".join(change(k, old, new) for k, (old, new) in h["changes"].items()) for h in history]


def weight_hist_chart(hist: dict) -> dict:
    """One epoch's record of the critic's weights before clipping (`Run.weight_hists`) as chart
    data: the clipping value c, the bins' centres over ±2c, and each layer's fraction per bin
    ({layer number: fractions}, in layer order)."""
    c = hist["c"]
    layers = sorted((k for k in hist if k.startswith("l") and k[1:].isdigit()), key=lambda k: int(k[1:]))
    if not layers:
        return {"c": c, "centres": [], "layers": {}}
    return {"c": c, "centres": weight_histogram_centres(c, len(hist[layers[0]])),
            "layers": {int(k[1:]): [n / max(1, sum(hist[k])) for n in hist[k]] for k in layers}}
