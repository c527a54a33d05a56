"""Shipped results record the fingerprint of the models they used (core/store/registry.py) and say
when it no longer matches, with the command that refreshes them (core/results/freshness.py)."""
import json
import shutil

import pytest

from core.eval import fingerprints
from core.results import freshness, quality
from core.store import files, registry
from core.sweeps import drive as sweep_drive
from core.sweeps import records as sweep_records
from core.sweeps import results as sweep_results
from core.sweeps import spec as sweep_spec
from core.train import timeline

from helpers import ROOT

TRAINED = ROOT / "trained"


def test_a_fingerprint_is_the_checkpoint_and_classifier_sha_and_follows_the_file(model_copy):
    from core.eval.score_files import classifier_sha
    from core.store.checkpoint import file_sha256
    fp = fingerprints.fingerprint(model_copy)
    assert fp == {model_copy: file_sha256(registry.resolve(model_copy)), "classifier": classifier_sha()}
    assert fingerprints.fingerprint(model_copy, classifier=False) == {model_copy: fp[model_copy]}
    assert fingerprints.stale(fp, model_copy) == []
    assert fingerprints.stale(None, model_copy) == [model_copy, "classifier"]  # recorded nothing: may be stale
    with open(model_copy, "ab") as f:  # the checkpoint changes (a retrain, a re-export)
        f.write(b"\0")
    assert fingerprints.stale(fp, model_copy) == [model_copy]
    assert fingerprints.fingerprint("no-such-model", classifier=False) == {"no-such-model": "missing"}


def _shipped_refit(tmp_path, model: str, fingerprint) -> dict:
    rec = json.loads((TRAINED / "sweeps" / "seed004-fig4-em-components" / "sweep.json").read_text())
    rec["spec"] = dict(rec["spec"], model=model)
    rec.pop("fingerprint", None)
    if fingerprint is not None:
        rec["fingerprint"] = fingerprint
    (tmp_path / "sweeps" / rec["name"]).mkdir(parents=True)
    (tmp_path / "sweeps" / rec["name"] / "sweep.json").write_text(json.dumps(rec))
    return rec


def test_a_shipped_sweep_says_when_its_model_changed_and_how_to_refresh_it(tmp_path, monkeypatch, model_copy, capsys):
    monkeypatch.setattr(files, "TRAINED", tmp_path)
    rec = _shipped_refit(tmp_path, model_copy, fingerprints.fingerprint(model_copy))
    v = sweep_results.sweep_with_trials(rec["name"])
    assert v["source"] == "shipped" and freshness.sweep_note(v) is None
    shutil.copy(TRAINED / "gm-static" / "model.pt", model_copy)  # the model is retrained
    note = freshness.sweep_note(sweep_results.sweep_with_trials(rec["name"]))
    assert f"Sweep seed004-fig4-em-components is stale: {model_copy} changed" in note
    assert (f"`python -m core sweep-refit {model_copy} --components 1..20 --n 0 --steps 1000 --score-n 10000 "
            "--seeds 0 --metric fid --cpus-per-trial 1 --name seed004-fig4-em-components && python -m core sweep "
            "export seed004-fig4-em-components") in note
    # the CLI's reader (a shipped sweep too) says the same, in one line on stderr
    from core.cli import main
    assert main(["sweep", "show", rec["name"]]) == 0
    out, err = capsys.readouterr()
    k1 = next(r["fid"] for r in rec["rows"] if r["components"] == 1)
    assert err.strip() == note and "components" in out and f"{k1:.4g}" in out  # the shipped rows, as recorded


def test_a_sweep_shipped_before_fingerprints_says_it_may_be_stale(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "TRAINED", tmp_path)
    rec = _shipped_refit(tmp_path, "gm-static", None)
    note = freshness.sweep_note(sweep_results.sweep_with_trials(rec["name"]))
    assert "records no fingerprint of gm-static and the classifier" in note and "sweep-refit gm-static" in note


def test_the_sweep_command_rebuilds_every_kind_of_spec():
    spec = sweep_spec.make_spec("train", variant="wgan-gp", grid={"lr_g": [1e-4, 2e-4]}, seeds=[0, 1], epochs=3,
                                data_limit=256, fixed={"batch_size": 32}, name="s1")
    cmd = freshness.sweep_command(spec)
    assert cmd.startswith("python -m core sweep wgan-gp --grid lr_g=0.0001,0.0002 --set batch_size=32 --epochs 3 "
                          "--data-limit 256") and "--seeds 0,1" in cmd and cmd.endswith("--name s1")
    spec = sweep_spec.make_spec("refine", model="wgan-gp", method="drs", grid={"percentile": [50, 90]}, score_n=500,
                                name="r1")
    assert freshness.sweep_command(spec).startswith("python -m core sweep-refine wgan-gp --method drs "
                                                    "--grid percentile=50,90 --n 500 --seeds 0")
    assert freshness._span([1, 2, 3]) == "1..3" and freshness._span([1, 5, 10]) == "1,5,10"


def test_every_shipped_artefact_records_its_fingerprint():
    """The shipped timelines, findings rows and quality rows were refreshed (or checked and
    stamped) on today's models: none of them reads stale. Every shipped sweep records the models
    it ran on; one that is stale says so with the command that runs it again."""
    for name in sweep_results.names():
        v = sweep_results.sweep_with_trials(name)
        if v["source"] == "shipped":
            assert v.get("fingerprint", {}).get("classifier"), name
            note = freshness.sweep_note(v)
            assert note is None or ("is stale" in note and f"--name {name} && python -m core sweep export" in note)
    for name in timeline.available():
        if name in registry.VARIANTS:
            assert freshness.timeline_note(timeline.load(name)) is None, name
    assert quality.shipped_rows() and freshness.quality_note(quality.shipped_rows()) is None
    from core.results import findings
    fresh, old = findings.shipped_state(findings.SEEDS)
    assert old == [] and len(fresh) == len(findings.CLAIMS)


def test_a_zoo_timeline_carries_its_fingerprint_and_says_when_its_model_changed(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "TRAINED", tmp_path)  # zoo_dir
    for f in ("model.pt", "timeline.json", "timeline.npz"):
        (tmp_path / "wgan-gp").mkdir(exist_ok=True)
        shutil.copy(TRAINED / "wgan-gp" / f, tmp_path / "wgan-gp" / f)
    doc = json.loads((tmp_path / "wgan-gp" / "timeline.json").read_text())
    rows = doc["rows"] if isinstance(doc, dict) else doc
    (tmp_path / "wgan-gp" / "timeline.json").write_text(json.dumps({"fingerprint": fingerprints.fingerprint("wgan-gp"),
                                                                      "rows": rows}))
    tl = timeline.load("wgan-gp")
    assert tl.rows == rows and freshness.timeline_note(tl) is None
    shutil.copy(TRAINED / "wgan-sn" / "model.pt", tmp_path / "wgan-gp" / "model.pt")  # replaced, timeline not
    note = freshness.timeline_note(timeline.load("wgan-gp"))
    assert "The timeline of wgan-gp is stale: wgan-gp changed" in note
    assert "`python -m core zoo train --variants wgan-gp" in note


def test_quality_rows_name_the_stale_ones_and_their_commands(monkeypatch):
    fp = fingerprints.fingerprint()
    rows = [{"variant": "wgan-gp", "recipe": "default", "command": "python -m core bench quality --variant wgan-gp "
             "--seconds 540 --seed 0", "fingerprint": fp},
            {"variant": "hinge", "recipe": "default", "command": "python -m core bench quality --variant hinge "
             "--seconds 540 --seed 0", "fingerprint": {"classifier": "0" * 64}}]
    assert freshness.quality_note(rows[:1]) is None
    note = freshness.quality_note(rows)
    assert "hinge (default)" in note and "wgan-gp (default)" not in note and "the classifier changed" in note
    assert "`python -m core bench quality --variant hinge --seconds 540 --seed 0 --ship default`" in note


def test_a_live_sweep_records_its_fingerprint_and_is_not_resumed_on_another_model(model_copy, capsys):
    from core.cli import main
    from core.errors import ConfigError
    spec = sweep_spec.make_spec("refine", model=model_copy, method="drs", grid={"percentile": [50, 90]}, score_n=200,
                                name="live")
    sweep_spec.sweep_dir("live").mkdir(parents=True)
    sweep_records.write_record("live", spec=spec, status="done", fingerprint=sweep_spec.fingerprint_of(spec))
    v = sweep_results.sweep_with_trials("live")
    assert v["source"] == "live" and freshness.sweep_note(v) is None
    with open(model_copy, "ab") as f:
        f.write(b"\0")
    assert main(["sweep", "show", "live"]) == 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("Sweep live is stale") and err.endswith("--name live`")  # no export: it is not shipped
    with pytest.raises(ConfigError, match="was run on another"):  # the same command would resume it: refused
        sweep_drive.run_sweep(spec, progress=False)
