"""Two numbers about a generator's latent space and its digits: perceptual path length (how
smoothly the digits change along a path in z) and authenticity (whether it invents digits or
copies its training set).

- **PPL** (Karras et al., StyleGAN 2019): for pairs (z₁, z₂) from the prior and t ~ U(0, 1),
  d(G(z(t)), G(z(t + ε))) / ε² with ε = 1e-4, averaged after dropping the values outside the
  1st–99th percentile, as the paper does. z(t) is slerp for a Gaussian prior and lerp otherwise;
  for a mixture prior the two ends are drawn independently (each from its own component, so a path
  may cross between components); a conditional model is asked for one class along the whole path
  (both ends drawn for it). d is the squared distance between the classifier's feature vectors
  (LPIPS in the paper; its VGG weights cannot be downloaded here), or between pixels in [0, 1].
- **Authenticity** (Alaa et al., ICML 2022): a generated digit g whose nearest training digit r is
  closer to g than r is to its own nearest other training digit counts as a copy; authenticity is
  the share that does not. In the classifier's feature space and in pixel space. The training
  split's features and each training digit's nearest-neighbour distance are computed once per
  classifier and data set and cached ($LATENT_LAB_CACHE, keyed by both sha256s).
"""
from __future__ import annotations

import numpy as np
import torch

from core.errors import ConfigError

EPS = 1e-4
PPL_PAIRS = 10_000
DISTANCES = ("features", "pixels")


def lerp_rows(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Row i of a towards row i of b by t[i] (core.explore.latent.lerp is one pair, many t)."""
    return a + (b - a) * t.view(-1, 1)


def slerp_rows(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Row-wise: the directions interpolated on the sphere (StyleGAN's slerp), the norms lerped so
    the codes stay on the prior's shell (StyleGAN's generator normalises z; ours does not)."""
    na, nb = a.norm(dim=1, keepdim=True), b.norm(dim=1, keepdim=True)
    ua, ub = a / na, b / nb
    omega = torch.acos((ua * ub).sum(1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    tt = t.view(-1, 1)
    d = (torch.sin((1 - tt) * omega) / so) * ua + (torch.sin(tt * omega) / so) * ub
    return d * (na + (nb - na) * tt)


def _pairs(prior, n: int, conditional: bool, g: torch.Generator):
    """(z₁, z₂, y): y = the class asked of a conditional model (both ends drawn for it), else the
    first end's component (which an unconditional generator ignores)."""
    z1, y = prior.sample(n, generator=g)
    if conditional:
        if y is None:
            y = torch.randint(10, (n,), generator=g)
        z2, _ = prior.sample(n, y=y, generator=g)
    else:
        z2, _ = prior.sample(n, generator=g)
    return z1, z2, y


def _features(x: torch.Tensor) -> torch.Tensor:
    from core.eval.classifier import predict
    from core.eval.score import classifier
    return predict(classifier(), x, features=True)["features"]


def path_lengths(G, prior, n: int = PPL_PAIRS, eps: float = EPS, seed: int = 0, distance="features",
                 mode: str = "auto", conditional: bool = False, batch: int = 2000) -> np.ndarray:
    """The n per-pair values d(G(z(t)), G(z(t + ε))) / ε² (before the percentile cut). `distance`
    is 'features', 'pixels' or a function of two image batches returning one distance per row."""
    if callable(distance):
        dist = distance
    elif distance == "features":
        def dist(a, b):
            return ((_features(a) - _features(b)) ** 2).sum(1)
    elif distance == "pixels":
        def dist(a, b):
            return (((a - b) / 2) ** 2).sum(1)  # model range [-1, 1] -> pixels in [0, 1]
    else:
        raise ConfigError(f"distance must be one of {', '.join(DISTANCES)}, got {distance!r}")
    if mode == "auto":
        mode = "slerp" if getattr(prior, "kind", None) == "gaussian" else "lerp"
    if mode not in ("slerp", "lerp"):
        raise ConfigError(f"mode must be auto, slerp or lerp, got {mode!r}")
    interp = slerp_rows if mode == "slerp" else lerp_rows
    g = torch.Generator().manual_seed(seed)
    out = []
    with torch.no_grad():
        for i in range(0, n, batch):
            m = min(batch, n - i)
            z1, z2, y = _pairs(prior, m, conditional, g)
            t = torch.rand(m, generator=g)
            xa, xb = G(interp(z1, z2, t), y), G(interp(z1, z2, t + eps), y)
            out.append(dist(xa, xb).double() / eps ** 2)
    return torch.cat(out).numpy()


def trimmed_mean(values: np.ndarray, lo: float = 1, hi: float = 99) -> float:
    """The mean of the values between the lo-th and hi-th percentiles (both kept)."""
    a, b = np.percentile(values, [lo, hi])
    keep = values[(values >= a) & (values <= b)]
    return float(keep.mean())


def ppl(G, prior, n: int = PPL_PAIRS, eps: float = EPS, seed: int = 0, distance="features", mode: str = "auto",
        conditional: bool = False) -> float:
    return trimmed_mean(path_lengths(G, prior, n, eps, seed, distance, mode, conditional))


# ---- authenticity ------------------------------------------------------------------------------
def nearest(a: torch.Tensor, b: torch.Tensor, same: bool = False, chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row of a: (distance to its nearest row of b, that row's index); `same` when a is b
    (a row is never its own neighbour). Euclidean, from ‖a‖² + ‖b‖² − 2a·b in float32 (an exact copy
    comes out within ~1e-2 of 0, far below any training digit's own nearest-neighbour distance)."""
    b = b.float()
    bb = (b * b).sum(1)
    dist, idx = [], []
    for i in range(0, len(a), chunk):
        blk = a[i:i + chunk].float()
        d2 = (blk * blk).sum(1, keepdim=True) + bb[None, :] - 2 * blk @ b.T
        if same:
            d2[torch.arange(len(blk)), torch.arange(i, i + len(blk))] = float("inf")
        v, j = d2.min(1)
        dist.append(v.clamp_min(0).sqrt()), idx.append(j)
    return torch.cat(dist), torch.cat(idx)


def _embed(x: torch.Tensor, space: str) -> torch.Tensor:
    if space == "features":
        return _features(x)
    if space == "pixels":
        return (x.reshape(len(x), -1).float() + 1) / 2
    raise ConfigError(f"space must be one of {', '.join(DISTANCES)}, got {space!r}")


def train_neighbours(space: str = "features") -> dict:
    """The training split embedded in `space` and each training digit's distance to its nearest other
    one: computed once per classifier and data set (~1 min on 2 cores), then read from the cache."""
    from core.eval.score_files import cache_dir, classifier_sha
    from core.store.checkpoint import save_atomic
    from core.store.mnist import CONTENT_SHA256, load_split, to_model_range
    key = f"{CONTENT_SHA256[:16]}_{classifier_sha()[:16] if space == 'features' else 'pixels'}"
    path = cache_dir() / f"train_neighbours_{space}_{key}.pt"
    if path.is_file():
        try:
            return torch.load(path, weights_only=True)
        except Exception:  # noqa: BLE001 - a damaged cache file is recomputed
            pass
    x, _ = load_split("train")
    emb = torch.cat([_embed(to_model_range(x[i:i + 5000]), space) for i in range(0, len(x), 5000)]).float()
    radius, _ = nearest(emb, emb, same=True)
    out = {"embedding": emb, "radius": radius.float(), "key": key}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomic(out, path)
    return out


def authenticity(x: torch.Tensor, space: str = "features", reference: dict | None = None, closest: int = 16) -> dict:
    """Alaa et al.'s authenticity of generated digits x (model range): the share whose nearest training
    digit r is at least as far from them as r is from its own nearest other training digit; and the
    `closest` likeliest copies (smallest distance over r's radius), with their training twins."""
    ref = reference if reference is not None else train_neighbours(space)
    emb = _embed(x, space).float()
    d, j = nearest(emb, ref["embedding"])
    radius = ref["radius"][j].double()
    copy = d < radius
    ratio = (d / radius.clamp_min(1e-12)).numpy()
    order = np.argsort(ratio, kind="stable")[:closest]
    return {"authenticity": round(float(1 - copy.double().mean()), 4), "space": space, "n": len(x),
            "closest": [{"index": int(i), "train_index": int(j[i]), "distance": round(float(d[i]), 4),
                         "train_radius": round(float(radius[i]), 4)} for i in order]}
