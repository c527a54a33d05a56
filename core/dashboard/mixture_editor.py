"""Editing a mixture prior by hand (the dashboard's GMM editor): the component means shown in
the 2-D plane of their principal components, moved there and mapped back to latent space,
with per-component σ, and the digits / class histogram of the edited prior."""
from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch

from core.errors import ConfigError
from core.eval.metrics import reads_as  # noqa: F401 - the editor's captions use it as gmm.reads_as


def means_plane(means: torch.Tensor) -> dict:
    """PCA of the K means: xy (K×2) coordinates, the 2×d basis and the centre. Moving a point
    by Δ in the plane moves its mean by Δ·basis in latent space (other directions kept)."""
    m = means.detach().double().cpu()
    if m.shape[0] < 2:
        raise ConfigError("the GMM editor needs a mixture prior with at least 2 components")
    centre = m.mean(0)
    _, _, vh = torch.linalg.svd(m - centre, full_matrices=False)
    basis = vh[:2]
    if basis.shape[0] < 2:  # two components span one direction: add any orthogonal one
        extra = torch.linalg.qr(torch.cat([basis, torch.eye(m.shape[1], dtype=m.dtype)[:1]]).T).Q.T[1:2]
        basis = torch.cat([basis, extra])
    return {"xy": ((m - centre) @ basis.T).numpy(), "basis": basis.numpy(), "centre": centre.numpy()}


def drag_target(value, n_components: int) -> tuple[int, np.ndarray]:
    """(component, plane position) of a drag event {"index", "x", "y"} — or ConfigError if the
    event names no component or a position that is not two finite numbers."""
    try:
        k = value["index"]
        if not _is_number(k) or not float(k).is_integer():
            raise ValueError
        k = int(k)
    except (TypeError, KeyError, ValueError, OverflowError):
        raise ConfigError(f"a drag must name a component 0–{n_components - 1}, got {value!r}"[:200]) from None
    if not 0 <= k < n_components:
        raise ConfigError(f"component {k} does not exist (the prior has {n_components})")
    return k, plane_position([value.get("x"), value.get("y")])


def _is_number(v) -> bool:
    """An int or float (numpy's too) — never a string or a bool that would convert quietly."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def plane_position(xy) -> np.ndarray:
    """xy as two finite floats, or ConfigError (a NaN would silently become a NaN mean)."""
    try:
        out = np.asarray(xy, dtype=np.float64).reshape(2)
        if isinstance(xy, (list, tuple)) and not all(map(_is_number, xy)):
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"a position must be two numbers, got {xy!r}"[:200]) from None
    if not np.isfinite(out).all():
        raise ConfigError(f"a position must be two finite numbers, got {out.tolist()}")
    return out


def move_mean(means: torch.Tensor, plane: dict, k: int, xy) -> torch.Tensor:
    """A copy of the means with component k moved to plane position xy (two finite numbers)."""
    if not 0 <= k < len(means):
        raise ConfigError(f"component {k} does not exist (the prior has {len(means)})")
    delta = (plane_position(xy) - plane["xy"][k]) @ plane["basis"]
    out = means.detach().clone()
    out[k] += torch.as_tensor(delta, dtype=out.dtype, device=out.device)
    if not torch.isfinite(out[k]).all():  # finite in float64, beyond float32's range
        raise ConfigError(f"position {plane_position(xy).tolist()} is too far out: the mean would not be finite")
    return out


def edited(prior, means: torch.Tensor | None = None, sigmas: torch.Tensor | None = None):
    """A copy of a mixture prior with new means and/or σ per component (the model's own prior
    is never touched)."""
    if not hasattr(prior, "log_sigma"):
        raise ConfigError("only a trained mixture prior (gm-*, cwgan-gp, gmm-cwgan-gp) can be edited")
    p = copy.deepcopy(prior)
    with torch.no_grad():
        if means is not None:
            p.means.copy_(means)
        if sigmas is not None:
            s = torch.as_tensor(sigmas, dtype=p.log_sigma.dtype)
            if not ((s > 0) & torch.isfinite(s)).all():
                raise ConfigError("σ must be a positive, finite number")
            p.log_sigma.copy_(s.log())
    return p


def component_digits(G, prior, k: int, n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n digits of component k (same ε for a given seed, whatever the edit)."""
    z, y = prior.sample(n, y=torch.full((n,), k, dtype=torch.long), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return G(z, y), y


def component_view(G, prior, k: int, n: int = 64, seed: int = 0) -> dict:
    """What the editor shows for component k: its n digits with the classifier's labels."""
    from core.eval.classifier import predict
    from core.eval.score import classifier
    x, _ = component_digits(G, prior, k, n, seed)
    out = predict(classifier(), x)
    return {"images": x, "labels": out["labels"].numpy(), "confidence": out["confidence"].numpy()}


def component_names(labels: dict[int, np.ndarray]) -> list[str]:
    """'c3→7': each component named by the digit it makes most now (after any edit), from the
    classifier's labels of its digits; 'c3' when it has none."""
    out = []
    for j in sorted(labels):
        top = reads_as(labels[j], top=1)
        out.append(f"c{j}→{top[0][0]}" if top else f"c{j}")
    return out


def mixture_histogram(views: dict[int, dict], weights=None) -> np.ndarray:
    """Class histogram of the mixture from per-component views (a drag re-computes only the
    dragged component's view, so the histogram updates without re-classifying the rest)."""
    hist = np.zeros(10)
    for k, v in views.items():
        w = 1.0 if weights is None else float(weights[k])
        hist += w * np.bincount(v["labels"], minlength=10) / max(len(v["labels"]), 1)
    return hist / hist.sum() if hist.sum() else hist


def bench_edit(model: str = "gm-dynamic", frames: int = 20) -> dict:
    """Server-side latency of the dashboard's interactive calls, median of `frames` repeats:
    one drag (move a mean, 64 digits of that component classified, the mixture's class
    histogram updated), one interpolation step (one frame + its label) and one step of the
    Directions page's strength slider (16 digits edited and read)."""
    from core.dashboard.catalog import loaded
    from core.eval.classifier import predict
    from core.eval.score import classifier
    from core.explore.latent import endpoint, interpolate
    lm = loaded(model)
    G, prior, cond = lm.G, lm.prior, lm.conditional
    plane = means_plane(prior.means)
    predict(classifier(), torch.zeros(2, 784))  # warm
    views = {k: component_view(G, prior, k) for k in range(prior.k)}
    drag = []
    for i in range(frames):
        t0 = time.perf_counter()
        m = move_mean(prior.means, plane, 0, plane["xy"][0] + 0.1 * (i + 1))
        views[0] = component_view(G, edited(prior, means=m), 0)
        mixture_histogram(views)
        drag.append(time.perf_counter() - t0)
    a, b = endpoint(G, prior, "random:0", cond), endpoint(G, prior, "random:1", cond)
    step = []
    for _ in range(frames):
        t0 = time.perf_counter()
        interpolate(G, a, b, frames=2)  # the slider's frame (and its endpoint) with labels
        step.append(time.perf_counter() - t0)
    from core.explore import directions
    d = directions.find(G, prior, "sefa", 10)
    slide = []
    for s in np.linspace(-4, 4, frames):  # the Directions page's strength slider: 16 digits edited and read
        t0 = time.perf_counter()
        directions.edit_grid(G, prior, d, 0, [0.0, float(s)], seeds=16)
        slide.append(time.perf_counter() - t0)
    return {"model": model, "drag_ms": round(1000 * float(np.median(drag)), 1),
            "interpolation_step_ms": round(1000 * float(np.median(step)), 1),
            "direction_step_ms": round(1000 * float(np.median(slide)), 1), "repeats": frames}


def drag_scale(prior, k: int) -> float:
    """How far a sample of component k typically lies from its mean, σ_k·√d: a drag much
    shorter than this barely changes the digits (on gm-dynamic, σ 1.4 in 100 dimensions ≈ 14)."""
    sigmas = prior.sigmas().detach()
    return float(sigmas[k]) * math.sqrt(prior.means.shape[1])
