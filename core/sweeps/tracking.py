"""`python -m core export --sweep NAME --to mlflow`: a sweep (this machine's, or a shipped one) after
the fact, as MLflow's compare view wants it — one parent run with the sweep's settings, one child run
per trial with its knobs as params and its final scores (and per-epoch quick scores) as metrics."""
from __future__ import annotations

from core.errors import ConfigError
from core.eval.names import METRICS


def export_sweep(name: str, to: str) -> dict:
    from mlflow.entities import Metric, Param

    from core.sweeps.results import sweep_with_trials
    from core.sweeps.spec import swept_knobs
    from core.track.mlflow_sink import STATUS, client_and_experiment, create_parent, where
    if to != "mlflow":
        raise ConfigError("a sweep is exported to MLflow (--to mlflow): a parent run and a child run per trial")
    v = sweep_with_trials(name)
    client, exp_id, _ = client_and_experiment()
    parent = create_parent(name, v["spec"])
    knobs = swept_knobs(v["spec"])
    for row in v["rows"]:
        tags = {"mlflow.parentRunId": parent, "mlflow.runName": f"{name} {row['trial']}",
                "latent_lab.sweep": name, "latent_lab.trial": str(row["trial"]), "latent_lab.source": v["source"]}
        if row.get("run_id"):
            tags["latent_lab.run_id"] = row["run_id"]
        child = client.create_run(exp_id, tags=tags).info.run_id
        params = [Param(k, str(row.get(k))) for k in knobs if k in row]
        metrics = [Metric(f"final/{k}", float(row[k]), 0, int(row.get("epoch") or 0))
                   for k in METRICS if isinstance(row.get(k), (int, float))]
        for q in _quick(name, row["trial"], v["source"]):
            metrics += [Metric(f"quick/{k}", float(q[k]), 0, int(q["epoch"])) for k in METRICS
                        if isinstance(q.get(k), (int, float))]
        client.log_batch(child, params=params, metrics=metrics[:1000])
        client.set_terminated(child, status="FINISHED" if row["status"] == "done" else "KILLED"
                              if row["status"] in ("stopped", "cancelled") else "FAILED")
    client.set_terminated(parent, status=STATUS.get(v["status"], "FINISHED"))
    return {"source": f"sweep {name}", "to": to, "where": f"{where()['uri']} run {parent}",
            "trials": len(v["rows"]), "rows": len(v["rows"]), "grids": 0, "checkpoint": None}


def _quick(name: str, trial: str, source: str) -> list[dict]:
    """A trial's per-epoch quick scores, where this machine has its records."""
    if source != "live":
        return []
    from core.sweeps.records import load_trial
    return [q for q in load_trial(name, trial).get("quick", []) if isinstance(q, dict) and "epoch" in q]
