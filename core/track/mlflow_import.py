"""`python -m core import --mlflow RUN_ID [--artifact PATH]`: a generator (and critic) another project
logged to MLflow as artifacts, fetched and registered like any imported model (core.store.importer
checks them: sizes before download, then weights_only reads, layouts and shapes)."""
from __future__ import annotations

import re
from pathlib import Path

from core.errors import ConfigError

GENERATOR = re.compile(r"(^|[/_.-])(g|gen|generator|netg)(\.pth?|\.pt|_state_dict\.pth?)$", re.IGNORECASE)
CRITIC = re.compile(r"(^|[/_.-])(d|disc|discriminator|critic|netd)(\.pth?|\.pt|_state_dict\.pth?)$", re.IGNORECASE)
MAX_DEPTH = 3  # artifact folders searched below the one named


def _files(client, run_id: str, path: str | None, depth: int = 0) -> list:
    """Every artifact file (FileInfo) under `path`, MAX_DEPTH folders deep at most."""
    out = []
    for f in client.list_artifacts(run_id, path):
        if f.is_dir:
            if depth < MAX_DEPTH:
                out += _files(client, run_id, f.path, depth + 1)
        else:
            out.append(f)
    return out


def _pick(files: list, pattern: re.Pattern, what: str, run_id: str) -> object | None:
    hits = [f for f in files if pattern.search(f.path.rsplit("/", 1)[-1])]
    if len(hits) > 1:
        raise ConfigError(f"MLflow run {run_id} has several {what} files ({', '.join(f.path for f in hits)}); "
                          "name one with --artifact")
    return hits[0] if hits else None


def fetch(run_id: str, artifact: str | None, dest: Path) -> tuple[Path, Path | None, dict]:
    """(G file, D file or None, origin) downloaded into `dest`. `artifact`: the generator's
    artifact path, or a folder holding G/D files; default: the run's artifacts, searched by name
    (G.pth, generator.pt, netG.pth …; D.pth, critic.pt, discriminator.pth …)."""
    from core.store.importer import MAX_BYTES
    from core.track.mlflow_sink import client_and_experiment
    client, _, w = client_and_experiment()
    try:
        client.get_run(run_id)
    except Exception:  # noqa: BLE001 - MLflow's RestException / MlflowException for an unknown id
        raise ConfigError(f"no MLflow run {run_id!r} at {w['uri']} ({w['source']})") from None
    listed = _files(client, run_id, artifact)
    if artifact and not listed:  # a file, not a folder
        parent = artifact.rsplit("/", 1)[0] if "/" in artifact else None
        listed = [f for f in client.list_artifacts(run_id, parent) if f.path == artifact and not f.is_dir]
        if not listed:
            raise ConfigError(f"MLflow run {run_id} has no artifact {artifact!r}")
        g, d = listed[0], None
    else:
        g, d = _pick(listed, GENERATOR, "generator", run_id), _pick(listed, CRITIC, "critic", run_id)
    if g is None:
        names = ", ".join(f.path for f in listed[:10]) or "none"
        raise ConfigError(f"MLflow run {run_id} has no generator file among its artifacts ({names}); "
                          "name it with --artifact PATH")
    for f in (g, d):
        if f is not None and (f.file_size or 0) > MAX_BYTES:
            raise ConfigError(f"{f.path} is {f.file_size / 2**20:.0f} MiB; network files of at most "
                              f"{MAX_BYTES / 2**20:.0f} MiB are imported")
    got = [Path(client.download_artifacts(run_id, f.path, str(dest))) if f is not None else None for f in (g, d)]
    origin = {"generator": f"{w['uri']} run {run_id}: {g.path}",
              **({"critic": f"{w['uri']} run {run_id}: {d.path}"} if d else {})}
    return got[0], got[1], origin
