"""Checkpoint files: atomic writes and safe loads (`weights_only=True`); names are resolved in registry.py.

A checkpoint is a plain dict of tensors and primitives (so `weights_only=True` loads it):
    {"format": 1, "config": {...}, "step", "epoch", "train_seconds",
     "G", "D", "prior", "opt_g", "opt_d", "rng": {...}}

A shipped (zoo) model may keep its networks compact (`compact`): each 2-D weight as int8 with one
float32 scale per output row (symmetric, scale = max|row| / 127), under the keys
"<name>:q8" and "<name>:scale"; `load` expands them back to float32, so every reader sees an
ordinary state dict.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import CheckpointError
from core.store.files import write_bytes_atomic

if TYPE_CHECKING:
    import torch

FORMAT = 1
Q8, SCALE = ":q8", ":scale"


def compact(state: dict) -> dict:
    """A state dict with every 2-D float weight quantised to int8 per output row (half the
    bytes of float16) and the other float tensors in float16."""
    import torch  # here, not at the top: hashing and reading names never needs torch (the app's first page)
    out = {}
    for k, v in state.items():
        if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dim() == 2:
            w = v.detach().float()
            scale = w.abs().amax(1).clamp_min(1e-12) / 127
            out[k + Q8] = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
            out[k + SCALE] = scale
        elif isinstance(v, torch.Tensor) and v.is_floating_point():
            out[k] = v.half()
        else:
            out[k] = v
    return out


def is_compact(state) -> bool:
    """Whether a state dict holds `compact` (int8) weights."""
    return isinstance(state, dict) and any(isinstance(k, str) and k.endswith(Q8) for k in state)


def expand(state: dict) -> dict:
    """The inverse of `compact` (float32 weights); any other state dict is returned as it is."""
    if not is_compact(state):
        return state
    import torch
    out = {}
    for k, v in state.items():
        if k.endswith(SCALE) and k[:-len(SCALE)] + Q8 in state:
            continue
        if k.endswith(Q8):
            name = k[:-len(Q8)]
            scale = state.get(name + SCALE)
            if not isinstance(v, torch.Tensor) or not isinstance(scale, torch.Tensor) or v.dtype != torch.int8 \
                    or v.dim() != 2 \
                    or scale.shape != (v.shape[0],):
                raise CheckpointError(f"the compact weight {name} has no matching per-row scale")
            out[name] = v.float() * scale.float()[:, None]
        else:
            out[k] = v
    return out


def save_atomic(obj: dict, path: str | Path) -> None:
    """torch.save, written through a temp file + fsync + rename: a kill at any moment leaves
    either the old file or the new one, never half of one."""
    import torch
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes_atomic(Path(path), buf.getvalue())


def load(path: str | Path, map_location="cpu") -> dict:
    import torch
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
    for key in ("G", "D", "G_ema"):
        if key in ckpt:
            ckpt[key] = expand(ckpt[key])
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


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes: what every cache and fingerprint keys a checkpoint by."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
