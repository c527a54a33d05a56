"""Checkpoint files: atomic writes and safe loads (`weights_only=True`); names are resolved in registry.py.

A checkpoint is a plain dict of tensors and primitives (so `weights_only=True` loads it):
    {"format": 1, "config": {...}, "step", "epoch", "train_seconds",
     "G", "D", "prior", "opt_g", "opt_d", "rng": {...}}
"""
from __future__ import annotations

import io
from pathlib import Path

import torch

from .errors import CheckpointError
from .store import write_bytes_atomic

FORMAT = 1


def save_atomic(obj: dict, path: str | Path) -> None:
    """torch.save, written through a temp file + fsync + rename: a kill at any moment leaves
    either the old file or the new one, never half of one."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes_atomic(Path(path), buf.getvalue())


def load(path: str | Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or "G" not in ckpt \
            or not isinstance(ckpt.get("config"), dict):
        raise CheckpointError(f"{path} is not a Latent Lab checkpoint")
    return ckpt


def _shape(t) -> str:
    return "×".join(map(str, t.shape)) if hasattr(t, "shape") and len(t.shape) else "a scalar"


def load_module(module: torch.nn.Module, state: dict, what: str) -> None:
    """module.load_state_dict(state), or CheckpointError naming each layer that is missing,
    unexpected or of another shape, with both shapes ("G fc1.weight is 256×50 in the
    checkpoint but 256×100 for its config")."""
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint's {what} is a {type(state).__name__}, not a state dict")
    own = module.state_dict()
    problems = [f"{what} {k} is {_shape(state[k])} in the checkpoint but {_shape(v)} for its config"
                for k, v in own.items() if k in state and getattr(state[k], "shape", None) != v.shape]
    problems += [f"{what} {k} is missing" for k in own if k not in state]
    problems += [f"{what} has an unexpected {k}" for k in state if k not in own]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise CheckpointError("checkpoint does not match its config: " + "; ".join(problems[:3]) + more)
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint's {what} cannot be loaded ({str(exc).splitlines()[0][:160]})") from None
