"""An MLflow run mirroring a Latent Lab run (`train --track mlflow`, `export --to mlflow`).

Where: $MLFLOW_TRACKING_URI (a server: `mlflow server …`, see README), else a local database in the
run store, sqlite:///<runs>/mlflow.db with artifacts in <runs>/mlartifacts (`where()` says which).
What: the config as params (the housekeeping knobs as tags), every metric row at its step
(train/…, and the timeline's records as timeline/fid, timeline/precision, …), each epoch's sample
grid, the final scores and the checkpoint as artifacts; the Latent Lab run id as the tag
latent_lab.run_id, and the MLflow run id in the run's tracking.json, so either side finds the other.

Calls to MLflow go through one background thread, so a slow or vanished server never slows or stops
training: the first failure is said once and the sink stops; the run store keeps everything."""
from __future__ import annotations

import os
import queue
import sys
import threading
import time
from pathlib import Path

from core.errors import ConfigError
from core.track.base import Sink, first_line, read_tracking, write_tracking
from core.track.tensorboard_sink import tag

EXPERIMENT = "latent-lab"  # unless $MLFLOW_EXPERIMENT_NAME names another
FLUSH_S = 60.0  # what the end of a run waits for queued records (and the checkpoint's upload)
STATUS = {"done": "FINISHED", "cancelled": "KILLED", "failed": "FAILED"}


def _quiet_client_env() -> None:
    """A server that does not answer fails in seconds, not after MLflow's minutes of retries; MLflow
    prints nothing on our stdout."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # stdout is the command's (--json)


def where() -> dict:
    """{"uri", "artifacts" (a local default's artifact folder, else None), "source"}."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if uri:
        return {"uri": uri, "artifacts": None, "source": "MLFLOW_TRACKING_URI"}
    from core.store.files import runs_dir
    root = runs_dir()
    return {"uri": f"sqlite:///{root / 'mlflow.db'}", "artifacts": (root / "mlartifacts").as_uri(),
            "source": "the run store's local database (set MLFLOW_TRACKING_URI for a server)"}


def client_and_experiment() -> tuple:
    """(MlflowClient, experiment id, where()) — checked: a URI that does not answer is a ConfigError
    of one line, before anything is trained."""
    _quiet_client_env()
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ConfigError("MLflow is not installed in this environment (pip install -r requirements.txt)") from None
    w = where()
    if w["artifacts"]:
        Path(w["uri"][len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=w["uri"])
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
    try:
        exp = client.get_experiment_by_name(name)
        exp_id = exp.experiment_id if exp else client.create_experiment(name, artifact_location=w["artifacts"])
    except Exception as exc:  # noqa: BLE001 - whatever MLflow raises for a bad URI
        raise ConfigError(f"MLflow at {w['uri']} ({w['source']}) cannot be used: {first_line(exc)}") from None
    return client, exp_id, w


def create_parent(sweep: str, spec: dict) -> str:
    """A sweep's parent MLflow run (its trials' runs are its children, for MLflow's compare view)."""
    client, exp_id, _ = client_and_experiment()
    run = client.create_run(exp_id, tags={"latent_lab.sweep": sweep, "mlflow.runName": f"sweep {sweep}"})
    from mlflow.entities import Param
    keep = ("kind", "variant", "model", "method", "grid", "random", "seeds", "epochs", "scheduler", "metric")
    client.log_batch(run.info.run_id, params=[Param(k, str(spec.get(k))[:6000]) for k in keep if k in spec])
    return run.info.run_id


def log_final(run_id: str, scores: dict) -> None:
    """Scores of a finished run as final/ metrics at its step (n and seed as tags)."""
    from mlflow.entities import Metric
    client, _, _ = client_and_experiment()
    now, step = int(time.time() * 1000), int(scores.get("step") or 0)
    client.log_batch(run_id, metrics=[Metric(f"final/{k}", float(v), now, step) for k, v in scores.items()
                                      if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step"])
    client.set_tag(run_id, "latent_lab.scored_n", str(scores.get("n")))


def end_parent(run_id: str, state: str) -> None:
    client, _, _ = client_and_experiment()
    client.set_terminated(run_id, status=STATUS.get(state, "FINISHED"))


def config_params(config: dict) -> tuple[dict, dict]:
    """(params, tags): the knobs that shape training as params, the housekeeping ones as tags."""
    from core.gan.variants import HOUSEKEEPING
    params = {k: str(v) for k, v in config.items() if k not in HOUSEKEEPING}
    tags = {f"config.{k}": str(v) for k, v in config.items() if k in HOUSEKEEPING}
    return params, tags


class MlflowSink(Sink):
    name = "mlflow"

    def __init__(self, folder: Path | None, lab_id: str, parent_run_id: str | None = None,
                 record: bool = True):
        """folder: where tracking.json records the MLflow run (a resume logs to the same run);
        record=False for a zoo model (its folder is tracked: nothing is written there)."""
        self.folder, self.lab_id, self.parent = folder, lab_id, parent_run_id
        self.record = record and folder is not None
        self.run_id: str | None = None
        self.error: str | None = None
        self._q: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    # ---- the calls the engine makes (queued) ------------------------------------------------------
    def start(self, config: dict, step: int) -> None:
        self.client, exp_id, w = client_and_experiment()
        state = read_tracking(self.folder).get("mlflow", {}) if self.folder else {}
        if state.get("run_id") and state.get("uri") == w["uri"] and step:  # a resume: the same MLflow run
            self.run_id = state["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            self.client.set_tag(self.run_id, "latent_lab.resumed_at_step", str(step))
        else:
            params, tags = config_params(config)
            tags.update({"latent_lab.run_id": self.lab_id, "latent_lab.variant": str(config.get("variant")),
                         "mlflow.runName": self.lab_id})
            if self.parent:
                tags["mlflow.parentRunId"] = self.parent
            self.run_id = self.client.create_run(exp_id, tags=tags).info.run_id
            from mlflow.entities import Param
            items = [Param(k, v[:6000]) for k, v in params.items()]
            for i in range(0, len(items), 100):  # MLflow's batch limit
                self.client.log_batch(self.run_id, params=items[i:i + 100])
        if self.record:
            data = read_tracking(self.folder)
            data["mlflow"] = {"uri": w["uri"], "run_id": self.run_id, "experiment_id": exp_id}
            write_tracking(self.folder, data)
        self._thread = threading.Thread(target=self._drain, name="mlflow-sink", daemon=True)
        self._thread.start()

    def log(self, step: int, epoch: float, row: dict) -> None:
        self._q.put(("metrics", step, {tag(k): float(v) for k, v in row.items()}))

    def epoch(self, epoch: int, step: int, grid: Path | None, weight_hist: dict | None) -> None:
        if grid is not None:
            self._q.put(("artifact", str(grid), "samples"))

    def end(self, status: str, step: int, scores: dict | None, checkpoint: Path | None) -> None:
        final = {f"final/{k}": float(v) for k, v in (scores or {}).items() if isinstance(v, (int, float))}
        if final:
            self._q.put(("metrics", step, final))
        if checkpoint is not None and Path(checkpoint).is_file():
            self._q.put(("artifact", str(checkpoint), "checkpoint"))
        self._q.put(("status", STATUS.get(status, "FINISHED")))

    def close(self) -> None:
        """Waits up to FLUSH_S for the queued records; what is still queued then stays in the store."""
        self._q.put(None)
        if self._thread is not None:
            self._thread.join(FLUSH_S)
            if self._thread.is_alive():
                print(f"mlflow: gave up waiting for the server after {FLUSH_S:.0f} s; the run store keeps "
                      "every record", file=sys.stderr)

    # ---- the background thread -------------------------------------------------------------------
    def _drain(self) -> None:
        from mlflow.entities import Metric
        while True:
            item = self._q.get()
            if item is None:
                return
            if self.error:  # failed once: the rest is dropped (the store has it)
                continue
            try:
                if item[0] == "metrics":
                    now = int(time.time() * 1000)
                    ms = [Metric(k, v, now, item[1]) for k, v in item[2].items()]
                    for i in range(0, len(ms), 1000):
                        self.client.log_batch(self.run_id, metrics=ms[i:i + 1000])
                elif item[0] == "artifact":
                    self.client.log_artifact(self.run_id, item[1], item[2])
                else:
                    self.client.set_terminated(self.run_id, status=item[1])
            except Exception as exc:  # noqa: BLE001 - a server gone away, a full disk on its side
                self.error = first_line(exc)
                print(f"mlflow: stopped logging ({self.error}); training goes on and the run store keeps every "
                      f"record (`python -m core export {self.lab_id} --to mlflow` logs it again)", file=sys.stderr)
