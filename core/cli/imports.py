"""CLI commands for a user's own models: `import` (register G.pth [+ D.pth]) and `imported`
(list or remove them)."""
from __future__ import annotations

import json
import shlex

from core.cli.options import add_json


def cmd_import(a):
    from core.errors import ConfigError
    from core.store.importer import import_model
    command = "python -m core " + " ".join(shlex.quote(x) for x in a.argv)
    if bool(a.generator) == bool(a.mlflow):
        raise ConfigError("import needs --generator G.pth or --mlflow RUN_ID (one of them)")
    if a.artifact and not a.mlflow:
        raise ConfigError("--artifact names an artifact of the --mlflow run")
    if a.mlflow:  # fetched into a temporary folder, checked and registered like a file of one's own
        import tempfile
        from pathlib import Path

        from core.track.mlflow_import import fetch
        with tempfile.TemporaryDirectory(prefix="mlflow-import-") as tmp:
            g, d, origin = fetch(a.mlflow, a.artifact, Path(tmp))
            res = import_model(g, d, a.name, a.prior, a.z_dim, a.critic_output, a.loss, a.force, command, origin)
    else:
        res = import_model(a.generator, a.critic, a.name, a.prior, a.z_dim, a.critic_output, a.loss, a.force, command)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    nets = f"G {res['z_dim']}→{res['g_hidden'].replace(',', '→')}→784"
    nets += f", D 784→{res['d_hidden'].replace(',', '→')}→1" if res.get("critic") and res.get("d_hidden") else \
        (", with its critic" if res.get("critic") else ", no critic (refine needs one)")
    print(f"imported {res['name']} ({res['layout']} layout; {nets}; prior N(0, I)) -> {res['path']}")
    print(f"use it as a MODEL: python -m core score {res['name']}")


def cmd_imported(a):
    from core.store.importer import remove
    from core.store.registry import imported_info, list_imported
    if a.remove is not None:  # `--remove ''` is a name, refused, not a listing
        remove(a.remove)
        print(f"removed {a.remove}")
        return
    rows = [{"name": n, **imported_info(n)} for n in list_imported()]
    if a.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no imported models yet: `python -m core import --generator G.pth [--critic D.pth] --name NAME`")
    else:
        for r in rows:
            print(f"{r['name']}: {r.get('layout', '?')} layout, z {r.get('z_dim')}, "
                  f"{'with' if r.get('critic') else 'no'} critic, imported {r.get('imported', '?')}")


def add_parsers(sub) -> None:
    s = sub.add_parser("import", help="register your own generator (and critic) as a MODEL",
                       description="Accepts state_dicts in the course's layout (fc1.weight … fcN.bias: G z→…→784 "
                                   "with LeakyReLU 0.2 and tanh, D 784→…→1) or this project's (net.* / body.*, "
                                   "head.*), one file per network or one {'G': …, 'D': …} file, or a Latent Lab "
                                   "checkpoint. Hidden and z sizes are read from the shapes. Files are read with "
                                   "weights_only=True; a pickled module or code is refused, never run.")
    s.add_argument("--generator", metavar="G.pth")
    s.add_argument("--mlflow", metavar="RUN_ID", help="fetch the generator (and critic) logged as artifacts of this "
                                                      "MLflow run ($MLFLOW_TRACKING_URI, else the run store's database)")
    s.add_argument("--artifact", metavar="PATH", help="with --mlflow: the generator's artifact path, or a folder of "
                                                      "G/D files (default: the run's artifacts, found by name)")
    s.add_argument("--critic", metavar="D.pth", help="the discriminator (refine needs it)")
    s.add_argument("--name", help="the MODEL name to register (default imported-<sha of G>)")
    s.add_argument("--prior", default="gaussian", help="the prior to sample: gaussian, N(0, I) (the only one: a "
                   "state_dict does not hold a mixture's parameters)")
    s.add_argument("--z-dim", type=int, help="check G reads this many inputs (read from its shapes anyway)")
    s.add_argument("--critic-output", default="sigmoid",
                   help="sigmoid or logit: what D's forward returns: the course's sigmoid probability, or the logit itself; "
                        "either way the logit DRS needs is its last layer's output (the sigmoid has no weights)")
    s.add_argument("--loss", default="bce",
                   help="bce, wasserstein or hinge: the loss D was trained with: bce makes its logit "
                        "a density-ratio estimate (DRS's "
                        "assumption); refine warns for a wasserstein or hinge critic")
    s.add_argument("--force", action="store_true", help="replace an imported model of the same name")
    add_json(s)
    s.set_defaults(fn=cmd_import)

    s = sub.add_parser("imported", help="list (or remove) imported models")
    s.add_argument("--remove", metavar="NAME")
    add_json(s)
    s.set_defaults(fn=cmd_imported)
