"""The seeds' claims checked on the shipped zoo (core/findings.py) and the Findings page."""

import json

from core import findings, registry


def test_a_verdict_needs_every_seed_beyond_twice_the_spread():
    assert findings.verdict([0.5, 0.6, 0.7], spread=0.1)[0] == "supported"
    assert findings.verdict([-0.5, -0.6, -0.7], spread=0.1)[0] == "refuted"
    assert findings.verdict([0.5, 0.15, 0.7], spread=0.1)[0] == "inconclusive"  # one seed inside 2× spread
    assert findings.verdict([0.5, -0.6, 0.7], spread=0.01)[0] == "inconclusive"


def test_lower_is_better_for_fid_and_class_kl_only():
    assert findings._better("fid", 1.0, 2.0) > 0 and findings._better("recall", 0.7, 0.6) > 0
    assert findings._better("class_kl", 0.3, 0.1) < 0


def test_every_claim_names_its_seed_and_a_way_to_test_it():
    seeds = {c["seed"] for c in findings.CLAIMS}
    assert seeds == {"000", "001", "002", "003", "004"}
    for c in findings.CLAIMS:
        assert c["kind"] in (*findings.KINDS, "needs"), c
        if c["kind"] == "needs":
            assert "python -m core" in c["command"]


def test_a_compare_claim_on_real_scores(monkeypatch):
    """Vanilla skips classes, gm-dynamic does not: at 500 digits and 3 seeds the class-KL gap
    (0.58 vs 0.0001 at 10k) is far beyond the sampling spread."""
    monkeypatch.setattr(findings, "N", 500)
    claim = next(c for c in findings.CLAIMS if c.get("metrics") == ["class_kl"])
    res = findings._compare(claim, (0, 1, 2))
    assert res["verdict"] == "supported", res
    assert "gm-dynamic" in res["evidence"] and "±" in res["evidence"] and "n 500" in res["basis"]
    # the same pair the other way round is refuted
    res = findings._compare({**claim, "a": "vanilla", "b": "gm-dynamic"}, (0, 1, 2))
    assert res["verdict"] == "refuted"


def test_models_trained_with_different_recipes_make_a_claim_inconclusive(monkeypatch):
    """The class-KL gap is far beyond the spread, yet with one model on today's defaults (EMA)
    and the other on its seed's recipe the row says it is not like for like, and how to fix it."""
    from core import zoo
    monkeypatch.setattr(findings, "N", 500)
    claim = next(c for c in findings.CLAIMS if c.get("metrics") == ["class_kl"])
    monkeypatch.setattr(zoo, "shipped_recipe", lambda m: "seed")
    same = findings._compare(claim, (0, 1))
    assert same["verdict"] == "supported" and "vanilla its seed's recipe" in same["basis"]
    monkeypatch.setattr(zoo, "shipped_recipe", lambda m: "default" if m in ("gm-dynamic", "cwgan-gp") else "seed")
    monkeypatch.setattr(zoo, "lost_default_try", lambda m: None)  # never tried: the row says how to retrain
    mixed = findings._compare(claim, (0, 1))
    assert mixed["verdict"] == "inconclusive" and mixed["evidence"] == same["evidence"]
    assert "not like for like" in mixed["why"] and "would say supported" in mixed["why"]
    assert "--recipe default --if-better --variants vanilla" in mixed["why"]
    monkeypatch.setattr(zoo, "lost_default_try", lambda m: {"fid": 9.8, "shipped_fid": 5.66} if m == "vanilla" else None)
    tried = findings._compare(claim, (0, 1))  # tried and lost: the row says so instead of asking again
    assert tried["verdict"] == "inconclusive" and "--if-better" not in tried["why"]
    assert "vanilla's retrain on today's defaults lost at equal epochs (FID 9.80 vs the shipped 5.66" in tried["why"]
    best = next(c for c in findings.CLAIMS if c["kind"] == "best")
    monkeypatch.setattr(findings, "N", 200)
    res = findings._best(best, (0, 1))  # cwgan-gp on today's defaults, its rivals on their seeds'
    assert res["verdict"] == "inconclusive" and "cwgan-gp today's defaults" in res["basis"], res


def test_findings_page_shows_the_shipped_rows_and_recomputes_the_rest(monkeypatch):
    from test_app import page, texts
    claims = [dict(seed="003", claim="Hinge loss beats a plain WGAN", kind="compare", a="hinge", b="wgan",
                   metrics=["fid"]),
              dict(seed="002", claim="σ claim", kind="needs", command="python -m core train …")]
    row = {"seed": "003", "claim": "Hinge loss beats a plain WGAN", "evidence": "fid: hinge 3.2 vs wgan 45",
           "verdict": "supported", "why": "better on every seed", "basis": "n 10000", "seconds": 1.0}
    monkeypatch.setattr(findings, "CLAIMS", claims)
    monkeypatch.setattr(findings, "shipped_rows", lambda seeds: {("003", row["claim"]): row})
    at = page("views/findings.py")
    assert "1 of 2 rows as shipped with the zoo" in texts(at) and "the others are recomputed" in texts(at)
    df = at.dataframe[0].value
    assert list(df["claim"]) == [c["claim"] for c in claims]
    assert list(df["verdict"]) == ["supported", "not measured"]  # the kept row, and the one computed now
    assert {m.label for m in at.metric} >= {"supported", "not measured"}


def test_a_shipped_row_is_reused_until_a_model_it_uses_changes(monkeypatch, tmp_path):
    from core import store
    monkeypatch.setattr(store, "TRAINED", tmp_path)
    fids = {m: 1.0 for c in findings.CLAIMS for m in findings.claim_models(c)}
    monkeypatch.setattr(findings, "_zoo_fids", lambda: dict(fids))
    rows = [{"seed": c["seed"], "claim": c["claim"], "evidence": "e", "verdict": "supported", "why": "w",
             "basis": "b", "seconds": 0.0} for c in findings.CLAIMS]
    findings.ship(rows, (0, 1, 2))
    assert len(findings.shipped_rows((2, 1, 0))) == len(findings.CLAIMS)
    assert findings.shipped_rows((0, 1)) == {}  # other sampling seeds: nothing is reused
    fids["san"] = 2.0  # san retrained: only the claims that use san go stale
    kept = findings.shipped_rows((0, 1, 2))
    stale = {(c["seed"], c["claim"]) for c in findings.CLAIMS if "san" in findings.claim_models(c)}
    assert stale and set(kept) == {(c["seed"], c["claim"]) for c in findings.CLAIMS} - stale
    # findings() reuses the fresh rows and computes only the stale ones
    for kind in list(findings.KINDS):
        monkeypatch.setitem(findings.KINDS, kind, lambda c, seeds, **kw: {"evidence": "new", "verdict": "refuted",
                                                                          "why": "", "basis": ""})
    out = findings.findings((0, 1, 2))
    assert [r["evidence"] for r in out] == ["new" if (r["seed"], r["claim"]) in stale else "e" for r in out]
    assert {r["evidence"] for r in findings.findings((0, 1, 2), kept={}) if r["verdict"] != "not measured"} == {"new"}
    # a table shipped before the per-row check (its zoo a JSON string) is read the same way
    old = {"seeds": [0, 1, 2], "zoo": json.dumps(fids), "rows": rows}
    (tmp_path / findings.SHIPPED).write_text(json.dumps(old))
    assert len(findings.shipped_rows((0, 1, 2))) == len(findings.CLAIMS)


def test_a_no_gain_claim_is_refuted_only_by_a_gain(monkeypatch):
    monkeypatch.setattr(findings, "N", 500)
    claim = {"seed": "000", "claim": "x", "kind": "compare", "a": "vanilla", "b": "gm-dynamic",
             "metrics": ["class_kl"], "expect": "no gain"}
    res = findings._compare(claim, (0, 1))
    assert res["verdict"] == "supported" and "worse" in res["why"]  # vanilla is far worse: no gain
    res = findings._compare({**claim, "a": "gm-dynamic", "b": "vanilla"}, (0, 1))
    assert res["verdict"] == "refuted" and "a gain" in res["why"]


def test_a_sweep_claim_names_its_runs_until_they_exist_then_measures_them(monkeypatch):
    """Seed 002's σ sweep: one run per value, found in the run store by its exact config; without
    them the row is 'not measured' and says how to train them; `train=True` trains them."""
    from conftest import TINY, TINY_DATA
    from core.store import list_runs
    monkeypatch.setattr(findings, "N", 300)
    claim = {"seed": "002", "claim": "σ", "kind": "sweep", "variant": "gm-static", "knob": "prior_sigma",
             "values": [0.15, 1.0], "sets": {**TINY, "data_limit": TINY_DATA}, "trend": {"recall": "up"}}
    res = findings._sweep(claim, (0, 1))
    assert res["verdict"] == "not measured" and "findings --train" in res["why"]
    assert res["why"].count("python -m core train --variant gm-static") == 2 and "--set prior_sigma=1.0" in res["why"]
    res = findings._sweep(claim, (0, 1), train=True)
    runs = [r.id for r in list_runs()]
    assert len(runs) == 2 and res["verdict"] in ("supported", "refuted", "inconclusive"), res
    assert "prior_sigma 0.15" in res["evidence"] and all(r in res["basis"] for r in runs)
    again = findings._sweep(claim, (0, 1))  # found, not retrained
    assert again == res and len(list_runs()) == 2
    # a run of another σ is not evidence for this sweep
    res = findings._sweep({**claim, "values": [0.15, 0.7]}, (0, 1))
    assert res["verdict"] == "not measured" and res["why"].count("python -m core train") == 1
    assert "prior_sigma=0.7" in res["why"]


def test_the_refit_claim_inverts_once_then_compares_both_priors(model_copy, monkeypatch):
    monkeypatch.setattr(findings, "N", 300)
    claim = {"seed": "004", "claim": "refit", "kind": "refit", "model": model_copy, "components": 2,
             "covariance": "diag", "n": 40, "steps": 3}
    res = findings._refit(claim, (0, 1))
    assert res["verdict"] == "not measured" and f"invert {model_copy} --n 40 --steps 3" in res["why"]
    assert registry.list_priors(model_copy) == []
    res = findings._refit(claim, (0, 1), train=True)
    assert registry.list_priors(model_copy) == ["findings-em-k2-diag-40"]
    assert res["verdict"] in ("supported", "refuted", "inconclusive")
    assert "recall:" in res["evidence"] and "drop" in res["evidence"] and "40 inverted train digits" in res["basis"]
    assert findings._refit(claim, (0, 1)) == res  # the saved prior is found: no second inversion
    # the refit's scores are its own: they differ from the trained prior's
    from core.score import score_model
    assert score_model(model_copy, n=300, seed=0)["fid"] != score_model(
        model_copy, n=300, seed=0, prior="findings-em-k2-diag-40")["fid"]
