"""The seeds' claims checked on the shipped zoo (core/findings.py) and the Findings page."""
import pytest

from core import findings


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


def test_findings_page_shows_the_shipped_table(monkeypatch):
    from test_app import page, texts
    rows = [{"seed": "003", "claim": "Hinge loss beats a plain WGAN", "evidence": "fid: hinge 3.2 vs wgan 45",
             "verdict": "supported", "why": "better on every seed", "basis": "n 10000", "seconds": 1.0},
            {"seed": "002", "claim": "σ claim", "evidence": "", "verdict": "not measured",
             "why": "needs: python -m core train …", "basis": "", "seconds": 0.0}]
    monkeypatch.setattr(findings, "shipped", lambda: {"seeds": [0, 1, 2], "rows": rows})
    at = page("pages/findings.py")
    assert "shipped with the zoo" in texts(at)
    df = at.dataframe[0].value
    assert list(df["claim"]) == [r["claim"] for r in rows] and df["verdict"].str.contains("supported").any()
    assert {m.label for m in at.metric} >= {"supported", "not measured"}


def test_a_no_gain_claim_is_refuted_only_by_a_gain(monkeypatch):
    monkeypatch.setattr(findings, "N", 500)
    claim = {"seed": "000", "claim": "x", "kind": "compare", "a": "vanilla", "b": "gm-dynamic",
             "metrics": ["class_kl"], "expect": "no gain"}
    res = findings._compare(claim, (0, 1))
    assert res["verdict"] == "supported" and "worse" in res["why"]  # vanilla is far worse: no gain
    res = findings._compare({**claim, "a": "gm-dynamic", "b": "vanilla"}, (0, 1))
    assert res["verdict"] == "refuted" and "a gain" in res["why"]
