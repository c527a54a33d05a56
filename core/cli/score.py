"""CLI commands over what a model generates: `sample` (a grid of digits), `classifier` (the MNIST ResNet
behind every metric) and `score` (a model, a file of digits or the real data, beside the real-data floor)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from core.cli.options import add_device, add_json, add_model, add_prior, add_seed, positive_float, positive_int
from core.cli.text import score_text
from core.errors import ConfigError

SAMPLE_MAX = 10_000  # digits in one grid (a 10k grid is already 3,000 pixels wide)


def _writable_file(out: str) -> Path:
    """--out as a file path that can be written, checked before any work is done."""
    p = Path(out)
    if p.is_dir():
        raise ConfigError(f"--out {out} is a folder; name a file in it, e.g. {p / 'grid.png'}")
    parent = next((q for q in [p.parent, *p.parent.parents] if q.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ConfigError(f"--out {out}: {parent} is not a folder")
    return p


def cmd_sample(a):
    if a.n > SAMPLE_MAX:
        raise ConfigError(f"--n is at most {SAMPLE_MAX} digits for one grid, got {a.n}")
    if a.nrow is not None and a.nrow > a.n:
        raise ConfigError(f"--nrow (digits per row) is at most --n ({a.n}), got {a.nrow}")
    out = _writable_file(a.out)
    import torch

    from core.gan.sampling import generate
    from core.store.images import save_grid
    from core.store.registry import load_model
    from core.train.engine import resolve_device
    m = load_model(a.model, resolve_device(a.device), prior=a.prior)
    g = torch.Generator().manual_seed(a.seed)
    y = torch.arange(a.n) * m.prior.k // a.n if m.prior.k else None  # mixtures: blocks in component order
    imgs, _ = generate(m.G, m.prior, a.n, y=y, generator=g)
    try:
        print(save_grid(imgs, out, nrow=a.nrow or max(1, int(round(a.n ** 0.5)))))
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from None


def cmd_classifier(a):
    from core.eval.classifier import META, WEIGHTS, accuracy, load_classifier, train_classifier
    from core.train.engine import resolve_device
    if a.action == "train":
        meta = train_classifier(epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, seed=a.seed,
                                device=resolve_device(a.device), progress=not a.quiet)
        print(f"test accuracy {meta['test_accuracy']:.4f} (valid {meta['valid_accuracy']:.4f}); "
              f"wrote {WEIGHTS} and {META.name}")
    else:
        model = load_classifier()
        print(json.dumps({"test_accuracy": accuracy(model, "test"), "file": str(WEIGHTS)}))


def _print_scores(res: dict, as_json: bool) -> None:
    print(json.dumps(res, indent=2) if as_json else score_text(res))


def _score_samples(a) -> None:
    """score --samples PATH: a file of digits, beside the real-data floor at its n."""
    if a.model or a.real or a.prior or a.raw or a.class_weights != "uniform":
        raise ConfigError("score --samples PATH scores that file alone: no MODEL, --real, --prior, --raw or "
                          "--class-weights")
    from core.eval.sample_files import score_samples
    from core.eval.score import score_real
    res = score_samples(a.samples, a.key)
    res = {**res, "floor": score_real(n=res["n"])}  # at the same n: precision and recall depend on it
    _print_scores(res, a.json)
    if not a.json:
        print(f"  read {res['n']} digits ({res['format']}, values {res['range']})")
        _print_scores(res["floor"], False)


def _refuse_mixed(a) -> None:
    """The combinations of MODEL / --real and their options that score refuses."""
    if a.real and a.prior:
        raise ConfigError("--prior applies to a MODEL, not to --real")
    if a.real and a.model:
        raise ConfigError("score takes MODEL or --real (the real-data floor), not both")
    if not a.real and not a.model:
        raise ConfigError("score needs MODEL (a run id or checkpoint path) or --real")
    if a.real and a.class_weights != "uniform":
        raise ConfigError("--class-weights applies to a conditional MODEL, not to --real")
    if a.raw and (a.real or a.prior):
        raise ConfigError("--raw scores a MODEL's live generator beside its EMA: not with --real or --prior")


def cmd_score(a):
    from core.eval.score import K, score_model, score_real
    if a.n <= K:
        raise ConfigError(f"--n must be more than {K} (the k of precision/recall), got {a.n}")
    if a.samples:
        return _score_samples(a)
    if a.key:
        raise ConfigError("--key names an array of a --samples .npz")
    if a.ship:  # --real --ship: the test split's reference and the floors into trained/reference/
        if not a.real or a.model:
            raise ConfigError("--ship goes with --real alone: it ships the test reference and the real-data floors")
        from core.eval.score import ship_reference
        print("shipped trained/reference/ (bytes):", json.dumps(ship_reference()))
        return
    _refuse_mixed(a)
    if a.latent and a.real:
        raise ConfigError("--latent measures a MODEL's latent space: not with --real")
    res = score_real(n=a.n, seed=a.seed) if a.real else score_model(a.model, n=a.n, seed=a.seed, prior=a.prior,
                                                                     class_weights=a.class_weights, raw=a.raw)
    if a.latent:
        from core.explore.latent_scores import latent_scores
        say = None if a.json else (lambda what: print(f"latent: {what}…", file=sys.stderr, flush=True))
        lat = latent_scores(a.model, prior=a.prior, n=a.n, seed=a.seed, progress=say)
        res = {**res, **{k: v for k, v in lat.items() if k not in res}}
    if not a.real:  # every score is shown beside the best any generator could hope for
        res = {**res, "floor": score_real(n=a.n)}
    _print_scores(res, a.json)
    if not a.real and not a.json:
        _print_scores(res["floor"], False)


def add_parsers(sub) -> None:
    s = sub.add_parser("sample", help="write a grid of generated digits")
    add_model(s)
    s.add_argument("--n", type=positive_int, default=64)
    s.add_argument("--nrow", type=positive_int)
    s.add_argument("--out", default="grid.png")
    add_seed(s)
    add_device(s)
    add_prior(s)
    s.set_defaults(fn=cmd_sample)

    s = sub.add_parser("classifier", help="the MNIST ResNet behind every metric")
    s.add_argument("action", choices=["train", "check"])
    s.add_argument("--epochs", type=positive_int, default=8)
    s.add_argument("--batch-size", type=positive_int, default=128)
    s.add_argument("--lr", type=positive_float, default=0.05)
    add_seed(s)
    add_device(s)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_classifier)

    s = sub.add_parser("score", help="FID / precision / recall / density / coverage in classifier features")
    add_model(s, optional=True)
    s.add_argument("--real", action="store_true", help="score 10k real training digits: the floor")
    s.add_argument("--ship", action="store_true",
                   help="with --real: recompute the test split's reference and the floors into trained/reference/")
    s.add_argument("--n", type=positive_int, default=10_000)
    add_seed(s)
    add_prior(s)
    s.add_argument("--samples", metavar="PATH",
                   help="score a file of digits instead of a model: .npz / .npy / .pt (N×28×28, N×1×28×28 or N×784; "
                        "uint8 0–255 or float in [0, 1] or [−1, 1], detected) or a folder of 28×28 PNGs")
    s.add_argument("--key", help="--samples: the array of an .npz that holds several")
    s.add_argument("--raw", action="store_true", help="score the live generator of a run that keeps an EMA (the "
                                                     "EMA is what is scored by default): the EMA's effect")
    s.add_argument("--class-weights", default="uniform", choices=["uniform", "mnist"],
                   help="conditional models: ask for classes uniformly (default) or at MNIST's class frequencies "
                        "(seed 002)")
    s.add_argument("--latent", action="store_true",
                   help="add the latent space's numbers: ppl, separability, component_agreement, authenticity "
                        "(features and pixels); the first call per classifier caches the training split's neighbours")
    add_json(s)
    s.set_defaults(fn=cmd_score)
