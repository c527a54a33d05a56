"""Every GAN variant as data: loss × prior × conditioning × Lipschitz method × the knobs that
differ from BASE. The training engine reads these specs; no variant has code of its own.

Sources of the defaults: the course's five research write-ups (seeds 000–004: GANibal,
GANgineers, Nano Kiwi, Behaegel–Cornilleau–Lafaye, hooliGANs; not part of this repository), and
the original papers where the seeds are silent (noted per variant in `about`).
"""
from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field

from core.errors import ConfigError

LOSSES = ("bce", "wasserstein", "hinge", "san", "kplus1", "kplus1-cluster")
LIPSCHITZ = ("none", "clip", "gp", "sn")
CONDITIONING = ("none", "loss", "critic", "generator+critic")
OPTIMIZERS = ("adam", "rmsprop")
INITS = ("default", "xavier")  # PyTorch's Kaiming-uniform Linear init, or Xavier-uniform (seed 001)
CHOICES = {"optimizer": OPTIMIZERS, "init": INITS}  # the values a text knob may take

# Every knob, with its default. A variant lists only what it changes.
BASE: dict = dict(
    z_dim=100,          # latent size (the course generator)
    g_hidden="256,512,1024",  # the generator's hidden layer sizes (the course MLP's)
    d_hidden="1024,512,256",  # the critic's
    batch_size=64,
    epochs=30,          # passes over the 50k training digits
    max_steps=0,        # step limit: the run ends (done) at this many steps in all, resumes included (0 = none)
    max_seconds=0.0,    # wall-time budget: the run ends (done) once it has taken this long, everything included (0 = none)
    n_critic=1,         # critic steps per generator step
    optimizer="adam",
    init="default",     # weight init of G and D: "default" (PyTorch) or "xavier" (seed 001's WGAN-GP)
    lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999,
    lr_prior=0.0,       # learnable prior's learning rate; 0 = same as lr_g
    gp_lambda=10.0,     # WGAN-GP penalty weight
    clip=0.01,          # WGAN weight-clipping bound c
    san_lambda=1.0,     # weight of SAN's direction (Wasserstein) term
    prior_k=10, prior_c=1.0, prior_sigma=1.0,  # mixture: K components, μ ~ U[-c,c]^d, σ
    log_every=50,       # steps between metric rows
    ckpt_every=1,       # epochs between checkpoints (and always at the end)
    ckpt_minutes=5.0,   # also checkpoint mid-epoch after this many minutes (0 = only per epoch)
    data_limit=0,       # train on the first N training digits (0 = all 50k)
    ema=0.999,          # generator EMA decay (0 = off); when on, the EMA generator is sampled, scored, shipped.
                        # On since 2026-12-04: at epoch 10 (n 10k) FID 4.10 vs 8.91 raw (wgan-gp), 9.63 vs 12.79 (vanilla)
    eval_every=1,       # epochs between timeline records (quality on fixed noise; 0 = off; always at the end)
    eval_n=1000,        # digits per timeline record (1000: ~6% of a vanilla epoch on 2 CPU cores)
    seed=0,
)
# Saved configs predate some knobs; where a knob's default is not what such a run did, a saved
# config without the key gets this value (runs from before the generator EMA trained without one).
SAVED_BEFORE = {"ema": 0.0}


def complete_saved(saved: dict) -> dict:
    """A saved (run or checkpoint) config with the knobs it predates set to what it did."""
    return {**saved, **{k: v for k, v in SAVED_BEFORE.items() if k not in saved}}


# Knobs of the run's bookkeeping rather than of the GAN: not shown among a variant's knobs.
HOUSEKEEPING = ("log_every", "ckpt_every", "ckpt_minutes", "data_limit", "eval_every", "eval_n", "max_seconds",
                "max_steps")
ARCHITECTURE = ("g_hidden", "d_hidden")  # the networks' shape: set with --set, not on the Train form
# Knobs that never change what a model learns: ignored when two models are compared like for like
# (data_limit, max_steps and max_seconds do change it, so they count)
BOOKKEEPING = ("log_every", "ckpt_every", "ckpt_minutes", "eval_every", "eval_n", "seed")
MAX_LAYERS, MAX_WIDTH = 8, 8192
MAX_Z = MAX_WIDTH  # the latent size, bounded like a hidden layer: G's first layer is z × width


def hidden_sizes(text: str) -> tuple[int, ...]:
    """'256,512,1024' -> (256, 512, 1024)."""
    return tuple(int(s) for s in text.split(","))


def _check_hidden(key: str, text: str) -> str:
    parts = text.replace(" ", "").split(",")
    if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= MAX_LAYERS \
            or not all(1 <= int(p) <= MAX_WIDTH for p in parts):
        raise ConfigError(f"{key} must be 1 to {MAX_LAYERS} comma-separated layer sizes of 1 to {MAX_WIDTH}, "
                          f"like 256,512,1024; got {text!r}")
    return ",".join(str(int(p)) for p in parts)


@dataclass(frozen=True)
class Variant:
    name: str
    loss: str
    prior: str = "gaussian"
    conditioning: str = "none"
    lipschitz: str = "none"
    defaults: dict = field(default_factory=dict)
    about: str = ""
    # The seed's own values of the knobs whose default was since chosen by measurement (time to
    # quality); with ema 0 (the seeds had no generator EMA) they give the seed's recipe back.
    seed_values: dict = field(default_factory=dict)

    @property
    def title(self) -> str:
        """A one-line name for menus: the `about` text up to its first ';' (never cut inside a
        number like "β (0.5, 0.9)" as a split at '.' would), without its seed reference."""
        head = re.sub(r"\s*\(seeds? [^)]*\)", "", self.about.split(";")[0]).replace(": ", " — ", 1).strip()
        head = head.rstrip(".")
        return head if len(head) <= 70 else head[:69].rstrip(" ,") + "…"

    @property
    def conditional(self) -> bool:
        """True when the model generates a requested class (its y is a digit label)."""
        return self.conditioning != "none"

    @property
    def critic_head(self) -> str:
        return {"san": "san", "kplus1": "kplus1", "kplus1-cluster": "kplus1"}.get(self.loss, "scalar")

    def knobs(self) -> list[str]:
        """The hyper-parameters that change this variant's training (others are ignored by it)."""
        keep = {"gp_lambda": self.lipschitz == "gp", "clip": self.lipschitz == "clip",
                "san_lambda": self.loss == "san", "lr_prior": self.prior == "mixture-learnable",
                "prior_k": self.prior != "gaussian", "prior_c": self.prior != "gaussian",
                "prior_sigma": self.prior != "gaussian", "beta1": True, "beta2": True}
        return [k for k in BASE if keep.get(k, True)]

    def catalogue_row(self) -> dict:
        return {"name": self.name, "loss": self.loss, "prior": self.prior, "conditional": self.conditional,
                "conditioning": self.conditioning, "lipschitz": self.lipschitz, "about": self.about}


_GP = dict(n_critic=1, lr_g=1e-3, lr_d=3e-4, beta1=0.5, beta2=0.9, gp_lambda=10.0)
_CGP = dict(n_critic=3, lr_g=1e-4, lr_d=1e-4, beta1=0.5, beta2=0.9, gp_lambda=10.0)

VARIANTS: dict[str, Variant] = {v.name: v for v in [
    Variant("vanilla", "bce",
            about="Goodfellow GAN: BCE critic (logit + sigmoid in the loss), non-saturating G loss; "
                  "lr 2e-4 (seeds 000/003/004)."),
    Variant("wgan", "wasserstein",
            about="Plain WGAN: Wasserstein loss with no Lipschitz control (no clipping, penalty or spectral norm); "
                  "the course's other settings unchanged, lr 2e-4 (seed 003's baseline, FID 89.8 there)."),
    Variant("wgan-wc", "wasserstein", lipschitz="clip",
            defaults=dict(n_critic=5, clip=0.01, optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5),
            about="WGAN: critic weights clamped to ±c after every critic step; c 0.01 (seed 001), n_critic 5, "
                  "RMSprop 5e-5 (Arjovsky et al.)."),
    Variant("wgan-gp", "wasserstein", lipschitz="gp", defaults=dict(_GP, batch_size=128), seed_values=dict(batch_size=64),
            about="WGAN-GP: λ·E[(‖∇D(x̂)‖−1)²] at x̂ = εx+(1−ε)G(z); λ 10, n_critic 1, lr_G 1e-3, lr_D 3e-4, "
                  "β (0.5, 0.9) (seed 001, which also used Xavier init: --set init=xavier; seed 002 used n_critic 5, "
                  "lr 1e-4); batch 128 and the generator EMA 0.999 chosen by time to quality: 540 s on 2 CPU cores, 3 "
                  "seeds, trained interleaved with seed 001's batch 64 (with and without the EMA) and chosen on the "
                  "validation split's FID (trained/quality.json, README); --seed-recipe gives seed 001's batch 64 "
                  "and no EMA back."),
    Variant("wgan-sn", "wasserstein", lipschitz="sn", defaults=dict(n_critic=2, beta1=0.5, beta2=0.9),
            about="WGAN with spectral normalisation on every critic layer (seed 000); Adam 2e-4 β (0.5, 0.9), n_critic 2."),
    Variant("hinge", "hinge",
            about="Hinge loss: E[max(0,1−D(x))] + E[max(0,1+D(G(z)))] for D, −E[D(G(z))] for G (seed 003)."),
    Variant("san", "san", defaults=dict(san_lambda=1.0),
            about="SAN (Takida et al. 2024): unit direction ω as last layer; hinge on ⟨ω⁻,h⟩ + λ·Wasserstein on "
                  "⟨ω,h⁻⟩; λ 1, batch 64 (seed 003, sony/san simple-san)."),
    Variant("gm-static", "bce", prior="mixture", defaults=dict(prior_k=10, prior_c=0.1, prior_sigma=0.15),
            about="Static GM-GAN: z ~ Σ π_k N(μ_k, σ²I), μ_k ~ U[−c,c]^d fixed; K 10, c 0.1, σ 0.15 (seed 002)."),
    Variant("gm-static-sup", "kplus1", prior="mixture", conditioning="loss",
            defaults=dict(prior_k=10, prior_c=1.0, prior_sigma=1.0),
            about="Supervised static GM-GAN: fixed mixture z ~ Σ π_k N(μ_k, σ²I); D outputs K+1 logits (classes + fake), "
                  "G loss = CE toward its component's class; K 10, c 1, σ 1 (seed 004 §2.2.1 used K 11, d 200: "
                  "--set prior_k=11 --set z_dim=200)."),
    Variant("gm-static-cluster", "kplus1-cluster", prior="mixture",
            defaults=dict(prior_k=10, prior_c=1.0, prior_sigma=1.0),
            about="Unsupervised static GM-GAN with a K+1 'cluster' discriminator: no labels; D gives a real digit "
                  "−log Σ_k p_k (real = any of K clusters) and a fake the fake class; G's component k is pushed "
                  "toward cluster k; K 10, c 1, σ 1 (seed 004 §2, Ben-Yosef & Weinshall 2018)."),
    Variant("gm-static-wgan", "wasserstein", prior="mixture", lipschitz="gp",
            defaults=dict(_GP, prior_k=10, prior_c=1.0, prior_sigma=1.0),
            about="Static GM prior with the WGAN-GP loss; c 1, σ 1 (seed 004's best σ)."),
    Variant("gm-dynamic", "kplus1", prior="mixture-learnable", conditioning="loss",
            defaults=dict(prior_k=10, prior_c=1.0, prior_sigma=1.4),
            about="Dynamic supervised GM-GAN: learnable μ_k, σ_k; D outputs K+1 logits (classes + fake); "
                  "G+GMM loss = CE toward the component's class; K 10, σ 1.4, d 100 (seed 004, their best)."),
    Variant("cwgan-gp", "wasserstein", prior="mixture-learnable", conditioning="critic", lipschitz="gp",
            defaults=dict(_CGP, prior_k=10, prior_c=1.0, prior_sigma=1.0),
            about="Conditional WGAN-GP with learnable class Gaussians z ~ N(a_y, b_y²I) and critic D(x, y); "
                  "n_critic 3, λ 10, lr 1e-4 (seed 002, their best)."),
    Variant("gmm-cwgan-gp", "wasserstein", prior="mixture", conditioning="generator+critic", lipschitz="gp",
            defaults=dict(_CGP, prior_k=10, prior_c=1.0, prior_sigma=1.0),
            about="Mixture prior with G(z, y) and critic f(x, y), WGAN-GP loss (seed 000)."),
]}


def seed_recipe(name: str) -> dict:
    """The overrides that give a variant's seed recipe back: no generator EMA (no seed had one)
    and the seed's values of the defaults chosen since by measurement."""
    return {"ema": 0.0, **get_variant(name).seed_values}


RECIPES = ("default", "seed")  # what `recipe_of` tells apart; anything else is "custom"


def parse_recipe(variant: str, spec: str) -> tuple[str, dict]:
    """A compared recipe on the command line -> (its name, its overrides): "default" (today's
    defaults), "seed" (`seed_recipe`), or "NAME:key=value[,key=value…]" (today's defaults with
    those knobs set)."""
    name, sep, sets = spec.partition(":")
    name = name.strip()
    if not sep:
        if name not in RECIPES:
            raise ConfigError(f"--recipe {spec!r}: say default, seed or NAME:key=value[,key=value…]")
        return name, (seed_recipe(variant) if name == "seed" else {})
    if not name or not sets.strip():
        raise ConfigError(f"--recipe {spec!r}: a custom recipe is NAME:key=value[,key=value…]")
    return name, parse_sets([p for p in sets.split(",") if p.strip()])


def recipe_of(cfg: dict) -> str:
    """Which recipe a (complete) config was trained with, judged on the knobs that tell the two
    apart (`seed_recipe`'s): "default" (today's defaults), "seed" (its seed's), else "custom"."""
    cfg = complete_saved(cfg)
    base, seed = make_config(cfg["variant"]), seed_recipe(cfg["variant"])
    for name, want in (("seed", seed), ("default", {k: base[k] for k in seed})):
        if all(cfg.get(k, base[k]) == v for k, v in want.items()):
            return name
    return "custom"


def get_variant(name: str) -> Variant:
    if name not in VARIANTS:
        near = difflib.get_close_matches(name, VARIANTS, n=1)
        hint = f" (did you mean {near[0]}?)" if near else f"; choose one of {', '.join(VARIANTS)}"
        raise ConfigError(f"unknown variant {name!r}{hint}")
    return VARIANTS[name]


def _coerce(key: str, value):
    want = type(BASE[key])
    if isinstance(value, str) and want is not str:
        try:
            value = {"bool": lambda s: s.lower() in ("1", "true", "yes")}.get(want.__name__, want)(value)
        except ValueError:
            raise ConfigError(f"{key} must be a {want.__name__}, got {value!r}") from None
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if want is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        raise ConfigError(f"{key} must be a {want.__name__}, got {value!r}")
    if want is float and not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number, got {value!r}")
    return value


_POSITIVE = ("epochs", "batch_size", "n_critic", "lr_g", "lr_d", "clip", "prior_k", "prior_sigma", "z_dim", "log_every",
             "ckpt_every")
_NON_NEGATIVE = ("lr_prior", "gp_lambda", "san_lambda", "prior_c", "seed", "ckpt_minutes", "data_limit", "eval_every",
                 "max_seconds", "max_steps")


def make_config(variant: str, overrides: dict | None = None) -> dict:
    """BASE ← variant defaults ← overrides, validated. Unknown keys are errors."""
    v = get_variant(variant)
    cfg = dict(BASE, **v.defaults)
    for key, value in (overrides or {}).items():
        if key not in BASE:
            near = difflib.get_close_matches(key, BASE, n=1)
            raise ConfigError(f"unknown hyper-parameter {key!r}" + (f" (did you mean {near[0]}?)" if near else ""))
        cfg[key] = _coerce(key, value)
    for key in _POSITIVE:
        if not cfg[key] > 0:
            raise ConfigError(f"{key} must be positive, got {cfg[key]}")
    for key in _NON_NEGATIVE:
        if cfg[key] < 0:
            raise ConfigError(f"{key} must not be negative, got {cfg[key]}")
    if not (0 <= cfg["beta1"] < 1 and 0 <= cfg["beta2"] < 1):
        raise ConfigError("beta1 and beta2 must lie in [0, 1)")
    if not 0 <= cfg["ema"] < 1:
        raise ConfigError(f"ema is the generator EMA's decay: 0 (off) or in (0, 1), like 0.999; got {cfg['ema']}")
    if not 10 <= cfg["eval_n"] <= 2000:
        raise ConfigError(f"eval_n (digits per timeline record) must lie in 10..2000 "
                          f"(the real set it is scored against), got {cfg['eval_n']}")
    for key in ARCHITECTURE:
        cfg[key] = _check_hidden(key, cfg[key])
    if cfg["z_dim"] > MAX_Z:
        raise ConfigError(f"z_dim must be at most {MAX_Z} (like a hidden layer's width), got {cfg['z_dim']}")
    for key, allowed in CHOICES.items():
        if cfg[key] not in allowed:
            raise ConfigError(f"{key} must be one of {', '.join(allowed)}, got {cfg[key]!r}")
    if v.conditioning in ("critic", "generator+critic") and cfg["prior_k"] != 10:
        raise ConfigError(f"{variant} ties one mixture component to each digit: prior_k must be 10")
    if v.conditioning == "loss" and cfg["prior_k"] < 10:
        raise ConfigError(f"{variant} gives each digit class its own component: prior_k must be at least 10 "
                          f"(components past 9 have no real digits; seed 004 used 11)")
    return {"variant": variant, **cfg}


def parse_sets(pairs: list[str]) -> dict:
    """['lr_g=1e-4', 'n_critic=3'] -> {'lr_g': '1e-4', ...} (typed later by make_config)."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set takes key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def training_differences(configs: dict[str, dict], about: tuple[str, ...] = ()) -> list[dict]:
    """Where models' training differs in more than what a comparison of their variants is about: the
    knobs every one of their variants uses (Variant.knobs(), epochs and batch size included), minus
    BOOKKEEPING and the knobs in `about`, on which their configs disagree. One row per knob,
    {"knob": k, model: value, ...}; [] means like for like."""
    used = set.intersection(*(set(get_variant(c["variant"]).knobs()) for c in configs.values()))
    out = []
    for k in [k for k in BASE if k in used and k not in BOOKKEEPING and k not in about]:
        vals = {m: c.get(k, BASE[k]) for m, c in configs.items()}  # a config that predates a knob had its default
        if len({repr(v) for v in vals.values()}) > 1:
            out.append({"knob": k, **vals})
    return out
