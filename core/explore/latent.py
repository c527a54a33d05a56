"""Reading and remodelling a generator's latent space.

- `invert`: codes z with G(z) ≈ x for real digits, by Adam on the per-digit squared error;
  the first start is the prior's centre (measured on the zoo WGAN-GP: from the centre with
  lr 0.01 the RMS error after 1000 steps is 0.18 on test digits, from a prior draw with lr
  0.05 it is 0.24); further restarts start from prior draws, and the best per digit is kept.
- `fit_prior`: a scikit-learn GaussianMixture on inverted codes (K given or chosen by BIC),
  saved beside the model as a new prior (`<model folder>/priors/<name>.pt`) and selectable
  wherever a model is sampled or scored (`--prior NAME`).
- `interpolate`: lerp / slerp between two endpoints (random codes, classes, mixture
  components or inverted real digits), with the classifier's label for every frame.
"""
from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass

import numpy as np
import torch

from core.errors import ConfigError
from core.eval.classifier import predict
from core.eval.score import classifier, score_images
from core.eval.score_files import cache_dir
from core.gan.priors import FittedPrior, Prior
from core.gan.sampling import generate
from core.store.checkpoint import file_sha256
from core.store.files import write_bytes_atomic
from core.store.mnist import load_split, to_model_range
from core.store.registry import load_model, resolve, save_prior

COVARIANCES = ("full", "diag", "spherical", "tied")


# ---------------------------------------------------------------- inversion

@dataclass
class Inversion:
    z: torch.Tensor       # N×d codes
    y: torch.Tensor | None  # the labels a conditional generator was given
    recon: torch.Tensor   # G(z), N×784
    error: torch.Tensor   # per-digit RMS error in pixel units of [0, 1]
    seconds: float        # this call's wall time
    compute_seconds: float | None = None  # invert_cached: the time every chunk took when it was inverted


def invert(G, prior, x: torch.Tensor, y: torch.Tensor | None = None, steps: int = 1000, lr: float = 0.01,
           restarts: int = 1, seed: int = 0, batch: int = 1000, progress=None) -> Inversion:
    """Invert real digits x (model range, N×784). Pass the true labels y only for a model whose
    classes are tied to labels/components (a conditional variant): a conditional generator is
    given them, and a mixture prior starts each digit in its own class's component. `progress(done, total)` is called
    after every step chunk."""
    if steps < 1 or restarts < 1 or lr <= 0:
        raise ConfigError("inversion needs steps ≥ 1, restarts ≥ 1 and lr > 0")
    if G.n_classes and y is None:
        raise ConfigError("a conditional generator needs the digits' labels to invert them")
    dev = next(G.parameters()).device
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    best_z = torch.zeros(len(x), prior.z_dim)
    best_e = torch.full((len(x),), float("inf"))
    # gradients w.r.t. the codes only: the (possibly shared) generator is left untouched
    for r in range(restarts):
        for i in range(0, len(x), batch):
            xb = x[i:i + batch].to(dev)
            yb = None if y is None else y[i:i + batch].to(dev)
            comp = yb if (yb is not None and isinstance(prior, Prior) and prior.k) else None
            z, _ = prior.sample(len(xb), y=comp, device=dev, generator=g)
            if r == 0:  # the first start is the prior's centre (of the digit's component)
                z = prior.means[comp] if comp is not None else torch.zeros_like(z)
            z = z.detach().clone().requires_grad_(True)
            opt = torch.optim.Adam([z], lr=lr)
            for _ in range(steps):
                loss = (G(z, yb) - xb).pow(2).mean(1)
                z.grad, = torch.autograd.grad(loss.sum(), z)
                opt.step()
            with torch.no_grad():
                err = ((G(z, yb) - xb).pow(2).mean(1).sqrt() / 2).cpu()  # [-1,1] → [0,1] units
            better = err < best_e[i:i + batch]
            best_e[i:i + batch] = torch.where(better, err, best_e[i:i + batch])
            best_z[i:i + batch][better] = z.detach().cpu()[better]
            if progress:
                progress(r * len(x) + i + len(xb), restarts * len(x))
    with torch.no_grad():
        recon = torch.cat([G(best_z[i:i + batch].to(dev), None if y is None else y[i:i + batch].to(dev)).cpu()
                           for i in range(0, len(x), batch)])
    return Inversion(best_z, y, recon, best_e, time.perf_counter() - t0)


def invert_cached(G, prior, x: torch.Tensor, y: torch.Tensor | None, key: str, steps: int = 1000,
                  lr: float = 0.01, restarts: int = 1, seed: int = 0, chunk: int = 1000, progress=None) -> Inversion:
    """`invert` chunk by chunk, each chunk's codes saved under `<cache>/inversions/<key>/` as it
    finishes: a second call with the same key reads them (cached), and a call after a kill
    inverts only the chunks not yet saved (resumable). `key` must identify the model, the
    digits and the knobs (see `invert_and_refit`)."""
    folder = cache_dir() / "inversions" / key
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    zs, errs, done, compute = [], [], 0, 0.0
    for c, i in enumerate(range(0, len(x), chunk)):
        path = folder / f"chunk_{c:05d}.pt"
        part = None
        if path.is_file():
            try:
                part = torch.load(path, map_location="cpu", weights_only=True)
            except Exception:  # noqa: BLE001 - a chunk cut short by a kill is inverted again
                part = None
        if part is None:
            inv = invert(G, prior, x[i:i + chunk], None if y is None else y[i:i + chunk], steps, lr, restarts,
                         seed + c, batch=chunk)
            part = {"z": inv.z, "error": inv.error, "seconds": torch.tensor(inv.seconds)}
            buf = io.BytesIO()
            torch.save(part, buf)
            write_bytes_atomic(path, buf.getvalue())
        zs.append(part["z"]), errs.append(part["error"])
        compute += float(part.get("seconds", 0.0))  # what each chunk took when it was inverted
        done += len(part["z"])
        if progress:
            progress(done * restarts, len(x) * restarts)
    z = torch.cat(zs)
    dev = next(G.parameters()).device
    with torch.no_grad():
        recon = torch.cat([G(z[i:i + chunk].to(dev), None if y is None else y[i:i + chunk].to(dev)).cpu()
                           for i in range(0, len(x), chunk)])
    return Inversion(z, y, recon, torch.cat(errs), time.perf_counter() - t0, compute)


# ---------------------------------------------------------------- EM refit

def _fit_one(Z: np.ndarray, k: int | None, k_max: int, covariance: str, seed: int, reg_covar: float):
    """One GaussianMixture: K given, else the K in 1..min(k_max, n) with the lowest BIC."""
    from sklearn.mixture import GaussianMixture
    candidates = [k] if k else list(range(1, min(k_max, len(Z)) + 1))
    if any(c < 1 or c > len(Z) for c in candidates):
        raise ConfigError(f"components must be between 1 and the number of codes ({len(Z)})")
    fits = {c: GaussianMixture(c, covariance_type=covariance, reg_covar=reg_covar, random_state=seed,
                               n_init=1, max_iter=200).fit(Z) for c in candidates}
    bic = {c: float(m.bic(Z)) for c, m in fits.items()}
    return fits[min(bic, key=bic.get)], bic


def fit_prior(z: torch.Tensor, k: int | None = None, k_max: int = 15, covariance: str = "diag",
              labels: torch.Tensor | None = None, conditional: bool = False, seed: int = 0,
              reg_covar: float = 1e-4) -> tuple[FittedPrior, dict]:
    """Fit a Gaussian mixture to codes z (K given, else chosen by BIC over 1..k_max).

    For a conditional variant (classes tied to labels) one mixture is fitted per class, with
    K components each, weighted by the class's share of the codes, so every class keeps its
    own components and label. (One mixture over all codes with majority labels can lose
    classes: BIC often picks K = 1 in 100-d.) Default covariance 'diag': with ~1000 codes in
    100-d, BIC cannot afford full covariances beyond K = 1."""
    if covariance not in COVARIANCES:
        raise ConfigError(f"covariance must be one of {', '.join(COVARIANCES)}, got {covariance!r}")
    Z = z.detach().double().cpu().numpy()
    if conditional:
        if labels is None:
            raise ConfigError("a conditional refit needs the codes' labels")
        lab = labels.numpy()
        parts, bics = [], {}
        for c in np.unique(lab):
            Zc = Z[lab == c]
            if len(Zc) < 2:
                raise ConfigError(f"class {c} has {len(Zc)} inverted digit(s); invert more digits (--n)")
            gm, bics[int(c)] = _fit_one(Zc, min(k, len(Zc)) if k else None, k_max, covariance, seed, reg_covar)
            parts.append((gm, int(c), len(Zc) / len(Z)))
        weights = torch.cat([torch.from_numpy(gm.weights_) * share for gm, _, share in parts])
        means = torch.cat([torch.from_numpy(gm.means_) for gm, _, _ in parts])
        chol = torch.cat([torch.from_numpy(_cholesky(gm, Z.shape[1])) for gm, _, _ in parts])
        comp_labels = torch.cat([torch.full((gm.n_components,), c) for gm, c, _ in parts])
        info = {"k": len(means), "per_class": {c: gm.n_components for gm, c, _ in parts}, "covariance": covariance,
                "bic": bics, "n_codes": len(Z), "converged": all(gm.converged_ for gm, _, _ in parts)}
        return FittedPrior(weights, means, chol, comp_labels, True), info
    gm, bic = _fit_one(Z, k, k_max, covariance, seed, reg_covar)
    prior = FittedPrior(torch.from_numpy(gm.weights_), torch.from_numpy(gm.means_),
                        torch.from_numpy(_cholesky(gm, Z.shape[1])), None, False)
    info = {"k": gm.n_components, "covariance": covariance, "bic": bic, "n_codes": len(Z),
            "converged": bool(gm.converged_)}
    return prior, info


def _cholesky(gm, d: int) -> np.ndarray:
    """Lower Cholesky factors of every component's covariance, as K×d×d."""
    cov, t = gm.covariances_, gm.covariance_type
    if t == "full":
        return np.linalg.cholesky(cov)
    if t == "tied":
        return np.repeat(np.linalg.cholesky(cov)[None], gm.n_components, 0)
    if t == "diag":
        return np.stack([np.diag(np.sqrt(c)) for c in cov])
    return np.stack([np.eye(d) * np.sqrt(c) for c in cov])  # spherical


# The split every score is measured against (core.eval.score.reference): a prior fitted on it would
# have seen the digits it is judged by, so a refit-vs-original comparison would flatter the refit.
SCORE_SPLIT = "test"
FIT_SPLITS = ("train", "valid")


def invert_split(model: str, n: int = 1000, steps: int = 1000, lr: float = 0.01, restarts: int = 1, seed: int = 0,
                 split: str = "train", device: str = "cpu", progress=None) -> dict:
    """n real digits of `split` (train by default, never the scoring split; 0 = all) inverted
    through MODEL's generator, cached per chunk: {G, prior, conditional, inv, y, n}."""
    if n < 2 and n != 0:
        raise ConfigError("invert needs at least 2 digits (or --n 0: the whole split)")
    if split == SCORE_SPLIT:
        raise ConfigError(f"scores are measured against the {SCORE_SPLIT} split, so a prior fitted on it would be "
                          f"judged by the digits it has seen; fit on {' or '.join(FIT_SPLITS)} (--split train)")
    if split not in FIT_SPLITS:
        raise ConfigError(f"--split must be one of {', '.join(FIT_SPLITS)}, got {split!r}")
    m = load_model(model, device)
    G, prior, conditional = m.G, m.prior, m.conditional
    xs, ys = load_split(split)
    n = len(xs) if n == 0 else n  # 0 = every digit of the split (seed 004 inverted all 50k)
    idx = np.sort(np.random.default_rng(seed).choice(len(xs), size=min(n, len(xs)), replace=False))
    x, y = to_model_range(xs[idx]), torch.from_numpy(ys[idx]).long()
    key = hashlib.sha256(f"{file_sha256(resolve(model))};{split};{n};{seed};{steps};{lr};{restarts};"
                         f"{conditional}".encode()).hexdigest()[:20]
    inv = invert_cached(G, prior, x, y if conditional else None, key, steps, lr, restarts, seed, progress=progress)
    return {"G": G, "prior": prior, "conditional": conditional, "inv": inv, "y": y, "n": len(x)}


def invert_and_refit(model: str, n: int = 1000, k: int | None = None, covariance: str = "diag",
                     steps: int = 1000, lr: float = 0.01, restarts: int = 1, seed: int = 0, name: str | None = None,
                     split: str = "train", score_n: int | None = 10_000, device: str = "cpu",
                     progress=None, score_original: bool = True) -> dict:
    """Invert n real digits of `split` (`invert_split`), fit a mixture, save it as a prior of
    MODEL (its metadata names the split) and score the refit (and, with score_original, the
    trained prior) on score_n digits (None: no scores)."""
    d = invert_split(model, n, steps, lr, restarts, seed, split, device, progress)
    G, prior, conditional, inv, y = d["G"], d["prior"], d["conditional"], d["inv"], d["y"]
    fitted, info = fit_prior(inv.z, k, covariance=covariance, labels=y, conditional=conditional, seed=seed)
    name = name or f"em-k{info['k']}-{covariance}"
    meta = {**info, "n": d["n"], "steps": steps, "lr": lr, "restarts": restarts, "split": split, "seed": seed,
            "recon_rmse_mean": float(inv.error.mean())}
    path = save_prior(model, name, fitted.cpu(), meta)
    fitted = fitted.to(device)
    out = {"model": model, "prior": name, "path": str(path), "n": d["n"], "split": split,
           "scored_against": SCORE_SPLIT, "recon_rmse_mean": float(inv.error.mean()),
           "recon_rmse_median": float(inv.error.median()), "invert_seconds": round(inv.seconds, 2),
           "invert_compute_seconds": round(inv.compute_seconds, 2),
           **{f"fit_{k_}": v for k_, v in info.items() if k_ != "bic"}}
    for label, p in (("original", prior), ("refit", fitted)) if score_n else ():
        if label == "original" and not score_original:
            continue
        imgs, yy = generate(G, p, score_n, generator=torch.Generator().manual_seed(seed))
        out[label] = score_images(imgs, yy if conditional else None, device)
    return out


# ---------------------------------------------------------------- interpolation

def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    t = t.reshape(-1, *([1] * a.dim()))
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation on the arc from a to b (lengths blend along with direction);
    falls back to lerp when a and b are (anti)parallel."""
    t = t.reshape(-1, *([1] * a.dim())).double()
    a64, b64 = a.detach().double(), b.detach().double()  # codes are data here, not parameters
    if min(float(a64.norm()), float(b64.norm())) < 1e-12:  # no direction to rotate from
        return lerp(a, b, t.float().flatten())
    cos = torch.dot(a64.flatten() / a64.norm(), b64.flatten() / b64.norm()).clamp(-1, 1)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-6 or (torch.pi - omega).abs() < 1e-6:
        return lerp(a, b, t.float().flatten())
    s = torch.sin(omega)
    return ((torch.sin((1 - t) * omega) / s) * a64 + (torch.sin(t * omega) / s) * b64).to(a.dtype)


@dataclass
class Endpoint:
    z: torch.Tensor              # d
    y: torch.Tensor | None       # a class label (conditional G), else None
    about: str
    real: torch.Tensor | None = None    # for 'real:I': the test digit (784, model range)
    recon: torch.Tensor | None = None   # ... and G(z), its reconstruction
    real_label: int | None = None       # the digit's true label
    recon_label: int | None = None      # what the classifier reads in the reconstruction
    rms: float | None = None            # reconstruction RMS error (model range)

    @property
    def warning(self) -> str | None:
        """Why an inverted real digit should not be trusted as the endpoint: its
        reconstruction reads as another digit (the generator cannot make this one)."""
        if self.real_label is None or self.recon_label == self.real_label:
            return None
        return (f"the inversion of this {self.real_label} reads as a {self.recon_label} (RMS error {self.rms:.3f}): "
                f"the generator found no code for this digit, so the path starts from another digit")


def endpoint(G, prior, spec: str, conditional: bool = False, device="cpu", steps: int = 300) -> Endpoint:
    """An interpolation endpoint from a spec: 'random:SEED', 'component:K' (a mixture mean),
    'class:C' (for a conditional variant its class's component mean; else the most
    confidently-C code of 512 random draws) or 'real:I' (test digit I, inverted)."""
    kind, _, arg = spec.partition(":")
    try:
        val = int(arg)
    except ValueError:
        raise ConfigError(f"endpoint {spec!r}: expected random:SEED, class:C, component:K or real:I") from None
    means = getattr(prior, "means", None)
    if kind == "random":
        z, y = prior.sample(1, device=device, generator=torch.Generator().manual_seed(val))
        return Endpoint(z[0].detach(), y[0] if (y is not None and G.n_classes) else None, f"random code (seed {val})")
    if kind == "component":
        if means is None or not 0 <= val < prior.k:
            raise ConfigError(f"component:{val} needs a mixture prior with more than {val} components")
        lab = getattr(prior, "labels", torch.arange(prior.k))[val].to(device) if G.n_classes else None
        return Endpoint(means[val].detach().to(device), lab, f"mean of component {val}")
    if kind == "class":
        if not 0 <= val < 10:
            raise ConfigError(f"class must be 0–9, got {val}")
        if conditional:
            labels = getattr(prior, "labels", torch.arange(prior.k)).cpu()
            comps = (labels == val).nonzero().flatten()
            if not len(comps):
                raise ConfigError(f"no component of this prior generates class {val}")
            c = int(comps[0]) if not hasattr(prior, "weights") else int(comps[prior.weights.cpu()[comps].argmax()])
            return Endpoint(means[c].detach().to(device), torch.tensor(val, device=device) if G.n_classes else None,
                            f"class {val} (mean of component {c})")
        z, y = prior.sample(512, device=device, generator=torch.Generator().manual_seed(val))
        with torch.no_grad():
            probs = predict(classifier(device), G(z, y))["probs"]
        i = int(probs[:, val].argmax())
        return Endpoint(z[i], None, f"most confident {val} of 512 draws (p={float(probs[i, val]):.2f})")
    if kind == "real":
        xs, ys = load_split("test")
        if not 0 <= val < len(xs):
            raise ConfigError(f"real:{val}: the test split has {len(xs)} digits")
        y = torch.tensor([int(ys[val])], device=device)
        real = to_model_range(xs[val:val + 1]).to(device)
        inv = invert(G, prior, real, y if conditional else None, steps=steps, restarts=1)
        z, yy = inv.z[0].to(device), (y[0] if G.n_classes else None)
        with torch.no_grad():
            recon = G(z[None], None if yy is None else yy[None])
        read = int(predict(classifier(device), recon)["labels"][0])
        return Endpoint(z, yy, f"test digit {val} (a {int(ys[val])}), inverted, RMS error {float(inv.error[0]):.3f}, "
                               f"reads as {read}", real=real[0].cpu(), recon=recon[0].cpu(),
                        real_label=int(ys[val]), recon_label=read, rms=float(inv.error[0]))
    raise ConfigError(f"endpoint {spec!r}: kind must be random, class, component or real")


def interpolate(G, a: Endpoint, b: Endpoint, frames: int = 10, mode: str = "slerp") -> dict:
    """Frames along the path a → b, with the classifier's label and confidence for each. For a
    conditional generator the label embedding is blended linearly alongside."""
    if mode not in ("lerp", "slerp"):
        raise ConfigError(f"mode must be lerp or slerp, got {mode!r}")
    if frames < 2:
        raise ConfigError("interpolation needs at least 2 frames")
    dev = next(G.parameters()).device
    t = torch.linspace(0, 1, frames, device=dev)
    z = (slerp if mode == "slerp" else lerp)(a.z.to(dev), b.z.to(dev), t)
    with torch.no_grad():
        y = None
        if G.n_classes:
            y = lerp(G.embed(a.y.view(1).to(dev))[0], G.embed(b.y.view(1).to(dev))[0], t)
        imgs = G(z, y)
        out = predict(classifier(dev), imgs)
    return {"images": imgs.cpu(), "z": z.cpu(), "t": t.cpu(), "labels": out["labels"].cpu(),
            "confidence": out["probs"].max(1).values.cpu(), "probs": out["probs"].cpu()}
