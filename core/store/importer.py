"""Bring your own GAN: a generator (and optionally its critic) trained elsewhere, registered as
an imported model (imported/<name>/) that works wherever a MODEL does.

Accepted files (each read with `torch.load(weights_only=True)`; nothing in them is executed):
* a `state_dict` per network (`G.pth`, `D.pth`), or one file holding {"G": …, "D": …};
  a "module." prefix (DataParallel) is dropped;
* a Latent Lab checkpoint (any variant), copied as it is.
Accepted layouts, for MLPs of Linear layers with LeakyReLU(0.2) between them and tanh on G's
output (the course's networks; the activations have no weights, so they are assumed):
* the course's: `fc1.weight, fc1.bias, …, fcN.bias` (G: z → … → 784; D: 784 → … → 1, with a
  sigmoid in its forward or none: the logit DRS needs is fcN's output either way);
* this project's: G `net.0.weight …`, D `body.0.weight … head.weight`.
Hidden sizes and the z size are read from the shapes. The prior is N(0, I).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickletools
import re
import shutil
import time
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.gan.variants import MAX_LAYERS, MAX_WIDTH, MAX_Z, VARIANTS, make_config
from core.store.checkpoint import FORMAT, expand, save_atomic
from core.store.files import check_user_file, imported_dir, read_holder, runs_dir, try_lock, write_holder
from core.store.registry import NAME_RE, imported_checkpoint, models_from_checkpoint, zoo_checkpoint

if TYPE_CHECKING:  # torch is imported by what reads or writes tensors: the app's Import panel draws without it
    import torch

MAX_BYTES = 256 * 2**20  # a network file larger than this is refused before it is read; also what it may inflate to
MAX_VALUES = MAX_BYTES // 4  # the values its tensors may declare in all: 256 MiB as float32 (an int8 file expands)
PRIORS = ("gaussian",)
CRITIC_OUTPUTS = ("sigmoid", "logit")
LOSSES = {"bce": "vanilla", "wasserstein": "wgan", "hinge": "hinge"}  # the loss D was trained with -> variant
SAVE_HINT = "save the weights with torch.save(G.state_dict(), 'G.pth') and import that file"


class ImportRefused(ConfigError):
    """A file that cannot be imported; the message is one line."""


# ---------------------------------------------------------------- reading a file safely

def _pickle_globals(path: Path) -> list[str]:
    """The module.name globals a pickle (plain, or the data.pkl of torch's zip format) refers
    to, read with pickletools: listed, never imported or called."""
    raw = path.read_bytes()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            pkl = next((n for n in z.namelist() if n.endswith("data.pkl")), None)
            raw = z.read(pkl) if pkl else b""
    found, strings = [], []
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(raw)):
            if op.name == "GLOBAL":
                found.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str):
                strings.append(arg)
    except Exception:  # noqa: BLE001 - a cut-off pickle: what was read so far is the answer
        pass
    return found


def read_file(path: str | Path, what: str) -> object:
    """torch.load(weights_only=True) of a user's file, or ImportRefused saying in one line why
    not: missing, empty, too large, truncated, a pickled module, or a pickle that would run code."""
    import torch

    from core.store.safeload import check_torch_file
    path = Path(path)
    check_user_file(path, MAX_BYTES, "network files", f"{what}: ")
    try:
        check_torch_file(path, MAX_BYTES, MAX_VALUES, f"{what}: ")  # before torch materialises anything
    except ConfigError as exc:
        raise ImportRefused(str(exc)) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - classified below, from the file's bytes
        refs = _pickle_globals(path)
        if any(r.startswith("torch.nn.modules.") for r in refs):
            cls = next((r for r in refs if not r.startswith(("torch.", "collections."))), refs[0])
            raise ImportRefused(f"{what}: {path.name} is a whole pickled module ({cls}), which cannot be loaded "
                               f"safely; {SAVE_HINT}") from None
        unsafe = [r for r in refs if not r.startswith(("torch.", "collections."))]
        if unsafe:
            raise ImportRefused(f"{what}: {path.name} refers to {unsafe[0]}, which would run code when unpickled; "
                               f"it was not loaded. {SAVE_HINT[0].upper() + SAVE_HINT[1:]}") from None
        raise ImportRefused(f"{what}: {path.name} is truncated or not a PyTorch file "
                           f"({type(exc).__name__})") from None
    if isinstance(obj, dict):  # a compact (int8) state dict, or a checkpoint holding some, as float32
        obj = expand(obj)
        for key in ("G", "D", "G_ema"):
            if isinstance(obj.get(key), dict):
                obj[key] = expand(obj[key])
    return obj


# ---------------------------------------------------------------- layouts

def _tensor_dict(sd, what: str, name: str) -> dict[str, torch.Tensor]:
    import torch
    if not isinstance(sd, dict) or not sd:
        raise ImportRefused(f"{what}: {name} holds a {type(sd).__name__}, not a state_dict; {SAVE_HINT}")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sd.items()):
        bad = next(k for k, v in sd.items() if not isinstance(v, torch.Tensor))
        raise ImportRefused(f"{what}: {name}'s entry {bad!r} is not a tensor; {SAVE_HINT}")
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _chain(sd: dict, keys: list[tuple[str, str]], what: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The (weight, bias) pairs named by `keys`, checked to form a chain of Linear layers."""
    import torch
    layers = []
    for wk, bk in keys:
        w, b = sd[wk], sd[bk]
        if w.dim() != 2 or b.dim() != 1 or b.shape[0] != w.shape[0]:
            raise ImportRefused(f"{what} {wk} is {_shape(w)} with a bias of {_shape(b)}: not a Linear layer")
        if layers and w.shape[1] != layers[-1][0].shape[0]:
            raise ImportRefused(f"{what} {wk} reads {w.shape[1]} inputs but the layer before it gives "
                               f"{layers[-1][0].shape[0]}")
        if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
            raise ImportRefused(f"{what} {wk} holds NaN or infinite weights")
        layers.append((w.float(), b.float()))
    return layers


def _shape(t: torch.Tensor) -> str:
    return "×".join(map(str, t.shape)) or "a scalar"


def read_layers(sd: dict, what: str) -> tuple[str, list[tuple[torch.Tensor, torch.Tensor]]]:
    """(layout, Linear layers) of a G or D state_dict in the course's or this project's layout."""
    from core.gan.nets import IMG
    keys = set(sd)
    course = sorted(int(m.group(1)) for k in keys if (m := re.fullmatch(r"fc(\d+)\.weight", k)))
    if course:
        names = [(f"fc{i}.weight", f"fc{i}.bias") for i in course]
        want = {n for pair in names for n in pair}
        if course != list(range(1, len(course) + 1)):
            raise ImportRefused(f"{what}: the course layout numbers its layers fc1, fc2, …; found "
                               f"{', '.join(f'fc{i}' for i in course)}")
        layout = "course"
    elif what == "G" and "net.0.weight" in keys:
        idx = sorted(int(m.group(1)) for k in keys if (m := re.fullmatch(r"net\.(\d+)\.weight", k)))
        names = [(f"net.{i}.weight", f"net.{i}.bias") for i in idx]
        want, layout = {n for pair in names for n in pair}, "latent-lab"
    elif what == "D" and "body.0.weight" in keys:
        idx = sorted(int(m.group(1)) for k in keys if (m := re.fullmatch(r"body\.(\d+)\.weight", k)))
        names = [(f"body.{i}.weight", f"body.{i}.bias") for i in idx] + [("head.weight", "head.bias")]
        want, layout = {n for pair in names for n in pair}, "latent-lab"
    else:
        shown = ", ".join(sorted(keys)[:4]) + (" …" if len(keys) > 4 else "")
        raise ImportRefused(f"{what}: unknown layout (keys {shown}); expected the course's fc1.weight … fcN.bias "
                           f"or this project's {'net.0.weight …' if what == 'G' else 'body.0.weight … head.weight'}")
    if missing := sorted(want - keys):
        raise ImportRefused(f"{what}: {missing[0]} is missing" + (f" (and {len(missing) - 1} more)" if len(missing) > 1
                                                                  else ""))
    if unknown := sorted(keys - want):
        raise ImportRefused(f"{what}: unexpected key {unknown[0]}" + (f" (and {len(unknown) - 1} more)"
                                                                     if len(unknown) > 1 else "")
                           + "; a conditional or spectral-normed network is imported as a Latent Lab checkpoint")
    if what == "G" and sd[names[0][0]].dim() == 2 and sd[names[0][0]].shape[1] > MAX_Z:  # before any value is read
        raise ImportRefused(f"G reads a z of {sd[names[0][0]].shape[1]}; at most {MAX_Z} (like a hidden layer)")
    layers = _chain(sd, names, what)
    if not 2 <= len(layers) <= MAX_LAYERS + 1:
        raise ImportRefused(f"{what} has {len(layers)} Linear layers; 2 to {MAX_LAYERS + 1} are accepted")
    if max(w.shape[0] for w, _ in layers[:-1]) > MAX_WIDTH:
        raise ImportRefused(f"{what} has a hidden layer wider than {MAX_WIDTH}")
    if what == "G" and layers[-1][0].shape[0] != IMG:
        raise ImportRefused(f"G's last layer gives {layers[-1][0].shape[0]} values, not the {IMG} pixels of a "
                           "28×28 digit")
    if what == "D" and (layers[0][0].shape[1] != IMG or layers[-1][0].shape[0] != 1):
        raise ImportRefused(f"D must read {IMG} pixels and give 1 score; it reads {layers[0][0].shape[1]} and gives "
                           f"{layers[-1][0].shape[0]}")
    return layout, layers


def _ours(layers, what: str) -> dict[str, torch.Tensor]:
    """Linear layers -> this project's Generator / Critic state_dict."""
    out = {}
    body = layers if what == "G" else layers[:-1]
    prefix = "net" if what == "G" else "body"
    for j, (w, b) in enumerate(body):
        out[f"{prefix}.{2 * j}.weight"], out[f"{prefix}.{2 * j}.bias"] = w, b
    if what == "D":
        out["head.weight"], out["head.bias"] = layers[-1]
    return out


def _sizes(layers, what: str) -> str:
    return ",".join(str(w.shape[0]) for w, _ in (layers[:-1]))


# ---------------------------------------------------------------- registering

def check_name(name: str, force: bool = False) -> str:
    """A name the registry resolves to this imported model, from any working directory."""
    if not re.fullmatch(NAME_RE, name):
        raise ImportRefused(f"--name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    if name in VARIANTS or zoo_checkpoint(name):
        raise ImportRefused(f"--name {name}: a zoo model has that name; choose another")
    if (runs_dir() / name / "config.json").is_file():
        raise ImportRefused(f"--name {name}: a run has that id; choose another")
    if name.lower().endswith((".pt", ".pth")):  # a MODEL ending so is read as a file's path, never looked up
        raise ImportRefused(f"--name {name}: a MODEL ending in {Path(name).suffix} is read as a file; "
                            f"choose a name without it (e.g. {Path(name).stem})")
    if Path(name).exists():
        raise ImportRefused(f"--name {name}: a file of that name in the working directory would be read instead "
                            "of the model; choose another name")
    if imported_checkpoint(name) and not force:
        raise ImportRefused(f"--name {name}: an imported model has that name (--force replaces it)")
    return name


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_checkpoint(generator: str | Path, critic: str | Path | None = None, prior: str = "gaussian",
                     z_dim: int | None = None, critic_output: str = "sigmoid", loss: str = "bce") -> tuple[dict, dict]:
    """(checkpoint, description) for the files, checked; nothing is written."""
    import torch
    if prior not in PRIORS:
        raise ImportRefused(f"--prior {prior}: an imported generator is sampled from {' or '.join(PRIORS)} "
                           "(its training prior's parameters are not in a state_dict)")
    if critic_output not in CRITIC_OUTPUTS:
        raise ImportRefused(f"--critic-output must be one of {', '.join(CRITIC_OUTPUTS)}, got {critic_output!r}")
    if loss not in LOSSES:
        raise ImportRefused(f"--loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    generator = Path(generator)
    g_obj = read_file(generator, "G")
    d_obj = read_file(critic, "D") if critic else None
    if isinstance(g_obj, dict) and g_obj.get("format") == FORMAT and isinstance(g_obj.get("config"), dict):
        if critic:
            raise ImportRefused("G: a Latent Lab checkpoint already holds its critic; import it without --critic")
        models_from_checkpoint(g_obj)  # checks every shape against its config
        cfg = g_obj["config"]
        keep = ("format", "config", "step", "epoch", "train_seconds", "G", "D", "prior")
        return ({**{k: g_obj.get(k) for k in keep}, **{k: g_obj[k] for k in ("G_ema", "g_updates") if k in g_obj}},
                {"layout": "latent-lab checkpoint", "variant": cfg["variant"], "z_dim": cfg.get("z_dim"),
                 "critic": g_obj.get("D") is not None})
    if isinstance(g_obj, dict) and "G" in g_obj and not isinstance(g_obj["G"], torch.Tensor):
        if critic:
            raise ImportRefused(f"G: {generator.name} holds both networks; import it without --critic")
        d_obj = g_obj.get("D")
        g_obj = g_obj["G"]
    g_layout, g_layers = read_layers(_tensor_dict(g_obj, "G", generator.name), "G")
    got_z = g_layers[0][0].shape[1]
    if z_dim is not None and z_dim != got_z:
        raise ImportRefused(f"--z-dim {z_dim}: G's first layer reads {got_z} inputs")
    over = {"z_dim": got_z, "g_hidden": _sizes(g_layers, "G"), "ema": 0.0}  # a bare generator: no EMA of it
    state = {"G": _ours(g_layers, "G"), "D": None}
    d_layout = None
    if d_obj is not None:
        d_layout, d_layers = read_layers(_tensor_dict(d_obj, "D", Path(critic).name if critic else generator.name),
                                         "D")
        over["d_hidden"] = _sizes(d_layers, "D")
        state["D"] = _ours(d_layers, "D")
    cfg = make_config(LOSSES[loss], over)
    ckpt = {"format": FORMAT, "config": cfg, "step": 0, "epoch": 0, "train_seconds": None, **state, "prior": {}}
    models_from_checkpoint(ckpt)  # the networks load exactly
    desc = {"layout": g_layout if d_layout in (None, g_layout) else f"G {g_layout}, D {d_layout}",
            "variant": cfg["variant"], "z_dim": got_z, "g_hidden": cfg["g_hidden"],
            "d_hidden": cfg["d_hidden"] if state["D"] is not None else None, "critic": state["D"] is not None,
            "critic_output": critic_output if state["D"] is not None else None, "loss": loss, "prior": prior}
    return ckpt, desc


def import_model(generator: str | Path, critic: str | Path | None = None, name: str | None = None,
                 prior: str = "gaussian", z_dim: int | None = None, critic_output: str = "sigmoid",
                 loss: str = "bce", force: bool = False, command: str | None = None,
                 origin: dict | None = None) -> dict:
    """Check the files, then register them as imported/<name>/ (model.pt, import.json and a
    10×10 samples.png) in one rename: a failure leaves nothing behind. `origin` = what to record
    as the files' names ({"generator": …, "critic": …}; default their paths)."""
    generator = Path(generator)
    ckpt, desc = build_checkpoint(generator, critic, prior, z_dim, critic_output, loss)
    name = check_name(name or f"imported-{_sha(generator)[:8]}", force)
    root = imported_dir()
    with _name_lock(root, name):
        check_name(name, force)  # again, as the name's one writer: an import that finished meanwhile counts
        record = _register(root, name, ckpt, desc, generator, critic, origin, command)
    return {**record, "path": str(root / name / "model.pt")}


@contextlib.contextmanager
def _name_lock(root: Path, name: str):
    """Be the one process importing (or removing) `name`: an flock on imported/.locks/<name>.lock,
    released by the OS however this process ends. Temps of dead writers are cleaned first."""
    path = root / ".locks" / f"{name}.lock"
    f = try_lock(path)
    if f is None:
        raise ImportRefused(f"--name {name}: another import of that name is running ({read_holder(path) or 'a process'}); "
                            "wait for it, then use --force to replace it")
    try:
        write_holder(f, f"pid {os.getpid()}")
        clean_stale(root)
        yield
    finally:
        f.close()


def clean_stale(root: Path | None = None) -> list[str]:
    """Remove what killed imports left: `.tmp-<name>-<pid>/` (a whole model.pt) and `.old-<name>-<pid>/`
    (the model a --force import replaced; put back if the new one never arrived), each only
    while no process holds that name's lock."""
    root = root or imported_dir()
    gone = []
    for d in sorted(root.glob(".tmp-*")) + sorted(root.glob(".old-*")) if root.is_dir() else []:
        m = re.fullmatch(r"\.(tmp|old)-(.+)-(\d+)", d.name)
        if not m or m.group(3) == str(os.getpid()):
            continue
        probe = try_lock(root / ".locks" / f"{m.group(2)}.lock")
        if probe is None:
            continue  # its writer lives
        try:
            if m.group(1) == "old" and not (root / m.group(2)).exists():
                d.rename(root / m.group(2))  # killed between the two renames of --force: the old one stays
            else:
                shutil.rmtree(d, ignore_errors=True)
            gone.append(d.name)
        except OSError:
            pass
        finally:
            probe.close()
    return gone


def _register(root: Path, name: str, ckpt: dict, desc: dict, generator: Path, critic, origin, command) -> dict:
    """Write imported/<name>/ through a temp folder and one rename (the caller holds the name's lock)."""
    import torch

    from core.gan.sampling import eval_noise
    from core.store.images import save_grid
    tmp = root / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        save_atomic(ckpt, tmp / "model.pt")
        m = models_from_checkpoint(ckpt)
        z, y = eval_noise(m.prior, seed=0)
        with torch.no_grad():
            save_grid(m.G(z, y), tmp / "samples.png", nrow=10)
        origin = origin or {}
        files = {"generator": {"file": origin.get("generator") or str(generator.resolve()), "sha256": _sha(generator)}}
        if critic:
            files["critic"] = {"file": origin.get("critic") or str(Path(critic).resolve()), "sha256": _sha(Path(critic))}
        record = {"name": name, **desc, "files": files, "imported": time.strftime("%Y-%m-%d %H:%M:%S"),
                  "command": command}
        (tmp / "import.json").write_text(json.dumps(record, indent=1))
        final = root / name
        if final.exists():  # --force: the old one goes only once the new one is complete
            old = root / f".old-{name}-{os.getpid()}"
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return record


def remove(name: str) -> None:
    if not name or not imported_checkpoint(name):
        raise ConfigError(f"{name!r} is not an imported model (see `python -m core imported`)")
    with _name_lock(imported_dir(), name):
        shutil.rmtree(imported_dir() / name)



def import_upload(g: tuple[str, bytes], d: tuple[str, bytes] | None = None, **kw) -> dict:
    """`import_model` for uploaded files (name, bytes): sizes are checked before anything is
    written, and the bytes live in a temporary folder only while they are read."""
    import tempfile
    for what, f in (("G", g), ("D", d)):
        if f is not None and len(f[1]) > MAX_BYTES:
            raise ImportRefused(f"{what}: {f[0]} is {len(f[1]) / 2**20:.0f} MiB; network files are limited to "
                                f"{MAX_BYTES // 2**20} MiB")
    with tempfile.TemporaryDirectory(prefix="latent-lab-import-") as tmp:
        gp = Path(tmp) / "G.pth"
        gp.write_bytes(g[1])
        dp = None
        if d is not None:
            dp = Path(tmp) / "D.pth"
            dp.write_bytes(d[1])
        return import_model(gp, dp, origin={"generator": g[0], "critic": d[0] if d else None}, **kw)
