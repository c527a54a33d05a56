"""The README's tables generated from the tracked data files they report, so a figure can never
drift from its data: each table sits between markers

    <!-- generated: NAME (python -m core report --readme) -->
    ...
    <!-- /generated: NAME -->

and `python -m core report --readme` rewrites them; `stale_tables` says which ones disagree with
their data (tests/test_readme.py fails on any)."""
from __future__ import annotations

import re
from collections.abc import Callable

from core.results.quality import shipped_rows
from core.store.files import ROOT
from core.train.zoo import index

README = ROOT / "README.md"
COLLAPSED_KL = 1.0  # class KL to uniform at or above this: the model makes a few digits only


def _range(row: dict, key: str) -> str:
    lo, hi = row.get(f"{key}_min"), row.get(f"{key}_max")
    return f"{row[key]:.2f} ({lo:.2f}–{hi:.2f})" if row.get("seeds", 1) > 1 and lo is not None else f"{row[key]:.2f}"


def quality_table() -> str:
    """Every variant before → after in `seconds` of training (trained/quality.json): *before* is the
    seed's recipe — its own row where one was run (`--recipe seed`: no EMA, the seed's values), else
    the live generator of the default run (the default without its EMA) — *after* today's default;
    best FID first."""
    rows = [r for r in shipped_rows() if r.get("cores", 2) == 2]  # the 2-core rows; 1-core ones: their own table
    seed_rows = {r["variant"]: r for r in rows if r["recipe"] == "seed"}
    lines = ["| variant | epochs | img/s | FID before (seed recipe) | FID after (default) | precision | recall | "
             "coverage | class KL |", "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted((r for r in rows if r["recipe"] == "default"), key=lambda r: r["fid"]):
        before = seed_rows.get(r["variant"], r)
        mark = "¹" if r["variant"] in seed_rows else ""
        lines.append(f"| {r['variant']} | {r['epochs']:.1f} | {r['img_s']:,.0f} | "
                     f"{_range(before, 'fid' if mark else 'fid_raw')}{mark} | "
                     f"{_range(r, 'fid')} | {r['precision']:.3f} | {r['recall']:.3f} | {r['coverage']:.3f} | "
                     f"{r['class_kl']:.3f} |")
    for variant, r in sorted(seed_rows.items()):
        sets = ", ".join(f"{k} {v}" for k, v in sorted(r["overrides"].items()))
        lines.append(f"\n¹ {variant}: its own seed-recipe row ({sets}; {r['seeds']} seeds, {r['epochs']:.1f} epochs), "
                     "not the default run's live generator: its default also changed "
                     + ", ".join(k for k in sorted(r["overrides"]) if k != "ema") + ".")
    return "\n".join(lines)


def recipes_table(variant: str = "wgan-gp") -> str:
    """The recipes of `variant` compared by `bench quality --recipe …` (trained/quality.json rows with
    `compared`): trained interleaved, chosen on the validation split's median FID, reported on the
    test split's; the chosen one in bold."""
    rows = [r for r in shipped_rows() if r["variant"] == variant and r.get("compared") and r.get("cores", 2) == 2]
    lines = ["| recipe | epochs | img/s | FID, validation (chosen on) | FID, test (reported) | precision | recall | "
             "coverage | class KL |", "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["fid_valid"]):
        chosen = r["compared"]["chosen"] == r["recipe"]
        name = f"**{r['recipe']} (chosen)**" if chosen else r["recipe"]
        sets = ", ".join(f"{k} {v}" for k, v in sorted(r["overrides"].items())) or "today's defaults"
        lines.append(f"| {name}: {sets} | {r['epochs']:.1f} | {r['img_s']:,.0f} | {_range(r, 'fid_valid')} | "
                     f"{_range(r, 'fid')} | {r['precision']:.3f} | {r['recall']:.3f} | {r['coverage']:.3f} | "
                     f"{r['class_kl']:.3f} |")
    if rows:
        c = rows[0]
        lines.append(f"\n{c['seconds']:g} s each, {c['seeds']} training seeds, {c['n']:,} digits, {c['date']}; run order: "
                     f"{', '.join(c['compared']['order'])}. `{c['command']}`")
    return "\n".join(lines)


def zoo_retrain_table() -> str:
    """Each zoo model's FID on its seed's recipe → today's defaults at equal epochs, and which one is
    shipped (trained/zoo.json `tries`)."""
    lines = ["| model (epochs) | FID seed recipe → default | shipped |", "|---|---|---|"]
    for name, entry in index().items():
        tries = {t["recipe"]: t for t in entry.get("tries", [])}
        if not {"seed", "default"} <= set(tries):
            continue
        seed, default = tries["seed"], tries["default"]
        shipped = "default" if default.get("shipped") else "seed recipe"
        if (entry.get("scores") or {}).get("class_kl", 0) >= COLLAPSED_KL:
            shipped += " (still collapsed)"
        lines.append(f"| {name} ({default['epochs']}) | {seed['fid']:.2f} → {default['fid']:.2f} | {shipped} |")
    return "\n".join(lines)


def compaction_text() -> str:
    """How far compaction moved each shipped model's scores on the same codes (trained/zoo.json:
    `scores` vs `scores_full_precision`), as the largest move of FID and of precision / recall / coverage."""
    moves = []
    for name, e in index().items():
        full, now = e.get("scores_full_precision"), e.get("scores")
        if full and now:
            moves.append((name, e.get("dtype"), full, now))
    fid = max(moves, key=lambda t: abs(t[2]["fid"] - t[3]["fid"]))
    prc = max(abs(f[m] - n[m]) for _, _, f, n in moves for m in ("precision", "recall", "coverage"))
    dtypes = sorted({d for _, d, _, _ in moves})
    return (f"{len(moves)} shipped models are {' / '.join(dtypes)}. On the same 10k codes, compaction moved FID by at most "
            f"{abs(fid[2]['fid'] - fid[3]['fid']):.4f} ({fid[0]} {fid[2]['fid']:.3f} → {fid[3]['fid']:.3f}) and "
            f"precision / recall / coverage by at most {prc:.4f}")


def latent_table() -> str:
    """Every zoo model's latent numbers (`python -m core zoo latent`, shipped in trained/<name>/scores.json
    and keyed by its checkpoint), smoothest first."""
    from core.explore.latent_scores import cached_latent
    from core.gan.variants import get_variant
    rows = [(name, get_variant(name).prior, lat) for name in index() if (lat := cached_latent(name))]
    lines = ["| model | prior | PPL ↓ | separability | component agreement | authenticity (features) | "
             "authenticity (pixels) |", "|---|---|---|---|---|---|---|"]
    for name, prior, r in sorted(rows, key=lambda t: t[2]["ppl"]):
        agree = "–" if r["component_agreement"] is None else f"{r['component_agreement']:.3f}"
        lines.append(f"| {name} | {prior} | {r['ppl']:.0f} | {r['separability']:.3f} | {agree} | "
                     f"{r['authenticity']:.3f} | {r['authenticity_pixels']:.3f} |")
    return "\n".join(lines)


TABLES: dict[str, Callable[[], str]] = {"quality": quality_table, "recipes": recipes_table,
                                        "zoo-retrain": zoo_retrain_table,
                                        "compaction": compaction_text, "latent": latent_table}


def _block(name: str) -> re.Pattern:
    """A table's markers and what is between them (an empty block too: a new table's first write)."""
    return re.compile(rf"(<!-- generated: {re.escape(name)} [^\n]*-->\n)(?:(.*?)\n)?(<!-- /generated: {re.escape(name)} -->)",
                      re.S)


def rewrite(text: str) -> str:
    """`text` with every generated table replaced by its data's table now."""
    for name, make in TABLES.items():
        table = make()
        text = _block(name).sub(lambda m, t=table: m.group(1) + t + "\n" + m.group(3), text)
    return text


def stale_tables(text: str) -> list[str]:
    """The generated tables of `text` that disagree with their data, or are missing their markers."""
    out = []
    for name, make in TABLES.items():
        m = _block(name).search(text)
        if not m or (m.group(2) or "") != make():
            out.append(name)
    return out


def update_readme() -> list[str]:
    """Rewrite README.md's generated tables; the names of those that changed."""
    text = README.read_text()
    changed = stale_tables(text)
    if changed:
        README.write_text(rewrite(text))
    return changed
