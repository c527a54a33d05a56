"""What the commands share on their command lines: the parser (any mistake is one line, exit code 2), the
MODEL argument, --json, --seed, --device, --set, and the argparse types that check a number where its
option is declared (`--n 0` is refused while the command line is read, before any work)."""
from __future__ import annotations

import argparse
import re

from core.errors import ConfigError

MODEL_HELP = "a zoo name, an imported model, a run id or a checkpoint path"
SEED_RECIPE_HELP = ("the variant's seed recipe instead of today's defaults: no generator EMA, and the seed's values "
                    "of the defaults chosen since by time to quality (wgan-gp: batch 64); --set still applies")

_REFUSED = re.compile(r"argument (\S+): ((?:must be|takes) .+)")  # a type's refusal, said as `--n must be …`


class Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are a ConfigError (one line, exit code 2), not usage + exit."""

    def error(self, message):
        if refused := _REFUSED.fullmatch(message):
            raise ConfigError(f"{refused[1]} {refused[2]}")
        raise ConfigError(f"{message} (see `{self.prog} --help`)")


# ---- argparse types: a number checked as it is read ------------------------------------------
def _number(kind: type, text: str):
    try:
        return kind(text)
    except ValueError:  # said as argparse says it for type=int / type=float
        raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None


def positive_int(text: str) -> int:
    """A count or a size: 1 or more."""
    val = _number(int, text)
    if val <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {val}")
    return val


def non_negative_int(text: str) -> int:
    """A count where 0 means "all" or "no limit" (invert --n 0: the whole split; --max-steps 0 lifts a limit)."""
    val = _number(int, text)
    if val < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {val}")
    return val


def positive_float(text: str) -> float:
    """A learning rate, a tolerance or a duration: more than 0 (nan is refused too)."""
    val = _number(float, text)
    if not val > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {val}")
    return val


def int_list(text: str) -> list[int]:
    """Comma-separated integers, e.g. seeds: 0,1,2."""
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes integers like 0,1,2; got {text!r}") from None


# ---- the options many commands take ------------------------------------------------------------
def add_model(s: argparse.ArgumentParser, optional: bool = False, help: str = MODEL_HELP) -> None:
    """MODEL: what `core.store.registry.load_model` resolves."""
    s.add_argument("model", nargs="?" if optional else None, help=help)


def add_prior(s: argparse.ArgumentParser) -> None:
    """--prior NAME: a prior fitted to the model (`python -m core invert`) instead of its trained one."""
    s.add_argument("--prior", help="a prior fitted to this model (`python -m core invert`) instead of the trained one")


def add_json(s: argparse.ArgumentParser) -> None:
    s.add_argument("--json", action="store_true")


def add_seed(s: argparse.ArgumentParser, default: int | None = 0, **kw) -> None:
    s.add_argument("--seed", type=int, default=default, **kw)


def add_device(s: argparse.ArgumentParser) -> None:
    s.add_argument("--device", default="auto")


def add_set(s: argparse.ArgumentParser, help: str = "override a hyper-parameter") -> None:
    """--set KEY=VALUE, repeatable (parsed by `core.gan.variants.parse_sets`)."""
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=help)
