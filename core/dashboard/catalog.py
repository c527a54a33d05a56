"""Every model the user can look at — the shipped zoo, imported models and their own runs — with what the
dashboard shows about each: status, stored scores, latest grid, curves, digits from shared
noise, and a per-class report. Reading never trains or scores anything by itself."""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import ConfigError, LabError
from core.eval.names import METRICS

if TYPE_CHECKING:  # torch comes with the models: listing them (the first page) reads files only
    import torch

    from core.store.registry import LoadedModel

SCORE_KEYS = (*METRICS, "cond_acc")  # a leaderboard row's scores (cond_acc: conditional models only)
LATENT_COLUMNS = ("ppl", "separability", "authenticity")  # `score --latent`'s, where they were measured


def list_models() -> list[dict]:
    """Zoo models first, then imported models, then runs (newest last). A run that cannot be read is listed with
    status 'unreadable' and its reason; it never hides the others."""
    from core.eval.score_files import cached_scores
    from core.store.files import imported_dir
    from core.store.registry import imported_info, list_imported, zoo_dir
    from core.store.runs import list_runs
    from core.train import zoo
    rows = []
    zoo_models = sorted(zoo.index().items(), key=lambda kv: (kv[1].get("scores") or {}).get("fid", float("inf")))
    for name, e in zoo_models:  # best FID first
        rows.append({"name": name, "source": "zoo", "variant": name, "status": "done", "epochs": e["epochs"],
                     "train_seconds": e.get("train_seconds"), "scores": _zoo_scores(name, e.get("scores")),
                     "grid": str(zoo_dir(name) / "samples.png"), "command": _zoo_command(name),
                     "recipe": e.get("recipe"), "latent": _latent(name)})
    for name in list_imported():
        info = imported_info(name)
        grid = imported_dir() / name / "samples.png"
        try:
            scores = cached_scores(name)
        except LabError as exc:
            rows.append({"name": name, "source": "imported", "variant": None, "status": "unreadable",
                         "scores": None, "grid": None, "reason": str(exc).splitlines()[0]})
            continue
        rows.append({"name": name, "source": "imported", "variant": info.get("variant"), "status": "imported",
                     "epochs": None, "train_seconds": None, "scores": scores, "latent": _latent(name),
                     "grid": str(grid) if grid.is_file() else None, "command": info.get("command"),
                     "critic": info.get("critic", True), "layout": info.get("layout")})
    for run in list_runs():
        try:
            s = run.summary()
            scores = cached_scores(run.id) if run.checkpoint_path.is_file() else None
            grid = run.latest_sample()
            rows.append({"name": run.id, "source": "run", "variant": s["variant"], "status": s["status"],
                         # the epochs it reached (a cancelled or step-limited run stops short of its config's)
                         "epochs": s["epoch"], "epochs_planned": s["epochs"], "train_seconds": s["seconds"],
                         "scores": scores, "latent": _latent(run.id) if scores else None,
                         "grid": str(grid) if grid else None, "reason": s.get("reason"),
                         "command": _run_command(run), "recipe": _recipe(run.config())})
        except (LabError, OSError, ValueError, KeyError) as exc:
            rows.append({"name": run.id, "source": "run", "variant": None, "status": "unreadable",
                         "scores": None, "grid": None, "reason": str(exc).splitlines()[0]})
    return rows


def _zoo_scores(name: str, summary: dict | None) -> dict | None:
    """A zoo model's scores: zoo.json's summary, with the class histogram of its shipped
    scores.json where that was computed from this checkpoint and classifier (Compare reads it
    instead of classifying 1000 digits per model on a first visit)."""
    from core.eval.score_files import cached_scores
    try:
        full = cached_scores(name) or {}
    except (LabError, OSError):
        full = {}
    return {**summary, "class_hist": full["class_hist"]} if summary and full.get("class_hist") else summary


def _latent(name: str) -> dict | None:
    """A model's stored latent numbers (`score --latent`; shipped for the zoo), or None."""
    from core.explore.latent_scores import cached_latent
    try:
        return cached_latent(name)
    except (LabError, OSError):
        return None


def _zoo_command(name: str) -> str | None:
    """The command that trained a shipped model, as recorded by `zoo export`."""
    from core.store.registry import zoo_dir
    try:
        return json.loads((zoo_dir(name) / "config.json").read_text()).get("command")
    except (OSError, ValueError, AttributeError):
        return None


def _recipe(cfg: dict) -> str | None:
    """"default", "seed" or "custom" (`variants.recipe_of`); None for a config it cannot read."""
    from core.gan.variants import recipe_of
    try:
        return recipe_of(cfg)
    except (LabError, KeyError, TypeError, ValueError):
        return None


def _run_command(run) -> str | None:
    """The command line that started a run (as recorded in its config.json)."""
    argv = run.argv()
    return " ".join(["python -m core", *argv]) if argv else None


def usable(rows: list[dict]) -> list[str]:
    """Names of models that have weights to sample from."""
    from core.store.registry import resolve
    out = []
    for r in rows:
        if r["status"] == "unreadable":
            continue
        try:
            resolve(r["name"])
            out.append(r["name"])
        except LabError:
            pass
    return out


def mixture_variants() -> list[str]:
    """The variants whose prior is a Gaussian mixture (fixed or learnable; every prior but the
    plain Gaussian is one): the models of these the GMM editor can edit."""
    from core.gan.variants import VARIANTS
    return [name for name, v in VARIANTS.items() if v.prior != "gaussian"]


def mixture_models(rows: list[dict], usable_names: list[str]) -> list[str]:
    """The usable models of a `mixture_variants` variant, whatever they are called (a run or an
    imported model is found by its variant, never by its name)."""
    variant = {r["name"]: r.get("variant") for r in rows}
    mixtures = set(mixture_variants())
    return [n for n in usable_names if variant.get(n) in mixtures]


def leaderboard_rows(rows: list[dict], floor: dict | None, ranked: bool = False) -> list[dict]:
    """Flat table rows: the real-data floor first, then every model (blank scores if not scored
    yet) in the order given, or `ranked` by FID (zoo, imported and runs alike; the ones not scored
    yet last, in their order): the leaderboard ranks, Compare keeps the user's order."""
    out = []
    if floor:
        out.append({"model": "real data (floor)", "source": "floor", "variant": "", "status": "",
                    **{k: floor.get(k) for k in SCORE_KEYS}, "command": "python -m core score --real"})
    for r in rows:
        s = r.get("scores") or {}
        seconds = r.get("train_seconds")
        lat = r.get("latent") or {}
        out.append({"model": r["name"], "source": r["source"], "variant": r.get("variant") or "",
                    "status": r["status"], **{k: s.get(k) for k in SCORE_KEYS},
                    **{k: lat.get(k) for k in LATENT_COLUMNS}, "recipe": r.get("recipe"),
                    "epochs": r.get("epochs"), "train_min": None if seconds is None else round(seconds / 60, 1),
                    "command": r.get("command")})
    if not ranked:
        return out
    head = 1 if floor else 0
    return out[:head] + sorted(out[head:], key=lambda r: (r["fid"] is None, r["fid"] or 0.0))  # stable


def curves(name: str) -> dict[str, list]:
    """Per-epoch curves {key: [[epoch, value], ...]} of a zoo model or a run ({} for an
    imported model: it was trained elsewhere)."""
    from core.store.registry import imported_checkpoint, zoo_dir
    from core.store.runs import Run
    from core.train import zoo
    if imported_checkpoint(name):
        return {}
    if name in zoo.index():
        p = zoo_dir(name) / "curves.json"
        return json.loads(p.read_text()) if p.is_file() else {}
    run = Run.open(name)
    if not (run.path / "metrics.sqlite").is_file():
        return {}
    return zoo.curves_of(run)


def config_diff(configs: dict[str, dict]) -> list[dict]:
    """The knobs on which the compared models' configs differ (as W&B's run comparer shows them):
    one row per knob, {"knob": k, model: value, ...}; a model whose config lacks it gets None."""
    keys = sorted({k for c in configs.values() for k in c})
    rows = []
    for k in keys:
        vals = {name: c.get(k) for name, c in configs.items()}
        if len({json.dumps(v, sort_keys=True, default=str) for v in vals.values()}) > 1:
            rows.append({"knob": k, **vals})
    return rows


def no_timeline_reason(row: dict, cfg: dict | None = None) -> str:
    """Why a model has no training timeline, in a few words, from its model-list row."""
    if row.get("source") == "imported":
        return "no timeline: imported (trained elsewhere)"
    if cfg is not None and not cfg.get("eval_every", 1):
        return "no timeline: trained with the recorder off (eval_every 0)"
    if row.get("source") == "run" and not row.get("epochs"):
        return "no timeline yet: no epoch finished"
    return "no timeline: trained before the recorder"


def run_metrics(name: str) -> dict[str, list]:
    """Every logged row of a run, {key: [[step, epoch, value, wall], ...]} (for live curves;
    wall = seconds since the run's first logged row)."""
    from core.store.runs import Run
    rows = Run.open(name).metrics()
    out: dict[str, list] = {}
    t0 = min((r[2] for r in rows), default=0.0)
    for step, epoch, wall, key, value in rows:
        out.setdefault(key, []).append([step, epoch, value, wall - t0])
    return out


def smooth(values, weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased so the first points
    are not pulled toward zero. weight 0 = the raw values, 0.99 = very smooth."""
    if not 0 <= weight < 1:
        raise ConfigError(f"smoothing must be in [0, 1), got {weight}")
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * float(v)
        out.append(avg / (1 - weight ** i) if weight else float(v))
    return out


def eta_seconds(status: dict) -> float | None:
    """Time left for a running run at its average speed so far (None until it has a pace)."""
    step, total, secs = status.get("step") or 0, status.get("total_steps") or 0, status.get("train_seconds") or 0
    if status.get("status") != "running" or step <= 0 or secs <= 0 or total <= step:
        return None
    return secs / step * (total - step)


def progress_note(status: dict, now: float | None = None) -> str:
    """What a running run is doing, in words: its trainer's phase (measuring the machine, the
    first steps before any curve, an epoch's grid / record / checkpoint) and how long ago it was
    started; before the trainer's first word, that it is starting (loading torch and the data)."""
    import time
    now = time.time() if now is None else now
    ago = max(0.0, now - (status.get("created") or now))
    phase = status.get("phase") or "starting: loading torch and the data"
    return f"{phase[0].upper()}{phase[1:]} · started {ago:.0f} s ago"


def version(name: str, prior: str | None = None) -> str:
    """A token that changes whenever the model's checkpoint or the named prior file is
    rewritten (a run checkpoints every epoch; `invert` may overwrite a prior): pass it to any
    cache of results derived from the model."""
    from core.store.registry import prior_token, resolve
    token = str(resolve(name).stat().st_mtime_ns)
    if prior:
        token += f":{prior_token(name, prior, lambda p: p.stat().st_mtime_ns)}"
    return token


@functools.lru_cache(maxsize=16)
def _loaded(name: str, ver: str, prior: str | None):
    from core.store.registry import load_model
    return load_model(name, prior=prior)


def loaded(name: str, prior: str | None = None) -> LoadedModel:
    """A model's `LoadedModel` (core.store.registry), memoised per checkpoint/prior file version."""
    return _loaded(name, version(name, prior), prior)


def shared_noise_digits(name: str, n: int = 100, seed: int = 0, prior: str | None = None,
                        class_weights: str = "uniform"):
    """n digits from the model with the seed's noise; trained mixtures in blocks of equal
    components (so two models of the same prior get the same ε and components; their π is
    uniform), a fitted prior by its own weights π_k. A conditional model with class_weights
    'mnist' is asked for classes at MNIST's frequencies (sorted). Returns (images, y)."""
    import torch

    from core.eval.score import check_class_weights, requested_classes
    from core.gan.sampling import generate
    m = loaded(name, prior)
    g = torch.Generator().manual_seed(seed)
    y = requested_classes(n, class_weights, g)
    if y is not None:
        check_class_weights(m.variant.name, m.conditional, prior, class_weights)
        y = y.sort().values
    elif m.prior.k and m.prior.kind != "fitted":
        y = torch.arange(n) * m.prior.k // n
    return generate(m.G, m.prior, n, y=y, generator=g)


def classify(images: torch.Tensor) -> dict:
    """The classifier's reading of each digit: labels, confidence, runner-up label (the
    expensive part of a class report; everything threshold-dependent is in class_summary)."""
    from core.eval.classifier import predict
    from core.eval.score import classifier
    out = predict(classifier(), images)
    return {"labels": out["labels"].numpy(), "confidence": out["confidence"].numpy(),
            "runner_up": out["probs"].topk(2, dim=1).indices[:, 1].numpy()}


def class_summary(cls: dict, threshold: float = 0.9, hybrids: int = 20) -> dict:
    """From `classify`: the inferred-label histogram (all digits and those at or above the
    confidence threshold), the least confident ("hybrid") digits, and the indices of each
    class, most confident first. Milliseconds: reruns on every threshold change."""
    from core.eval.metrics import class_histogram, kl_to_uniform
    lab, conf = cls["labels"], cls["confidence"]
    sure = conf >= threshold
    order = np.argsort(conf, kind="stable")
    by_conf = np.argsort(-conf, kind="stable")
    by_class = {c: [int(i) for i in by_conf[lab[by_conf] == c]] for c in range(10)}
    hist = class_histogram(lab)
    return {**cls, "hist": hist, "class_kl": kl_to_uniform(hist),
            "hist_confident": class_histogram(lab[sure]) if sure.any() else np.zeros(10),
            "confident_fraction": float(sure.mean()), "hybrids": [int(i) for i in order[:hybrids]],
            "by_class": by_class}


def class_report(images: torch.Tensor, threshold: float = 0.9, hybrids: int = 20) -> dict:
    """class_summary(classify(images)): the classifier's whole view of a set of digits."""
    return class_summary(classify(images), threshold, hybrids)


def real_class_hist() -> np.ndarray:
    """The test split's digit frequencies."""
    from core.eval.metrics import class_histogram
    from core.eval.score import test_labels
    return class_histogram(test_labels())


def grid_path_ok(path: str | None) -> bool:
    return bool(path) and Path(path).is_file()
