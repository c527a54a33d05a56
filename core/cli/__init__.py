"""`python -m core …` — the command line over the library.

Each module here declares one group of commands (`add_parsers(sub)`) and their handlers (`cmd_*`);
`options` holds what their command lines share (MODEL, --json, --seed, --device, the number types),
`text` what their output shares (tables, scores).
Bad input (unknown variant or key, bad value, missing run) exits with code 2 and one line.
"""
from __future__ import annotations

import argparse
import sys

from core.cli import bench, directions, findings, imports, latent, runs, score, sweeps, timeline, track, train, zoo
from core.cli.options import Parser
from core.cli.train import Interrupted
from core.errors import LabError, TrainingFailed

EXIT_USAGE = 2
GROUPS = (train, findings, runs, score, zoo, bench, latent, directions, imports, sweeps, timeline, track)  # in `--help`'s order


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m core", description="Latent Lab: train, sample and inspect GANs on MNIST.")
    sub = p.add_subparsers(dest="cmd", parser_class=Parser, metavar="COMMAND")
    for group in GROUPS:
        group.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        a = parser.parse_args(argv)
        a.argv = list(sys.argv[1:] if argv is None else argv)  # what a record of the command shows
        if not getattr(a, "fn", None):
            parser.print_help()
            return EXIT_USAGE
        rc = a.fn(a)  # a handler may return its exit status (report --check: 1 when a table is stale)
    except LabError as exc:  # the user's mistake (a ConfigError from the parser, too)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingFailed as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # the machine, not the code: a full disk, a read-only or vanished folder
        print(f"error: {exc.strerror or type(exc).__name__}"
              + (f": {exc.filename}" if exc.filename else ""), file=sys.stderr)
        return EXIT_USAGE
    return rc if isinstance(rc, int) and not isinstance(rc, bool) else 0
