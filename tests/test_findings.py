"""The seeds' claims checked on the shipped zoo (core/results/findings.py) and the Findings page."""

import json

import pytest

from core.eval import fingerprints
from core.eval.names import LOWER_IS_BETTER, METRICS
from core.results import findings, verdicts
from core.store import registry


def test_a_verdict_needs_every_seed_beyond_twice_the_spread():
    assert findings.verdict([0.5, 0.6, 0.7], spread=0.1)[0] == "supported"
    assert findings.verdict([-0.5, -0.6, -0.7], spread=0.1)[0] == "refuted"
    assert findings.verdict([0.5, 0.15, 0.7], spread=0.1)[0] == "inconclusive"  # one seed inside 2× spread
    assert findings.verdict([0.5, -0.6, 0.7], spread=0.01)[0] == "inconclusive"


def test_lower_is_better_for_fid_and_class_kl_only():
    assert findings._better("fid", 1.0, 2.0) > 0 and findings._better("recall", 0.7, 0.6) > 0
    assert findings._better("class_kl", 0.3, 0.1) < 0
    assert {m for m in METRICS if findings._better(m, 1.0, 2.0) > 0} == LOWER_IS_BETTER == {"fid", "class_kl"}


def test_every_claim_names_its_write_up_and_a_way_to_test_it():
    writeups = {c["writeup_id"] for c in findings.CLAIMS}
    assert writeups == {"000", "001", "002", "003", "004", "lab"}  # lab: Latent Lab's own question
    for c in findings.CLAIMS:
        assert c["kind"] in (*findings.KINDS, "needs"), c
        if c["kind"] == "needs":
            assert "python -m core" in c["command"]


def trained_alike(monkeypatch):
    """The zoo models taken as trained alike (40 epochs of their variant's defaults, no EMA): the
    tests of how a row judges scores, apart from the like-for-like rule."""
    from core.gan.variants import make_config
    monkeypatch.setattr(verdicts, "_config", lambda m: make_config(m, {"epochs": 40, "ema": 0.0}))


def test_a_compare_claim_on_real_scores(monkeypatch):
    """Vanilla skips classes, gm-dynamic does not: at 500 digits and 3 seeds the class-KL gap
    (0.58 vs 0.0001 at 10k) is far beyond the sampling spread."""
    monkeypatch.setattr(findings, "N", 500)
    trained_alike(monkeypatch)
    claim = next(c for c in findings.CLAIMS if c.get("metrics") == ["class_kl"])
    res = findings._compare(claim, (0, 1, 2))
    assert res["verdict"] == "supported", res
    assert "gm-dynamic" in res["evidence"] and "±" in res["evidence"] and "n 500" in res["basis"]
    # the same pair the other way round is refuted
    res = findings._compare({**claim, "a": "vanilla", "b": "gm-dynamic"}, (0, 1, 2))
    assert res["verdict"] == "refuted"


def test_a_compare_row_over_models_trained_differently_is_inconclusive_and_names_each_difference(monkeypatch):
    """Like for like is the models' whole config, not their recipe label: the class-KL gap is far
    beyond the spread, yet gm-dynamic trained 80 epochs and vanilla 40, so the row is inconclusive,
    names the difference, carries it as data and gives the command that evens it."""
    from core.gan.variants import make_config
    from core.train import zoo
    monkeypatch.setattr(findings, "N", 500)
    claim = next(c for c in findings.CLAIMS if c.get("metrics") == ["class_kl"])
    assert (claim["a"], claim["b"]) == ("gm-dynamic", "vanilla")
    monkeypatch.setattr(zoo, "shipped_recipe", lambda m: "seed")
    configs = {"gm-dynamic": make_config("gm-dynamic", {"epochs": 80, "ema": 0.0}),
               "vanilla": make_config("vanilla", {"epochs": 40, "ema": 0.0, "log_every": 7, "seed": 3})}
    monkeypatch.setattr(verdicts, "_config", lambda m: configs[m])
    res = findings._compare(claim, (0, 1))
    assert res["verdict"] == "inconclusive" and res["models"] == ["gm-dynamic", "vanilla"]
    assert res["differences"] == [{"knob": "epochs", "gm-dynamic": 80, "vanilla": 40}]  # bookkeeping and seed ignored
    assert "not like for like" in res["why"] and "epochs 80 (gm-dynamic) vs 40 (vanilla)" in res["why"]
    assert "would say supported" in res["why"] and "python -m core train --variant vanilla --set epochs=80" in res["why"]
    configs["vanilla"]["epochs"] = 80  # trained alike: the numbers decide
    same = findings._compare(claim, (0, 1))
    assert same["verdict"] == "supported" and same["differences"] == [] and same["evidence"] == res["evidence"]
    assert "vanilla its seed's recipe" in same["basis"]
    # a claim about a knob compares models that differ in it
    configs["vanilla"]["epochs"] = 40
    assert findings._compare({**claim, "about": ["epochs"]}, (0, 1))["verdict"] == "supported"


def test_models_trained_with_different_recipes_make_a_claim_inconclusive(monkeypatch):
    """One model on today's defaults (EMA), the other on its seed's recipe: the row says how to
    put both on one recipe (or that the retrain was tried and lost)."""
    from core.gan.variants import make_config
    from core.train import zoo
    monkeypatch.setattr(findings, "N", 500)
    claim = next(c for c in findings.CLAIMS if c.get("metrics") == ["class_kl"])
    configs = {"gm-dynamic": make_config("gm-dynamic", {"epochs": 40}), "vanilla": make_config("vanilla", {"epochs": 40,
                                                                                                          "ema": 0.0})}
    monkeypatch.setattr(verdicts, "_config", lambda m: configs[m])
    monkeypatch.setattr(zoo, "shipped_recipe", lambda m: "default" if m in ("gm-dynamic", "cwgan-gp") else "seed")
    monkeypatch.setattr(zoo, "lost_default_try", lambda m: None)  # never tried: the row says how to retrain
    mixed = findings._compare(claim, (0, 1))
    assert mixed["verdict"] == "inconclusive" and "ema 0.999 (gm-dynamic) vs 0.0 (vanilla)" in mixed["why"]
    assert "--recipe default --if-better --variants vanilla" in mixed["why"]
    monkeypatch.setattr(zoo, "lost_default_try", lambda m: {"fid": 9.8, "shipped_fid": 5.66} if m == "vanilla" else None)
    tried = findings._compare(claim, (0, 1))  # tried and lost: the row says so instead of asking again
    assert tried["verdict"] == "inconclusive" and "--if-better" not in tried["why"]
    assert "vanilla's retrain on today's defaults lost at equal epochs (FID 9.80 vs the shipped 5.66" in tried["why"]
    best = next(c for c in findings.CLAIMS if c["kind"] == "best")
    monkeypatch.undo()
    monkeypatch.setattr(findings, "N", 200)
    res = findings._best(best, (0, 1))  # cwgan-gp on today's defaults, its rivals on their seeds'
    assert res["verdict"] == "inconclusive" and "cwgan-gp today's defaults" in res["basis"], res


def test_findings_page_shows_the_shipped_rows_and_recomputes_the_rest(monkeypatch):
    from helpers import page, texts
    claims = [dict(writeup_id="003", claim="Hinge loss beats a plain WGAN", kind="compare", a="hinge", b="wgan",
                   metrics=["fid"]),
              dict(writeup_id="002", claim="σ claim", kind="needs", command="python -m core train …")]
    long_why = "precision rises 0 → 0.637: against the claim " + "and a long reason " * 20 + "END"
    row = {"writeup_id": "003", "claim": "Hinge loss beats a plain WGAN", "evidence": "fid: hinge 3.2 vs wgan 45",
           "verdict": "supported", "why": long_why, "basis": "n 10000 and the basis END", "seconds": 1.0,
           "warnings": ["wgan has collapsed: 97% of its digits read as 1"]}
    monkeypatch.setattr(findings, "CLAIMS", claims)
    monkeypatch.setattr(findings, "shipped_state", lambda seeds: ({("003", row["claim"]): row},
                                                                  [("σ claim", ["gm-static"])]))
    at = page("views/findings.py")
    assert "1 of 2 rows as shipped with the zoo" in texts(at) and "the others are recomputed" in texts(at)
    # a stale shipped row is named, with the command that refreshes the table
    assert "do not match the models or the rule they use now (gm-static changed since" in texts(at)
    assert "`python -m core findings --ship`" in texts(at)
    df = at.dataframe[0].value
    assert list(df["claim"]) == [c["claim"] for c in claims]
    assert list(df["write-up" if "write-up" in df else "writeup"]) == ["Behaegel, Cornilleau and Lafaye, 003",
                                                                         "Nano Kiwi, 002"]
    assert list(df["verdict"]) == ["supported", "not measured"]  # the kept row, and the one computed now
    assert list(df["⚠ caveat" if "⚠ caveat" in df else "caveat"]) == ["wgan has collapsed: 97% of its digits read "
                                                                       "as 1", ""]
    assert {m.label for m in at.metric} >= {"supported", "not measured"}
    # every claim in full, with its why and basis whole (wrapped, not cut off in a cell)
    labels = [e.label for e in at.expander]
    assert "Behaegel, Cornilleau and Lafaye, 003 · Hinge loss beats a plain WGAN — supported" in labels
    full = texts(at)
    assert long_why in full and "n 10000 and the basis END" in full
    assert "The hinge loss gives better results than the Wasserstein loss" in full
    assert "../shared" not in full


def test_a_shipped_row_is_reused_until_a_model_it_uses_changes(monkeypatch, tmp_path):
    from core.store import files
    monkeypatch.setattr(files, "TRAINED", tmp_path)
    shas = {m: "a" * 64 for c in findings.CLAIMS for m in findings.claim_models(c)}
    monkeypatch.setattr(fingerprints, "model_sha", lambda m: shas.get(m, "missing"))
    monkeypatch.setattr(fingerprints, "classifier_sha", lambda: "c" * 64)
    for kind in list(findings.KINDS):
        monkeypatch.setitem(findings.KINDS, kind, lambda c, seeds, **kw: {"evidence": "e", "verdict": "supported",
                                                                          "why": "w", "basis": "b"})
    rows = findings.findings((0, 1, 2), kept={})
    import re
    assert all(re.fullmatch(r"[0-9a-f]{40}(-dirty)?", r["code_version"]) for r in rows)  # this clone's commit
    assert all(r["fingerprint"]["classifier"] and len(r["fingerprint"]) == 1 + len(findings.claim_models(c))
               for r, c in zip(rows, findings.CLAIMS))
    findings.ship(rows, (0, 1, 2))
    assert len(findings.shipped_rows((2, 1, 0))) == len(findings.CLAIMS)
    assert findings.shipped_rows((0, 1)) == {}  # other sampling seeds: nothing is reused
    shas["san"] = "b" * 64  # san retrained: only the claims that use san go stale
    kept, old = findings.shipped_state((0, 1, 2))
    stale = {(c["writeup_id"], c["claim"]) for c in findings.CLAIMS if "san" in findings.claim_models(c)}
    assert stale and set(kept) == {(c["writeup_id"], c["claim"]) for c in findings.CLAIMS} - stale
    assert old == [(claim, ["san"]) for _, claim in sorted(stale, key=list(
        (c["writeup_id"], c["claim"]) for c in findings.CLAIMS).index)]
    # findings() reuses the fresh rows and computes only the stale ones
    for kind in list(findings.KINDS):
        monkeypatch.setitem(findings.KINDS, kind, lambda c, seeds, **kw: {"evidence": "new", "verdict": "refuted",
                                                                          "why": "", "basis": ""})
    out = findings.findings((0, 1, 2))
    assert [r["evidence"] for r in out] == ["new" if (r["writeup_id"], r["claim"]) in stale else "e" for r in out]
    # a table shipped before fingerprints (FIDs per model) is stale in every row
    (tmp_path / findings.SHIPPED).write_text(json.dumps({"seeds": [0, 1, 2], "zoo": {"san": 1.0}, "rows": [
        {k: v for k, v in r.items() if k != "fingerprint"} for r in rows]}))
    kept, old = findings.shipped_state((0, 1, 2))
    assert kept == {} and len(old) == len(findings.CLAIMS)
    # a row judged by an older rule of its kind (compare rows before like for like meant whole configs)
    shas["san"] = "a" * 64
    findings.ship([{k: v for k, v in r.items() if k != "rule"} for r in rows], (0, 1, 2))
    kept, old = findings.shipped_state((0, 1, 2))
    by_rule = {(c["writeup_id"], c["claim"]) for c in findings.CLAIMS if findings.RULES.get(c["kind"], 1) > 1}
    assert by_rule and set(kept) == {(c["writeup_id"], c["claim"]) for c in findings.CLAIMS} - by_rule
    assert all(changed == ["the findings rule"] for _, changed in old) and len(old) == len(by_rule)


def test_a_no_gain_claim_is_refuted_only_by_a_gain(monkeypatch):
    monkeypatch.setattr(findings, "N", 500)
    claim = {"writeup_id": "000", "claim": "x", "kind": "compare", "a": "vanilla", "b": "gm-dynamic",
             "metrics": ["class_kl"], "expect": "no gain"}
    trained_alike(monkeypatch)
    res = findings._compare(claim, (0, 1))
    assert res["verdict"] == "supported" and "worse" in res["why"]  # vanilla is far worse: no gain
    res = findings._compare({**claim, "a": "gm-dynamic", "b": "vanilla"}, (0, 1))
    assert res["verdict"] == "refuted" and "a gain" in res["why"]


def test_a_sweep_claim_names_its_runs_until_they_exist_then_measures_them(monkeypatch):
    """Seed 002's σ sweep: one run per value, found in the run store by its exact config; without
    them the row is 'not measured' and says how to train them; `train=True` trains them."""
    from core.store.runs import list_runs

    from helpers import TINY, TINY_DATA
    monkeypatch.setattr(findings, "N", 300)
    claim = {"writeup_id": "002", "claim": "σ", "kind": "sweep", "variant": "gm-static", "knob": "prior_sigma",
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
    claim = {"writeup_id": "004", "claim": "refit", "kind": "refit", "model": model_copy, "components": 2,
             "covariance": "diag", "n": 40, "steps": 3}
    res = findings._refit(claim, (0, 1))
    assert res["verdict"] == "not measured" and f"invert {model_copy} --n 40 --steps 3" in res["why"]
    assert registry.list_priors(model_copy) == []
    res = findings._refit(claim, (0, 1), train=True)
    assert registry.list_priors(model_copy) == ["findings-em-k2-diag-40"]
    assert res["verdict"] in ("supported", "refuted", "inconclusive")
    assert "recall:" in res["evidence"] and "drop" in res["evidence"] and "40 inverted train digits" in res["basis"]
    assert findings._refit(claim, (0, 1)) == res  # the saved prior is found: no second inversion
    before = registry.prior_meta(model_copy, "findings-em-k2-diag-40")
    # the refit's scores are its own: they differ from the trained prior's
    from core.eval.score import score_model
    assert score_model(model_copy, n=300, seed=0)["fid"] != score_model(
        model_copy, n=300, seed=0, prior="findings-em-k2-diag-40")["fid"]
    # after a retrain the saved prior describes another generator: not reused, the row says why
    from helpers import retrain_in_place
    retrain_in_place(model_copy)
    res = findings._refit(claim, (0, 1))
    assert res["verdict"] == "not measured" and "was fitted to another checkpoint" in res["why"]
    assert before["checkpoint_sha256"] != registry.checkpoint_sha(model_copy)


def test_a_half_says_which_way_its_metric_went_even_within_noise(monkeypatch):
    """DRS and precision (seed 000): precision falls 0.842 → 0.818, inside 2× the spread: the row
    says it fell, against the claim, and that this is within noise — not only 'inconclusive'."""
    pools = {0: (0.852, 0.822), 1: (0.840, 0.807), 2: (0.833, 0.826)}
    monkeypatch.setattr(findings, "_refined", lambda model, method, seed: {
        "before": {"precision": pools[seed][0]}, "after": {"precision": pools[seed][1]}})
    claim = next(c for c in findings.CLAIMS if c["claim"] == "DRS filters low-quality samples (precision up)")
    res = findings._refine(claim, (0, 1, 2))
    assert res["verdict"] == "inconclusive"
    assert "precision falls 0.842 ± 0.0096 → 0.818 ± 0.01: against the claim, but within noise" in res["why"], res


def _sigma_scores(sigma: float, seed: int) -> dict:
    """seed 002's σ runs as measured: σ 0.15 makes only zeros (precision, recall, coverage 0)."""
    if sigma == 0.15:
        return {"precision": 0.0, "recall": 0.0, "coverage": 0.0, "class_kl": 2.302585,
                "class_hist": [1.0] + [0.0] * 9}
    return {"precision": 0.637 + 0.001 * seed, "recall": 0.26 + 0.04 * seed, "coverage": 0.103 + 0.0005 * seed,
            "class_kl": 0.05, "class_hist": [0.1] * 10}


def test_a_mixed_sweep_shows_each_half_and_flags_a_collapsed_model(monkeypatch):
    claim = next(c for c in findings.CLAIMS if c["kind"] == "sweep")
    monkeypatch.setattr(findings, "_sweep_run", lambda cfg, train: f"run-sigma-{cfg['prior_sigma']}")
    monkeypatch.setattr(findings, "_scores", lambda run, seeds, prior=None: [
        _sigma_scores(float(run.split("-")[-1]), s) for s in seeds])
    res = findings._sweep(claim, (0, 1, 2))
    assert res["verdict"] == "mixed", res  # one metric supported, another refuted: not "partly supported"
    why = res["why"]
    assert "REFUTED: precision rises 0 ± 0 → 0.638 ± 0.001 from prior_sigma 0.15 to 1.0 (claimed: falls): " \
           "against the claim" in why
    assert "SUPPORTED: recall rises" in why and "as claimed" in why
    # the σ 0.15 model is flagged from its class histogram, first
    assert why.startswith("⚠ prior_sigma 0.15 has collapsed: 100% of its digits read as 0 (class KL to uniform 2.30)")
    assert res["warnings"] and "prior_sigma 0.5" not in " ".join(res["warnings"])


def test_collapse_is_read_from_the_class_histogram_not_the_name():
    assert findings.collapsed("m", [{"class_hist": [0.0] * 9 + [0.95], "class_kl": 2.0}]).startswith(
        "m has collapsed: 95% of its digits read as 9")
    assert findings.collapsed("collapsed-looking-name", [{"class_hist": [0.1] * 10, "class_kl": 0.0}]) is None


def test_every_claim_names_its_write_up_and_states_it_in_full(monkeypatch):
    for kind in list(findings.KINDS):
        monkeypatch.setitem(findings.KINDS, kind, lambda c, seeds, **kw: {"evidence": "", "verdict": "x",
                                                                          "why": "", "basis": ""})
    rows = findings.findings((0, 1), kept={})
    by_id = {r["writeup_id"]: r["writeup"] for r in rows}
    assert by_id == {"000": "GANibal, 000", "001": "GANgineers, 001", "002": "Nano Kiwi, 002",
                       "003": "Behaegel, Cornilleau and Lafaye, 003", "004": "hooliGANs, 004", "lab": "Latent Lab, lab"}
    for r in rows:  # the claim in full: a sentence longer than its short key
        assert len(r["statement"]) > len(r["claim"]) and r["statement"].endswith("."), r["claim"]


def test_nothing_in_the_product_points_at_the_shared_folder():
    """A user's clone has no ../shared: neither the pages, the core nor the README may send them there."""
    from helpers import ROOT
    files = [*ROOT.glob("core/**/*.py"), *ROOT.glob("views/*.py"), *ROOT.glob("ui/**/*.py"), ROOT / "app.py",
             ROOT / "README.md"]
    offenders = [str(f.relative_to(ROOT)) for f in files if "../shared" in f.read_text() or
                 "shared/seeds" in f.read_text()]
    assert offenders == []


def test_recompute_takes_the_kinds_of_claim_to_redo():
    kept = {(c["writeup_id"], c["claim"]): {"verdict": "x"} for c in findings.CLAIMS}
    assert findings.keep_rows(kept, None) == kept and findings.keep_rows(kept, "all") == {}
    left = findings.keep_rows(kept, "sweep")  # e.g. after the σ runs were trained again
    assert set(kept) - set(left) == {(c["writeup_id"], c["claim"]) for c in findings.CLAIMS if c["kind"] == "sweep"}
    import pytest

    from core.errors import ConfigError
    with pytest.raises(ConfigError, match="not a kind"):
        findings.keep_rows(kept, "sigma")


def test_the_refit_statistic_is_judged_by_the_spread_of_the_combination():
    """(recall drop − precision drop) sums four scores: its spread is theirs in quadrature, larger than
    the spread of any one score."""
    orig = [{"precision": 0.80, "recall": 0.60}, {"precision": 0.82, "recall": 0.63}, {"precision": 0.81, "recall": 0.61}]
    refit = [{"precision": 0.78, "recall": 0.50}, {"precision": 0.78, "recall": 0.54}, {"precision": 0.79, "recall": 0.52}]
    one = max(findings._spread(orig, refit, metric="precision"), findings._spread(orig, refit, metric="recall"))
    both = findings.combined_spread(orig, refit)
    sds = [0.01, 0.01528, 0.00577, 0.02]
    assert both == pytest.approx(sum(x * x for x in sds) ** 0.5, rel=1e-3) and both > one


def test_the_verdict_rule_is_stated_in_the_readme_and_on_the_page():
    import re

    from helpers import ROOT
    flat = re.sub(r"\s+", " ", (ROOT / "README.md").read_text())
    assert findings.VERDICT_RULE in flat
    assert "findings.VERDICT_RULE" in (ROOT / "views" / "findings.py").read_text()


def test_the_pages_estimate_of_the_long_work_is_what_the_shipped_rows_took(monkeypatch, tmp_path):
    from core.store import files
    monkeypatch.setattr(files, "TRAINED", tmp_path)
    assert findings.shipped_work_minutes() is None  # nothing shipped: no figure
    rows = [{**findings.row_head(c), "seconds": {"sweep": 600.0, "refit": 1800.0}.get(c["kind"], 5.0)}
            for c in findings.CLAIMS]
    findings.ship(rows, (0, 1, 2))
    long = [c for c in findings.CLAIMS if c["kind"] in findings.LONG]
    assert findings.shipped_work_minutes() == pytest.approx(
        sum({"sweep": 10, "refit": 30}[c["kind"]] for c in long))


def test_a_compare_row_adds_the_equal_wall_time_basis_where_quality_json_has_both():
    eq = findings.equal_time("hinge", "wgan")
    assert eq["seconds"] == 540.0 and eq["hinge"]["fid"] < eq["wgan"]["fid"] and eq["hinge"]["seeds"] >= 1
    assert findings.equal_time("hinge", "no-such-model") is None


def test_a_latent_row_judges_each_pair_by_the_rule(monkeypatch):
    from core.gan.variants import make_config
    from core.results import latent_findings
    vals = {("gm-static", 0): 0.9, ("gm-static", 1): 0.91, ("gm-static", 2): 0.9,
            ("vanilla", 0): 0.6, ("vanilla", 1): 0.61, ("vanilla", 2): 0.6}
    monkeypatch.setattr(latent_findings, "value", lambda m, metric, s: vals[m, s])
    monkeypatch.setattr(verdicts, "_config", lambda m: make_config(m, {"epochs": 40}))
    c = dict(writeup_id="004", claim="x", kind="latent", metric="separability", pairs=[["gm-static", "vanilla"]])
    row = latent_findings.KINDS["latent"](c, (0, 1, 2))
    assert row["verdict"] == "supported" and "gm-static vs vanilla" in row["why"], row
    assert row["models"] == ["gm-static", "vanilla"] and "separability: gm-static 0.903" in row["evidence"]
    c["metric"] = "ppl"  # lower is smoother: the same numbers now say gm-static is worse
    assert latent_findings.KINDS["latent"](c, (0, 1, 2))["verdict"] == "refuted"


def test_the_copies_row_flags_only_a_model_clearly_less_authentic_than_real_digits(monkeypatch):
    from core.results import latent_findings
    auth = {"copier": [0.2, 0.21, 0.19], "fine": [0.83, 0.8, 0.86]}
    monkeypatch.setattr(latent_findings, "value", lambda m, metric, s: auth[m][s])
    monkeypatch.setattr(latent_findings, "real_authenticity", lambda: 0.82)
    row = latent_findings.KINDS["copies"](dict(among=["copier", "fine"]), (0, 1, 2))
    assert row["verdict"] == "refuted" and "copier" in row["why"] and "fine" not in row["why"]
    row = latent_findings.KINDS["copies"](dict(among=["fine"]), (0, 1, 2))
    assert row["verdict"] == "supported"


def test_the_copies_claim_covers_every_zoo_model():
    from core.results.claims import CLAIMS
    from core.train.zoo import index
    copies = next(c for c in CLAIMS if c["kind"] == "copies")
    assert sorted(copies["among"]) == sorted(index())
