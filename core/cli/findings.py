"""CLI commands `findings` (the seeds' claims, each checked on the shipped zoo; rows cached in
trained/findings.json) and `report --readme` (the README's tables from the shipped data files)."""
from __future__ import annotations

import json
import sys
import time

from core.cli.options import add_json, int_list


def cmd_findings(a):
    from core.results.findings import findings, keep_rows, shipped_state
    from core.results.freshness import findings_note
    seeds = a.seeds
    t0 = time.perf_counter()
    kept, old = shipped_state(seeds)
    if note := findings_note(old):
        print(note, file=sys.stderr)
    rows = findings(seeds, train=a.train, kept=keep_rows(kept, a.recompute))
    if a.ship:
        from core.results.findings import ship
        ship(rows, seeds)
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(f"[{r['writeup']}] {r['statement']}\n    {r['verdict'].upper()}: {r['evidence'] or '—'}\n    why: {r['why']}"
              + (f"\n    basis: {r['basis']}" if r["basis"] else ""))
    print(f"({len(rows)} claims in {time.perf_counter() - t0:.0f} s)", file=sys.stderr)


def cmd_report(a):
    from core.errors import ConfigError
    from core.results.readme import README, stale_tables, update_readme
    if not a.readme:
        raise ConfigError("report: say what to report (--readme)")
    if a.check:
        stale = stale_tables(README.read_text())
        print("README tables that disagree with their data: " + ", ".join(stale) if stale else
              "every generated README table matches its data", file=sys.stderr)
        return 1 if stale else 0
    changed = update_readme()
    print("rewrote " + ", ".join(changed) if changed else "README tables already match their data", file=sys.stderr)
    return 0


def add_parsers(sub) -> None:
    s = sub.add_parser("report", help="rewrite the README's generated tables from trained/*.json")
    s.add_argument("--readme", action="store_true", help="the tables between <!-- generated: NAME --> markers")
    s.add_argument("--check", action="store_true", help="only say which tables disagree (exit 1 if any)")
    s.set_defaults(fn=cmd_report)
    s = sub.add_parser("findings", help="the seeds' claims, each checked on the shipped zoo (cached)")
    s.add_argument("--seeds", type=int_list, default="0,1,2",
                   help="sampling seeds for the spread, comma-separated (default 0,1,2)")
    s.add_argument("--ship", action="store_true", help="also write trained/findings.json (the Findings page shows it)")
    s.add_argument("--train", action="store_true",
                   help="also do the work the zoo does not ship: train the σ sweep's runs (about 10 min on 2 cores) "
                        "and invert every train digit for the EM refit (about 25 min; both cached)")
    s.add_argument("--recompute", nargs="?", const="all", metavar="KIND,…",
                   help="recompute every row, or only the rows of these kinds (e.g. sweep: after its runs were "
                        "trained again); default: a row of trained/findings.json is reused while the models it uses "
                        "are the ones it was computed on")
    add_json(s)
    s.set_defaults(fn=cmd_findings)
