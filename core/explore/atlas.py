"""An atlas of a latent space: the plane through three codes, decoded on a res × res grid, each
cell labelled with the digit the classifier reads there and how sure it is.

The three codes are Interpolate's endpoints (`random:SEED`, `class:C`, `component:K`, `real:I`;
core.explore.latent.endpoint). The plane is drawn in an orthonormal basis of its own (Gram–Schmidt
of b − a and c − a), centred on the three codes' centroid and wide enough to hold them with a 25 %
margin, so cells are square and lengths are lengths in z. (Near the centroid the codes are shorter
than the prior's typical ones: a plane through the shell cuts inside it.) A conditional generator is
given, at each cell, the label embeddings of the three codes blended by the cell's barycentric
coordinates in their triangle.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from core.errors import ConfigError

MARGIN = 0.25
HYBRID = 0.9  # a cell read with less confidence is a "hybrid" (the Classes page's default threshold)


def plane(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, res: int, margin: float = MARGIN) -> dict:
    """{"codes" res²×d (row-major, v down the rows), "corners" 3×2 (a, b, c in the plane), "u", "v", "cell"}."""
    a, b, c = (t.double().flatten() for t in (a, b, c))
    e1 = b - a
    if float(e1.norm()) < 1e-9:
        raise ConfigError("the atlas needs three different codes: the first two are the same")
    e1 = e1 / e1.norm()
    w = (c - a) - ((c - a) @ e1) * e1
    if float(w.norm()) < 1e-9:
        raise ConfigError("the atlas needs three codes that span a plane: the third lies on the line of the first two")
    e2 = w / w.norm()
    origin = (a + b + c) / 3
    corners = torch.stack([torch.stack([(p - origin) @ e1, (p - origin) @ e2]) for p in (a, b, c)])
    half = float(corners.abs().max()) * (1 + margin)
    u = torch.linspace(-half, half, res, dtype=torch.double)
    v = torch.linspace(-half, half, res, dtype=torch.double)
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    codes = origin + uu.reshape(-1, 1) * e1 + vv.reshape(-1, 1) * e2
    return {"codes": codes.float(), "corners": corners.float(), "u": u.float(), "v": v.float(), "half": half,
            "cell": float(u[1] - u[0]) if res > 1 else 0.0, "uu": uu.reshape(-1), "vv": vv.reshape(-1)}


def barycentric(corners: torch.Tensor, uu: torch.Tensor, vv: torch.Tensor) -> torch.Tensor:
    """N×3 barycentric coordinates of the points (uu, vv) in the triangle `corners` (outside: some < 0)."""
    pa, pb, pc = corners.double()
    m = torch.stack([pb - pa, pc - pa], dim=1)  # 2×2
    rhs = torch.stack([uu - pa[0], vv - pa[1]])  # 2×N
    beta_gamma = torch.linalg.solve(m, rhs)
    return torch.stack([1 - beta_gamma.sum(0), beta_gamma[0], beta_gamma[1]], dim=1)


def decode(G, p: dict, ends, batch: int = 1024) -> dict:
    """The digits of every cell and what the classifier reads in them."""
    from core.eval.classifier import predict
    from core.eval.score import classifier
    z = p["codes"]
    emb = None
    if getattr(G, "n_classes", 0):
        lam = barycentric(p["corners"], p["uu"], p["vv"]).float()
        with torch.no_grad():
            e = torch.stack([G.embed(ep.y.view(1))[0] for ep in ends])  # 3 × EMBED
        emb = lam @ e
    with torch.no_grad():
        x = torch.cat([G(z[i:i + batch], None if emb is None else emb[i:i + batch]) for i in range(0, len(z), batch)])
    out = predict(classifier(), x)
    return {"images": x, "labels": out["labels"].numpy(), "confidence": out["confidence"].numpy()}


def summary(labels: np.ndarray, confidence: np.ndarray, cell: float, threshold: float = HYBRID) -> dict:
    """The share of the plane each digit owns, the boundary's length (cell edges between two digits, in
    z units) and the share of hybrid cells (read with confidence below `threshold`)."""
    lab = labels.reshape(int(round(len(labels) ** 0.5)), -1)
    edges = int((lab[:, 1:] != lab[:, :-1]).sum() + (lab[1:, :] != lab[:-1, :]).sum())
    share = np.bincount(lab.ravel(), minlength=10) / lab.size
    return {"share": [round(float(s), 4) for s in share], "boundary_edges": edges,
            "boundary_length": round(edges * cell, 4), "hybrid_share": round(float((confidence < threshold).mean()), 4),
            "hybrid_threshold": threshold}


def cell_code(G, prior, through: list[str], res: int, i: int, conditional: bool = False):
    """(z, what a conditional G is given — the ends' label embeddings blended — or None, about) of cell i."""
    from core.explore.latent import endpoint
    if not 0 <= i < res * res:
        raise ConfigError(f"the atlas has {res * res} cells, no #{i}")
    ends = [endpoint(G, prior, spec, conditional) for spec in through]
    p = plane(*(e.z for e in ends), res)
    emb = None
    if getattr(G, "n_classes", 0):
        lam = barycentric(p["corners"], p["uu"][i:i + 1], p["vv"][i:i + 1]).float()
        with torch.no_grad():
            emb = (lam @ torch.stack([G.embed(e.y.view(1))[0] for e in ends]))[0]
    row, col = divmod(i, res)
    return p["codes"][i], emb, f"atlas cell ({row}, {col}) of the plane through {', '.join(through)}"


def atlas(model: str, through: list[str], res: int = 64, prior: str | None = None) -> dict:
    """`python -m core atlas`: the plane through three endpoint specs, decoded and read."""
    import time

    from core.explore.latent import endpoint
    from core.store.registry import load_model
    if len(through) != 3:
        raise ConfigError(f"--through takes three codes (e.g. class:1,class:7,random:0), got {len(through)}")
    if not 2 <= res <= 256:
        raise ConfigError(f"--res must be between 2 and 256, got {res}")
    t0 = time.time()
    m = load_model(model, prior=prior)
    ends = [endpoint(m.G, m.prior, spec, m.conditional) for spec in through]
    p = plane(*(e.z for e in ends), res)
    d = decode(m.G, p, ends)
    return {"model": model, "through": through, "about": [e.about for e in ends], "res": res, "cell": p["cell"],
            "half": p["half"],
            "corners": p["corners"].tolist(), "labels": d["labels"], "confidence": d["confidence"],
            "images": d["images"], **summary(d["labels"], d["confidence"], p["cell"]),
            "seconds": round(time.time() - t0, 2)}


def atlas_image(res: dict, palette: list[str], scale: int = 8) -> Image.Image:
    """Each cell in its digit's colour, paler where the classifier is less sure, the boundaries between
    digits in black and the three codes ringed."""
    n = res["res"]
    lab, conf = res["labels"].reshape(n, n), res["confidence"].reshape(n, n)
    rgb = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in palette], dtype=float)
    cells = rgb[lab] * conf[..., None] + 255 * (1 - conf[..., None])
    img = np.kron(cells, np.ones((scale, scale, 1)))
    edge_r = np.kron(np.pad(lab[:, 1:] != lab[:, :-1], ((0, 0), (0, 1))), np.ones((scale, scale)))
    edge_d = np.kron(np.pad(lab[1:, :] != lab[:-1, :], ((0, 1), (0, 0))), np.ones((scale, scale)))
    col = np.arange(img.shape[1]) % scale == scale - 1
    row = np.arange(img.shape[0]) % scale == scale - 1
    img[(edge_r > 0) & col[None, :]] = 0
    img[(edge_d > 0) & row[:, None]] = 0
    out = Image.fromarray(img.clip(0, 255).astype(np.uint8), mode="RGB")
    draw = ImageDraw.Draw(out)
    half, span = res["half"], n * scale  # the plane spans [-half, half] on both axes
    for name, (cu, cv) in zip("ABC", res["corners"]):
        x = (cu + half) / (2 * half) * span
        y = (cv + half) / (2 * half) * span
        draw.ellipse([x - 6, y - 6, x + 6, y + 6], outline=(0, 0, 0), width=2)
        draw.text((x + 8, y - 6), name, fill=(0, 0, 0))
    return out


def mosaic_indices(res: int, side: int = 16) -> np.ndarray:
    """Cells of a side × side mosaic spread evenly over the res × res grid (row-major)."""
    pick = np.round(np.linspace(0, res - 1, min(side, res))).astype(int)
    return (pick[:, None] * res + pick[None, :]).ravel()
