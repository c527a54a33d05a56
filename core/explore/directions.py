"""Directions in a generator's latent space, and what moving along them does to the digit.

Three ways to find k unit directions u_i in z (each a row of `Directions.vectors`):

- `sefa` (Shen & Zhou 2021, closed form): the top right-singular vectors of the generator's first
  linear weight, restricted to the z columns (a conditional generator's first layer also sees the
  16-d label embedding; those columns are left out, so the directions move z with the class fixed).
- `pca` (GANSpace, Härkönen et al. 2020): PCA of the first hidden layer's activations (after its
  LeakyReLU) over n prior samples, carried back to z by least squares: the z that best explains
  each sample's PCA coordinates, U = argmin Σ‖U c_i − z_i‖², one column per component.
- `class` (InterFaceGAN, Shen et al. 2020): ten one-vs-rest logistic regressions that predict the
  digit the classifier reads from z; each boundary's unit normal is that digit's direction. Its
  held-out accuracy is the model's linear separability of classes in z.

An edit is z + s · σ_i · u_i, with s a strength in units of σ_i, the prior's standard deviation
along u_i (measured on the same prior samples; 1 for N(0, I)). The class of a conditional model
stays the one it was asked for. `measure` edits fixed codes at fixed strengths and reports what the
classifier reads (core.eval.classifier).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from core.errors import ConfigError

METHODS = ("sefa", "pca", "class")
STRENGTHS = (-3.0, -1.5, 1.5, 3.0)  # the default edits, in units of σ along the direction
FIT_N = 4000  # prior samples the pca and class methods fit on
CODES = 32  # codes each direction is measured on (fixed by the seed)


@dataclass
class Directions:
    method: str
    vectors: torch.Tensor  # k × z_dim, unit rows
    sigma: torch.Tensor  # (k,) the prior's standard deviation along each direction
    about: str  # how they were found, in words
    extra: dict = field(default_factory=dict)  # singular values, explained variance, separability…
    targets: list[int | None] | None = None  # `class`: the digit each direction is for

    def __len__(self) -> int:
        return len(self.vectors)


def first_linear(G) -> nn.Linear:
    """The generator's first layer when it is linear (every course generator's is)."""
    leaves = (m for m in G.modules() if not any(True for _ in m.children()))
    first = next((m for m in leaves if any(True for _ in m.parameters(recurse=False))
                  and not isinstance(m, nn.Embedding)), None)
    if not isinstance(first, nn.Linear):
        raise ConfigError(f"this generator's first layer is {type(first).__name__}, not a linear layer: "
                          "sefa and pca need one")
    return first


def _z_weight(G) -> torch.Tensor:
    """The first layer's weight over z (out × z_dim): a conditional generator's embedding columns dropped."""
    w = first_linear(G).weight.detach().double()
    return w[:, :G.z_dim] if getattr(G, "z_dim", None) else w


def _read(x: torch.Tensor) -> dict:
    from core.eval.classifier import predict
    from core.eval.score import classifier
    return predict(classifier(), x, features=True)


def _samples(G, prior, n: int, seed: int):
    from core.gan.sampling import propose
    return propose(G, prior, n, torch.Generator().manual_seed(seed))


def sefa(G, k: int) -> tuple[torch.Tensor, dict, str]:
    w = _z_weight(G)
    _, s, vh = torch.linalg.svd(w, full_matrices=False)
    about = "top right-singular vectors of the first linear layer's weight"
    if getattr(G, "embed", None) is not None:
        about += " over z (the label embedding's columns left out: the class stays fixed)"
    return vh[:k].float(), {"singular_values": [round(float(v), 5) for v in s[:k]]}, about


def _hidden(G, z: torch.Tensor, y) -> torch.Tensor:
    """The first hidden layer's activations (after its nonlinearity)."""
    lin = first_linear(G)
    inp = z
    if getattr(G, "embed", None) is not None:
        inp = torch.cat([z, G.embed(y)], dim=1)
    h = lin(inp)
    act = G.net[1] if hasattr(G, "net") and len(G.net) > 1 and not isinstance(G.net[1], nn.Linear) else None
    return act(h) if act is not None else h


def ganspace(G, z: torch.Tensor, y, k: int):
    """GANSpace on the prior samples z (and the classes y a conditional G is given)."""
    n = len(z)
    with torch.no_grad():
        h = _hidden(G, z, y).double()
    mu = h.mean(0)
    _, s, vh = torch.linalg.svd(h - mu, full_matrices=False)
    coords = (h - mu) @ vh[:k].T  # n × k
    u = torch.linalg.lstsq(coords, z.double() - z.double().mean(0)).solution  # k × z_dim
    explained = (s[:k] ** 2 / (s ** 2).sum()).tolist()
    about = (f"PCA of the first hidden layer's activations over {n} prior samples, carried back to z by least "
             "squares (the z that best explains each sample's PCA coordinates)")
    return nn.functional.normalize(u, dim=1).float(), {"explained_variance": [round(v, 5) for v in explained]}, about


def fit_linear_classes(z: torch.Tensor, labels: torch.Tensor, holdout: float = 0.2, seed: int = 0,
                       l2: float = 1e-3) -> dict:
    """Ten one-vs-rest logistic regressions of the digit read on z (fitted on 1 − holdout of the
    codes): {"weights" 10 × d, "bias", "accuracy" (held out, argmax of the ten scores), "n_fit", "counts"}."""
    z = z.float()  # float32: LBFGS stops in ~20 iterations at the float64 fit's normals (cos 1.0; 0.03 vs 1.5 s)
    n = len(z)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cut = int(round(n * (1 - holdout)))
    fit, held = perm[:cut], perm[cut:]
    mu, sd = z[fit].mean(0), z[fit].std(0).clamp_min(1e-8)
    zs = (z - mu) / sd
    target = nn.functional.one_hot(labels.long(), 10).float()
    w = torch.zeros(10, z.shape[1], requires_grad=True)
    b = torch.zeros(10, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def loss():
        opt.zero_grad()
        out = nn.functional.binary_cross_entropy_with_logits(zs[fit] @ w.T + b, target[fit], reduction="mean")
        out = out + l2 * (w * w).sum() / 2
        out.backward()
        return out

    opt.step(loss)
    w_z = (w.detach() / sd)  # the boundaries in z's own units: score = w_z·z + b'
    with torch.no_grad():
        pred = (zs[held] @ w.T + b).argmax(1)
    acc = float((pred == labels[held]).float().mean()) if len(held) else float("nan")
    return {"weights": w_z.float(), "bias": (b.detach() - (w.detach() * mu / sd).sum(1)).float(), "accuracy": acc,
            "n_fit": cut, "n_held": n - cut, "counts": torch.bincount(labels.long(), minlength=10).tolist()}


def toward_means(prior, comp: torch.Tensor, labels: torch.Tensor, vectors: torch.Tensor) -> list[float | None]:
    """For a mixture prior: the cosine between each digit's direction and the way from the mean of the
    components' means to the means of the components that make that digit (weighted by how often each
    does, in the fit's samples) — for a conditional model, its class's component mean. None where no
    code reads as the digit."""
    means = prior.means.detach().float()
    centre = means.mean(0)
    out = []
    for c in range(10):
        counts = torch.bincount(comp[labels == c].long(), minlength=len(means)).float()
        if counts.sum() == 0:
            out.append(None)
            continue
        way = (counts / counts.sum()) @ means - centre
        out.append(round(float(nn.functional.cosine_similarity(way, vectors[c], dim=0)), 4))
    return out


def read_and_fit(z: torch.Tensor, x: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, dict]:
    """The digits read in x (the images of the codes z) and the ten linear boundaries fitted on them."""
    labels = _read(x)["labels"]
    return labels, fit_linear_classes(z, labels, seed=seed)


def class_boundaries(prior, z: torch.Tensor, comp, x: torch.Tensor, seed: int = 0):
    """InterFaceGAN on the prior samples z (their components comp, their images x)."""
    n = len(z)
    labels, fit = read_and_fit(z, x, seed)
    vectors = nn.functional.normalize(fit["weights"].double(), dim=1).float()
    present = [c if fit["counts"][c] >= 5 else None for c in range(10)]  # a digit (almost) never made has no boundary
    about = (f"unit normals of ten one-vs-rest logistic regressions of the digit read on z ({n} prior samples, "
             f"{fit['n_held']} held out)")
    extra = {"separability": round(fit["accuracy"], 4), "counts": fit["counts"]}
    if comp is not None and hasattr(prior, "means"):
        extra["cosine_to_means"] = toward_means(prior, comp, labels, vectors)
    return vectors, extra, about, present


def find(G, prior, method: str, k: int = 10, n: int = FIT_N, seed: int = 0) -> Directions:
    """k directions of `method` (the class method always gives ten, one per digit)."""
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    z_dim = G.z_dim
    if method != "class" and not 1 <= k <= z_dim:
        raise ConfigError(f"k must be between 1 and the latent size {z_dim}, got {k}")
    targets = None
    z, comp, x = _samples(G, prior, n, seed)  # one draw: what pca and class fit on, and every σ
    if method == "sefa":
        vectors, extra, about = sefa(G, k)
        if getattr(prior, "k", 0):  # what the first layer sees: codes of a mixture, not of N(0, I)
            about += (f"; its z come from a {prior.k}-component mixture, so σ along a direction is the mixture's "
                      "spread and an edit may leave the components (see shell)")
    elif method == "pca":
        vectors, extra, about = ganspace(G, z, comp, k)
    else:
        vectors, extra, about, targets = class_boundaries(prior, z, comp, x, seed)
    sigma = (z.double() @ vectors.double().T).std(0).float()  # the prior's spread along each direction
    return Directions(method, vectors, sigma, about, extra, targets)


def edit(z: torch.Tensor, d: Directions, index: int, strengths) -> torch.Tensor:
    """len(strengths) × N × z_dim: each code moved by s · σ_i along u_i."""
    check_index(d, index)
    s = torch.as_tensor([float(v) for v in strengths], dtype=z.dtype)
    step = (d.sigma[index] * d.vectors[index]).to(z.dtype)
    return z.unsqueeze(0) + s.view(-1, 1, 1) * step.view(1, 1, -1)


def check_index(d: Directions, index: int) -> None:
    if not 0 <= index < len(d):
        raise ConfigError(f"direction must be between 0 and {len(d) - 1} ({d.method} found {len(d)}), got {index}")


def check_strengths(strengths) -> list[float]:
    try:
        out = [float(s) for s in strengths]
    except (TypeError, ValueError):
        raise ConfigError(f"strengths must be numbers, got {strengths!r}") from None
    if not out or not all(np.isfinite(out)):
        raise ConfigError(f"strengths must be finite numbers, got {strengths!r}")
    return out


def fixed_codes(G, prior, n: int = CODES, seed: int = 0):
    """The n codes (and classes asked of a conditional model) every direction is measured on."""
    z, y, _ = _samples(G, prior, n, seed + 1000)
    return z, y


def _decode(G, z: torch.Tensor, y, batch: int = 2048) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([G(z[i:i + batch], None if y is None else y[i:i + batch]) for i in range(0, len(z), batch)])


def measure(G, prior, d: Directions, strengths=STRENGTHS, n: int = CODES, seed: int = 0) -> list[dict]:
    """Each direction applied to the same n fixed codes at each strength: how often the digit read
    changes (overall and per strength), the 10×10 transitions (digit before → after, over every
    strength), the mean change of the classifier's features, how far the edits leave the prior's
    shell (mean ‖z'‖ / mean ‖z‖ at the largest |strength|) and, for `class`, the hit rate: the share
    of edits at the strongest positive strength that read as the direction's digit."""
    strengths = check_strengths(strengths)
    z, y = fixed_codes(G, prior, n, seed)
    k, S = len(d), len(strengths)
    edits = torch.stack([edit(z, d, i, strengths) for i in range(k)])  # k × S × n × z_dim
    r0 = _read(_decode(G, z, y))
    r = _read(_decode(G, edits.reshape(-1, z.shape[1]), None if y is None else y.repeat(k * S)))
    lab0, lab = r0["labels"], r["labels"].view(k, S, n)
    f0, f = r0["features"], r["features"].view(k, S, n, -1)
    far = int(np.argmax(np.abs(strengths)))
    top = int(np.argmax(strengths))
    norm0 = float(z.norm(dim=1).mean())
    rows = []
    for i in range(k):
        changed = (lab[i] != lab0).float()
        trans = np.zeros((10, 10), dtype=int)
        np.add.at(trans, (lab0.repeat(S).numpy(), lab[i].reshape(-1).numpy()), 1)
        row = {"index": i, "strengths": strengths, "sigma": round(float(d.sigma[i]), 5),
               "class_change": round(float(changed.mean()), 4),
               "class_change_by_strength": [round(float(v), 4) for v in changed.mean(1)],
               "transitions": trans.tolist(), "feature_change": round(float((f[i] - f0).norm(dim=-1).mean()), 4),
               "shell": round(float(edits[i, far].norm(dim=-1).mean()) / norm0, 4)}
        if d.targets is not None:
            t = d.targets[i]
            row["target"] = t
            row["hit_rate"] = None if t is None or strengths[top] <= 0 else round(
                float((lab[i, top] == t).float().mean()), 4)
        rows.append(row)
    return rows


def edit_grid(G, prior, d: Directions, index: int, strengths, seeds: int = 8, seed: int = 0) -> dict:
    """Digits of `seeds` fixed codes (rows) edited at each strength (columns), with what they read as."""
    strengths = check_strengths(strengths)
    z, y = fixed_codes(G, prior, seeds, seed)
    zs = edit(z, d, index, strengths).transpose(0, 1).reshape(-1, z.shape[1])  # row-major: code, then strength
    x = _decode(G, zs, None if y is None else y.repeat_interleave(len(strengths)))
    r = _read(x)
    return {"images": x, "labels": r["labels"].numpy(), "confidence": r["confidence"].numpy(),
            "strengths": strengths, "rows": seeds}


def analyse(model: str, method: str, k: int = 10, strengths=STRENGTHS, n: int = FIT_N, codes: int = CODES,
            seed: int = 0, prior: str | None = None) -> dict:
    """`python -m core directions`: a model's directions and what each does (JSON-ready)."""
    import time

    from core.store.registry import load_model
    t0 = time.time()
    strengths = check_strengths(strengths)
    m = load_model(model, prior=prior)
    d = find(m.G, m.prior, method, k, n, seed)
    rows = measure(m.G, m.prior, d, strengths, codes, seed)
    out = {"model": model, "method": method, "about": d.about, "k": len(d), "fit_n": n, "codes": codes,
           "seed": seed, "prior": prior, **d.extra, "directions": rows}
    if method == "class":
        hits = [r["hit_rate"] for r in rows if r.get("hit_rate") is not None]
        out["mean_hit_rate"] = round(float(np.mean(hits)), 4) if hits else None
    out["seconds"] = round(time.time() - t0, 2)
    return out


def code_of(G, prior, spec: str, conditional: bool = False):
    """(z, y, about) of one digit to edit: an Interpolate endpoint spec (random:SEED, class:C, component:K,
    real:I; core.explore.latent.endpoint), map:N:SEED:I (digit I of the Latent map of N digits at SEED) or
    atlas:RES:I:A,B,C (cell I of the atlas through A, B, C; y is then a blend of label embeddings)."""
    from core.explore.latent import endpoint
    if spec.startswith("atlas:"):
        from core.explore.atlas import cell_code
        parts = spec.split(":", 3)
        try:
            res, i, through = int(parts[1]), int(parts[2]), parts[3].split(",")
        except (IndexError, ValueError):
            raise ConfigError(f"{spec!r}: an atlas cell is atlas:RES:I:A,B,C") from None
        return cell_code(G, prior, through, res, i, conditional)
    if spec.startswith("map:"):
        try:
            n, seed, i = (int(v) for v in spec.split(":")[1:])
        except ValueError:
            raise ConfigError(f"{spec!r}: a map digit is map:N:SEED:INDEX") from None
        if not 0 <= i < n:
            raise ConfigError(f"{spec!r}: the map has {n} digits, no #{i}")
        z, y, _ = _samples(G, prior, n, seed)  # the map's own draw (core.explore.maps.model_map)
        return z[i], None if y is None else y[i], f"digit #{i} of the map of {n} (seed {seed})"
    e = endpoint(G, prior, spec, conditional)
    return e.z, e.y, e.about


def edit_code(G, d: Directions, z: torch.Tensor, y, index: int, strengths) -> dict:
    """One code moved along direction `index` at each strength: its digits and what they read as."""
    strengths = check_strengths(strengths)
    zs = edit(z.view(1, -1).float(), d, index, strengths)[:, 0]
    ys = None if y is None else torch.as_tensor(y)
    if ys is not None:  # a label, or a conditional G's blended label embedding (an atlas cell)
        ys = ys.view(1, -1).repeat(len(strengths), 1) if ys.is_floating_point() else ys.view(1).repeat(len(strengths))
    x = _decode(G, zs, ys)
    r = _read(x)
    return {"images": x, "labels": r["labels"].numpy(), "confidence": r["confidence"].numpy(), "strengths": strengths}
