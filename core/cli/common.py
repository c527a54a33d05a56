"""What every CLI module shares: the MODEL argument's help and the plain-text table."""
from __future__ import annotations

MODEL_HELP = "a zoo name, an imported model, a run id or a checkpoint path"


def table(rows: list[dict], cols: list[str]) -> str:
    cells = [[("" if r.get(c) is None else (f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c])))
              for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)
