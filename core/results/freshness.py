"""Whether a shipped result still describes the models it was computed from, and the command
that refreshes it when it does not: one line each for the pages and the CLI's readers.

Every shipped result records the fingerprint of what it used (`fingerprints.fingerprint`: the
sha256 of each model's checkpoint and of the scoring classifier):

    trained/sweeps/<name>/sweep.json   the swept model (refit / refine sweeps) and the classifier;
                                       a train sweep trains from scratch: the classifier only
    trained/<variant>/timeline.json    the model it was recorded for, and the classifier
    trained/findings.json              per row: the models its claim uses, and the classifier
    trained/quality.json               per row: the classifier (each row trains from scratch)

`fingerprints.stale` compares a recorded fingerprint with the files now; the notes below say what
changed and how to refresh it (None when nothing did).
"""
from __future__ import annotations

from core.eval.fingerprints import stale, stale_note


def _span(values: list) -> str:
    """A grid of ints as the CLI takes it: 'A..B' when contiguous, else 'a,b,c'."""
    if len(values) > 1 and all(isinstance(v, int) for v in values) and values == list(range(values[0],
                                                                                         values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    return ",".join(str(v) for v in values)


def sweep_command(spec: dict) -> str:
    """The command that runs `spec` again (then `sweep export` ships it)."""
    seeds = ",".join(str(s) for s in spec["seeds"])
    tail = f" --seeds {seeds} --metric {spec['metric']} --cpus-per-trial {spec['cpus_per_trial']} --name {spec['name']}"
    grid = " ".join(f"--grid {k}={','.join(str(v) for v in vs)}" for k, vs in spec["grid"].items())
    if spec["kind"] == "refit":
        return (f"python -m core sweep-refit {spec['model']} --components {_span(spec['grid']['components'])} "
                f"--n {spec['n']} --steps {spec['fixed'].get('steps', 1000)} --score-n {spec['score_n']}" + tail)
    if spec["kind"] == "refine":
        return f"python -m core sweep-refine {spec['model']} --method {spec['method']} {grid} --n {spec['score_n']}" + tail
    extra = [f"--random {k}={d}:{lo}:{hi}" for k, (d, lo, hi) in spec["random"].items()]
    extra += [f"--set {k}={v}" for k, v in spec["fixed"].items()]
    extra += [f"--{k.replace('_', '-')} {spec[k]}" for k in ("epochs", "max_steps", "data_limit", "samples")
              if spec.get(k) and not (k == "samples" and spec[k] == 1)]
    extra += [f"--scheduler {spec['scheduler']}"] if spec["scheduler"] != "none" else []
    return (f"python -m core sweep {spec['variant']} {grid} {' '.join(extra)} --quick-n {spec['quick_n']} "
            f"--score-n {spec['score_n']}".replace("  ", " ") + tail)


def sweep_note(sweep: dict) -> str | None:
    """For a sweep as `sweeps.results.sweep_with_trials` returns it (shipped or live): None while the model it swept and
    the classifier are the ones it was run on; else what changed and how to run and ship it again."""
    spec = sweep["spec"]
    models = [spec["model"]] if spec["kind"] != "train" else []
    again = sweep_command(spec)
    if sweep.get("source") == "shipped":
        again += f" && python -m core sweep export {spec['name']} --note '…'"
    return stale_note(f"Sweep {spec['name']}", sweep.get("fingerprint"), models, again)


def timeline_note(tl) -> str | None:
    """For a timeline as `timeline.load` returns it: None for a run's (it is the run's own) and
    for a zoo model's while the model is the one it was recorded for; else retraining the model
    ships it with its timeline."""
    from core.gan.variants import VARIANTS
    from core.train.zoo import shipped_recipe
    if tl.name not in VARIANTS:  # a run: its timeline grows with it
        return None
    model, recorded = tl.name, tl.fingerprint
    recipe = shipped_recipe(model)
    again = f"python -m core zoo train --variants {model}" + (f" --recipe {recipe}" if recipe in ("default", "seed")
                                                                else "")
    return stale_note(f"The timeline of {model}", recorded, [model], again)


def quality_note(rows: list[dict]) -> str | None:
    """For the shipped time-to-quality rows: None while the classifier that scored them is the
    one shipped; else which rows are stale and the command of each."""
    old = [r for r in rows if stale(r.get("fingerprint"))]
    if not old:
        return None
    what = ", ".join(f"{r['variant']} ({r.get('recipe', '?')})" for r in old)
    cmds = "`; `".join(f"{r['command']} --ship {r.get('recipe', 'default')}" for r in old)
    return stale_note(f"The time-to-quality rows of {what}", old[0].get("fingerprint"), [], cmds)


def findings_note(stale_claims: list[tuple[str, list[str]]]) -> str | None:
    """For the shipped findings table: (claim, changed names) of its stale rows, which are
    recomputed wherever they are shown; None when every row is fresh."""
    if not stale_claims:
        return None
    names = sorted({n for _, ch in stale_claims for n in ch})
    who = " and ".join("the classifier" if n == "classifier" else n for n in names)
    return (f"{len(stale_claims)} shipped findings row(s) do not match the models or the rule they use now ({who} "
            "changed since, or the row predates fingerprints): they are recomputed here. Refresh the shipped table: "
            "`python -m core findings --ship`")
