"""What a model is, in one place. A MODEL name is, in this order of lookup:

    a checkpoint path     any file in checkpoint format (`*.pt`)
    a zoo model           trained/<variant>/model.pt, shipped with the project
    an imported model     imported/<name>/model.pt, brought by the user (`python -m core import`)
    a run id              runs/<id>/checkpoint.pt, trained here

This module turns a name into its checkpoint file, its networks (G, D — None when the model
has no critic — and the prior) and the priors fitted to it (`python -m core invert`), which
live in a `priors/` folder beside the checkpoint. Every other module resolves names through
here, and this one imports only the bottom of the core, so nothing imports it back.
"""
from __future__ import annotations

import dataclasses
import functools
import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import CheckpointError, ConfigError, RunError
from core.gan.variants import VARIANTS, Variant, complete_saved, get_variant, hidden_sizes, make_config
from core.store.checkpoint import file_sha256, load, load_module
from core.store.files import TRAINED, imported_dir, runs_dir, write_bytes_atomic
from core.store.runs import Run

if TYPE_CHECKING:  # the networks are imported where they are built: listing and resolving names needs no torch
    from core.gan.nets import Critic, Generator
    from core.gan.priors import FittedPrior, Prior

SOURCES = ("path", "zoo", "imported", "run")
PRIOR_FORMAT = "latent-lab-prior/1"
NAME_RE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"  # a prior's or an imported model's name


def zoo_dir(name: str) -> Path:
    return TRAINED / name


def zoo_checkpoint(name: str) -> Path | None:
    """trained/<name>/model.pt if `name` is a zoo model."""
    p = zoo_dir(name) / "model.pt"
    return p if name in VARIANTS and p.is_file() else None


def imported_checkpoint(name: str) -> Path | None:
    """imported/<name>/model.pt if `name` is an imported model."""
    if not re.fullmatch(NAME_RE, name):
        return None
    p = imported_dir() / name / "model.pt"
    return p if p.is_file() else None


def list_imported() -> list[str]:
    root = imported_dir()
    return sorted(p.name for p in root.iterdir() if imported_checkpoint(p.name)) if root.is_dir() else []


def imported_info(name: str) -> dict:
    """The import.json of an imported model ({} if it has none or it is unreadable)."""
    try:
        out = json.loads((imported_dir() / name / "import.json").read_text())
    except (OSError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def locate(model: str) -> tuple[str, Path]:
    """(source, checkpoint file) of a MODEL name; CheckpointError when it names nothing."""
    p = Path(model)
    if p.is_file():
        if "/" not in model and (other := _registered(model)):  # a stray file never silently shadows a model
            raise CheckpointError(f"{model!r} is both a file in the working directory and {other}; write "
                                  f"./{model} for the file, or run from another directory for the model")
        return "path", p
    if p.suffix == ".pt" and not _registered(model):
        raise CheckpointError(f"no checkpoint at {p}")
    if found := zoo_checkpoint(model):
        return "zoo", found
    if found := imported_checkpoint(model):
        return "imported", found
    try:
        run = Run.open(model)
    except RunError:
        raise CheckpointError(f"{model!r} is not a checkpoint file, a zoo model (`python -m core zoo`), an imported "
                              f"model (`python -m core import`) or a run in {runs_dir()}") from None
    if not run.checkpoint_path.is_file():
        raise CheckpointError(f"run {model} has no checkpoint yet")
    return "run", run.checkpoint_path


def _registered(model: str) -> str | None:
    """What a bare name names besides a file: 'the zoo model …', 'the imported model …', 'the run …'."""
    if zoo_checkpoint(model):
        return f"the zoo model {model}"
    if imported_checkpoint(model):
        return f"the imported model {model}"
    if model and model not in (".", "..") and (runs_dir() / model / "config.json").is_file():
        return f"the run {model}"
    return None


def resolve(model: str) -> Path:
    """MODEL -> its checkpoint file."""
    return locate(model)[1]


@functools.lru_cache(maxsize=128)
def _sha_of(path: str, mtime_ns: int, size: int) -> str:
    return file_sha256(Path(path))


def checkpoint_sha(model: str) -> str:
    """The sha256 of MODEL's checkpoint file: what every cache, fingerprint and fitted prior is keyed
    by. Re-hashed only when the file's mtime or size changes."""
    p = resolve(model)
    st = p.stat()
    return _sha_of(str(p.resolve()), st.st_mtime_ns, st.st_size)


# ---------------------------------------------------------------- networks


def build_models(cfg: dict, device="cpu") -> tuple[Generator, Critic, Prior]:
    """The three modules of a config, freshly initialised (from the global RNG)."""
    from core.gan.nets import Critic, Generator, xavier_init
    from core.gan.priors import Prior
    v = get_variant(cfg["variant"])
    G = Generator(cfg["z_dim"], n_classes=cfg["prior_k"] if v.conditioning == "generator+critic" else 0,
                  hidden=hidden_sizes(cfg["g_hidden"]))
    D = Critic(v.critic_head, n_classes=cfg["prior_k"] if v.conditioning in ("critic", "generator+critic") else 0,
               spectral=v.lipschitz == "sn", k=cfg["prior_k"], hidden=hidden_sizes(cfg["d_hidden"]))
    prior = Prior(v.prior, cfg["z_dim"], cfg["prior_k"], cfg["prior_c"], cfg["prior_sigma"], seed=cfg["seed"])
    if cfg.get("init", "default") == "xavier":
        for net in (G, D):
            xavier_init(net)
    return G.to(device), D.to(device), prior.to(device)


def checkpoint_config(sd: dict) -> dict:
    """The checkpoint's config, validated and completed with the defaults of newer knobs."""
    variant = sd["config"].get("variant")
    if not isinstance(variant, str):
        raise CheckpointError("the checkpoint's config names no variant")
    try:
        return make_config(variant, {k: v for k, v in complete_saved(sd["config"]).items() if k != "variant"})
    except ConfigError as exc:
        raise CheckpointError(f"the checkpoint's config is not valid here ({exc})") from None


@dataclasses.dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model's networks, in eval mode, with its config and variant. D is None when the model has
    no critic (an imported generator on its own); `prior` is the trained prior, or a fitted one."""
    G: Generator
    D: Critic | None
    prior: Prior | FittedPrior
    config: dict
    variant: Variant

    @property
    def conditional(self) -> bool:
        """Whether the model is asked for classes (its mixture components are the digits)."""
        return self.variant.conditional

    @property
    def has_critic(self) -> bool:
        return self.D is not None


def models_from_checkpoint(sd: dict, device="cpu") -> LoadedModel:
    """The networks of a loaded checkpoint, in eval mode; D is None when the checkpoint has no
    critic (an imported generator on its own). G is the generator EMA when the run kept one."""
    cfg = checkpoint_config(sd)
    G, D, prior = build_models(cfg, device)
    load_module(G, sd["G_ema"] if sd.get("G_ema") is not None else sd["G"], "G")  # the EMA is what is sampled
    if sd.get("D") is None:
        D = None
    else:
        load_module(D, sd["D"], "D")
        D.eval()
    load_module(prior, sd.get("prior"), "prior")
    return LoadedModel(G.eval(), D, prior.eval(), cfg, get_variant(cfg["variant"]))


def load_model(model: str, device="cpu", prior: str | None = None) -> LoadedModel:
    """A MODEL's networks, in eval mode. `prior` = the name of a prior fitted to this model
    (`python -m core invert`) to use instead of the trained one."""
    m = models_from_checkpoint(load(resolve(model), map_location=device), device)
    return dataclasses.replace(m, prior=load_prior(model, prior, device)) if prior else m


def require_critic(D, model: str, what: str):
    """D, or a clear error naming what needs it, for a model that has no critic."""
    if D is None:
        raise ConfigError(f"{model} has no critic, and {what} needs one: import it with its discriminator "
                          f"(`python -m core import --generator G.pth --critic D.pth`)")
    return D


# ---------------------------------------------------------------- fitted priors

def priors_dir(model: str) -> Path:
    return resolve(model).parent / "priors"


def check_prior_name(name: str) -> str:
    if not re.fullmatch(NAME_RE, name):
        raise ConfigError(f"prior name {name!r}: use letters, digits, '.', '_' or '-'")
    return name


def prior_path(model: str, name: str) -> Path:
    return priors_dir(model) / f"{check_prior_name(name)}.pt"


def prior_token(model: str, name: str, token) -> str:
    """`token(path)` of a named prior's file, or 'missing': for cache keys of derived results."""
    p = prior_path(model, name)
    return token(p) if p.is_file() else "missing"


def save_prior(model: str, name: str, prior: FittedPrior, meta: dict) -> Path:
    """Save a prior fitted to MODEL; its metadata records the checkpoint it was fitted to
    (`checkpoint_sha256`), so it is never used with another."""
    import torch
    path = prior_path(model, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    meta = {**meta, "checkpoint_sha256": checkpoint_sha(model)}
    torch.save({"format": PRIOR_FORMAT, "state": {k: v.cpu() for k, v in prior.state_dict().items()},
                "conditional": prior.conditional, "meta": meta}, buf)
    write_bytes_atomic(path, buf.getvalue())
    return path


def list_priors(model: str) -> list[str]:
    d = priors_dir(model)
    return sorted(p.stem for p in d.glob("*.pt")) if d.is_dir() else []


def load_prior(model: str, name: str, device="cpu") -> FittedPrior:
    """A prior fitted to MODEL; refused (one line, with the command that refits it) when it was
    fitted to another checkpoint than the model's current one, or records none."""
    import torch

    from core.gan.priors import FittedPrior
    path = prior_path(model, name)
    if not path.is_file():
        have = ", ".join(list_priors(model)) or "none yet (run `python -m core invert MODEL`)"
        raise CheckpointError(f"model {model} has no prior {name!r}; saved priors: {have}")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
        st = sd["state"]
        prior = FittedPrior(st["weights"], st["means"], st["chol"], st["labels"], sd["conditional"])
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one clear message
        raise CheckpointError(f"{path} is not a readable prior ({type(exc).__name__})") from None
    meta = sd.get("meta") if isinstance(sd.get("meta"), dict) else {}
    if (why := prior_mismatch(model, meta)) is not None:
        raise CheckpointError(f"prior {name!r} of {model} {why}: refit it with `{refit_command(model, name, meta)}`")
    return prior.to(device)


def prior_mismatch(model: str, meta: dict) -> str | None:
    """Why a prior with this metadata cannot be used with MODEL's checkpoint now, or None if it can."""
    fitted_to = meta.get("checkpoint_sha256")
    if not fitted_to:
        return "records no checkpoint it was fitted to (saved before priors recorded one)"
    now = checkpoint_sha(model)
    if fitted_to != now:
        return f"was fitted to another checkpoint (sha256 {fitted_to[:12]}…; the model's is now {now[:12]}…)"
    return None


def refit_command(model: str, name: str, meta: dict) -> str:
    """The `python -m core invert` that fits the prior `name` again, with the fit's recorded knobs."""
    knobs = [("--n", meta.get("n")), ("--components", meta.get("k")), ("--covariance", meta.get("covariance")),
             ("--steps", meta.get("steps")), ("--split", meta.get("split")), ("--seed", meta.get("seed"))]
    return " ".join(["python -m core invert", model, *(f"{flag} {v}" for flag, v in knobs if v is not None),
                     "--name", name])


def prior_meta(model: str, name: str) -> dict:
    """What a saved prior records of its fit (split, n, K, steps, …); {} if it records nothing."""
    import torch
    try:
        meta = torch.load(prior_path(model, name), map_location="cpu", weights_only=True).get("meta", {})
    except Exception:  # noqa: BLE001 - an unreadable prior is reported by load_prior
        return {}
    return meta if isinstance(meta, dict) else {}
