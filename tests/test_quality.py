"""Time-to-quality: the wall-time budget of a run (cfg max_seconds) and `bench quality`."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.gan.variants import make_config
from core.results.quality import summarise
from core.store import checkpoint
from core.store.runs import Run
from core.train.engine import Trainer
from core.train.resume import resume

from helpers import ROOT, TINY, TINY_DATA, run_cli


def _timed_run(seconds, **over):
    cfg = make_config("vanilla", {**TINY, "epochs": 10_000, "log_every": 2, "max_seconds": seconds, **over})
    run = Run.create(cfg)
    return run, Trainer(cfg, "cpu", run=run, progress=False, data_limit=TINY_DATA)


def test_a_time_budget_ends_the_run_done_once_that_much_wall_time_has_passed():
    run, t = _timed_run(2.0)
    assert t.fit() == "done"
    st = run.status()
    assert st["status"] == "done" and "time budget" in st["reason"]
    assert 2.0 <= st["wall_seconds"] < 12.0  # past the budget by at most one step and one epoch's end
    # the budget, not the 10,000 epochs, ended it (a loaded machine may not finish epoch 1 in 2 s;
    # on three busy test workers the set-up alone once took the 2 s: no step, still ended by the budget)
    assert 0 <= t.step < 10_000 * (TINY_DATA // 16)
    assert checkpoint.load(run.checkpoint_path)["step"] == t.step  # checkpointed where it stopped


def test_the_budget_counts_the_run_across_a_resume_and_a_resume_may_extend_it():
    run, t = _timed_run(1.5)
    t.fit()
    run.close()
    spent = checkpoint.load(run.checkpoint_path)["wall_seconds"]
    assert spent >= 1.5
    again = resume(Run.open(run.id), device="cpu", progress=False, data_limit=TINY_DATA)
    step = again.step
    again.fit()  # the budget is spent: not one more step
    assert again.step == step
    again.run.close()
    more = resume(Run.open(run.id), device="cpu", progress=False, data_limit=TINY_DATA, changes={"max_seconds": 3.0})
    more.fit()
    assert more.step > step and 3.0 <= more.wall_seconds < 3.0 + 10.0


def test_summarise_gives_the_median_and_spread_over_seeds():
    rows = [{"fid": 3.0, "epochs": 10}, {"fid": 5.0, "epochs": 12}, {"fid": 4.0, "epochs": 11}]
    s = summarise(rows)
    assert (s["fid"], s["fid_min"], s["fid_max"], s["epochs"]) == (4.0, 3.0, 5.0, 11)


def test_bench_quality_trains_each_seed_for_the_budget_then_scores_it(cli):
    r = cli("bench", "quality", "--variant", "vanilla", "--seconds", "3", "--seed", "0", "--seed", "1", "--n", "200",
            "--set", f"data_limit={TINY_DATA}", "--set", "batch_size=16", "--set", "eval_every=0", "--device", "cpu",
            "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout)
    assert res["variant"] == "vanilla" and res["seconds"] == 3 and res["seeds"] == [0, 1]
    assert len(res["runs"]) == 2 and res["fid_min"] <= res["fid"] <= res["fid_max"]
    for row in res["runs"]:
        assert row["n"] == 200 and row["steps"] > 0 and row["wall_seconds"] >= 3 and row["fid"] > 0
        assert {"epochs", "img_s", "precision", "recall", "density", "coverage", "class_kl"} <= row.keys()
        # vanilla keeps an EMA by default: its live generator is scored beside it, and differs
        assert row["fid_raw"] > 0 and row["fid_raw"] != row["fid"] and 0 <= row["coverage_raw"] <= 1
        run = Run.open(row["run"])  # an ordinary run, kept: its seed and budget in its config
        assert run.status()["status"] == "done" and run.config()["seed"] == row["seed"]
        assert run.config()["max_seconds"] == 3
    assert res["runs"][0]["fid"] != res["runs"][1]["fid"]  # two seeds, two trainings
    assert res["fid_raw_min"] <= res["fid_raw"] <= res["fid_raw_max"]
    bad = cli("bench", "quality", "--variant", "vanilla", "--set", "lr_q=1")
    assert bad.returncode == 2 and "did you mean" in bad.stderr


def test_a_run_without_an_ema_is_scored_once():
    from core.results.quality import one
    row = one("vanilla", 1.0, seed=0, overrides={**TINY, "ema": 0.0, "eval_every": 0, "data_limit": TINY_DATA},
              n=100, device="cpu")
    assert row["fid"] > 0 and row["steps"] > 0 and not any(k.endswith("_raw") for k in row)


def _result(variant, overrides, fids, raw=None):
    rows = [{"run": f"r{i}", "seed": i, "fid": f, "epochs": 10.0, "precision": 0.8, "recall": 0.5,
             "coverage": 0.3, "class_kl": 0.05, "img_s": 1500.0, **({"fid_raw": raw[i]} if raw else {})}
            for i, f in enumerate(fids)]
    return {"variant": variant, "seconds": 540.0, "seeds": list(range(len(fids))), "n": 10_000,
            "overrides": overrides, **summarise(rows), "runs": rows}


def test_shipped_rows_keep_one_row_per_variant_and_recipe(tmp_path, monkeypatch):
    from core.results import quality
    monkeypatch.setattr(quality, "_shipped_path", lambda: tmp_path / "quality.json")
    assert quality.shipped_rows() == []
    quality.ship(_result("wgan-gp", {"ema": 0.0}, [5.0, 6.0, 5.5]), "seed")
    quality.ship(_result("wgan-gp", {}, [3.5, 3.0, 2.5]), "default")
    quality.ship(_result("wgan-gp", {}, [2.8, 2.9, 2.7], raw=[4.0, 5.0, 6.0]), "default")  # again: replaces it
    rows = quality.shipped_rows()
    assert [(r["variant"], r["recipe"], r["fid"]) for r in rows] == [("wgan-gp", "default", 2.8),
                                                                     ("wgan-gp", "seed", 5.5)]
    assert rows[1]["command"] == ("python -m core bench quality --variant wgan-gp --seconds 540 --seed 0 --seed 1 "
                                  "--seed 2 --set ema=0.0")
    assert rows[0]["fid_min"] == 2.7 and rows[0]["per_seed_fid"] == [2.8, 2.9, 2.7]
    assert (rows[0]["fid_raw"], rows[0]["per_seed_fid_raw"]) == (5.0, [4.0, 5.0, 6.0])
    assert "fid_raw" not in rows[1] and "per_seed_fid_raw" not in rows[1]
    from core.eval.fingerprints import fingerprint
    from core.results.freshness import quality_note
    assert rows[0]["fingerprint"] == fingerprint() and quality_note(rows) is None  # what scored them
    quality.ship({**_result("wgan-gp", {}, [7.0]), "threads": 1, "cores": 1}, "default")  # one core: a row of its own
    rows = quality.shipped_rows()
    assert [(r["recipe"], r["cores"], r["fid"]) for r in rows] == [("default", 1, 7.0), ("default", 2, 2.8),
                                                                   ("seed", 2, 5.5)]
    assert rows[0]["command"] == "python -m core bench quality --variant wgan-gp --seconds 540 --threads 1 --seed 0"


def test_the_overview_shows_the_time_to_quality_table(tmp_path, monkeypatch):
    from core.results import quality

    from helpers import dataframe_heights, page
    monkeypatch.setattr(quality, "_shipped_path", lambda: tmp_path / "quality.json")
    from core.gan.variants import seed_recipe
    quality.ship(_result("wgan-gp", seed_recipe("wgan-gp"), [5.0, 6.0, 5.5]), "seed")
    quality.ship(_result("wgan-gp", {}, [3.5, 3.0, 2.5], raw=[4.5, 5.0, 5.5]), "default")
    quality.ship(_result("hinge", {}, [4.0]), "default")  # one seed
    quality.ship(_result("wgan-gp", {"batch_size": 32}, [9.0]), "batch 32")
    quality.ship({**_result("hinge", {}, [6.0]), "threads": 1, "cores": 1}, "default")  # on one core
    heights = dataframe_heights(monkeypatch)
    at = page("views/overview.py")
    assert "Time to quality" in [h.value for h in at.subheader]
    t = next(d.value for d in at.dataframe if "fid_range" in d.value.columns)
    assert list(t["fid"]) == [3.0, 4.0, 5.5, 6.0, 9.0]  # FID ↓: best first, not alphabetical
    assert list(t["variant"]) == ["wgan-gp", "hinge", "wgan-gp", "hinge", "wgan-gp"]
    assert list(t["cores"]) == [2, 2, 2, 1, 2]  # the core count each row was measured on
    assert list(t["recipe"]) == ["default", "default", "seed", "default", "custom: batch_size=32"]  # the leaderboard's words
    assert list(t["fid_range"]) == ["2.50–3.50", "4.00", "5.00–6.00", "6.00", "9.00"]  # one seed: one number
    assert t["fid_raw"].iloc[0] == 5.0 and t["fid_raw"].isna().iloc[2]  # the default's runs without their EMA
    assert heights["fid_range"] >= 35 * (len(t) + 1) + 20  # every row shown (no inner scroll), above the scrollbar
    assert quality.RECIPES_HELP in " ".join(c.value for c in at.caption)  # the caption uses the same words


def test_time_to_quality_rows_are_ranked_by_fid_in_the_leaderboards_words():
    """The shipped table: best FID first (the header says FID ↓), a single seed's range one number,
    every recipe "default", "seed" or "custom: <knobs>" as `recipe_of` names a run's config."""
    from core.gan.variants import make_config, recipe_of
    from core.results import quality
    shipped = quality.shipped_rows()
    rows = quality.table_rows()
    assert len(rows) == len(shipped)  # every row
    fids = [r["fid"] for r in rows]
    assert fids == sorted(fids)
    for r, s in ((r, next(s for s in shipped if (s["variant"], s["fid"]) == (r["variant"], r["fid"]))) for r in rows):
        assert r["recipe"].split(":")[0] == recipe_of(make_config(s["variant"], s.get("overrides") or {}))
        if s["seeds"] == 1:
            assert r["fid_range"] == f"{s['fid']:.2f}"
        else:
            assert r["fid_range"] == f"{s['fid_min']:.2f}–{s['fid_max']:.2f}"
    assert all(r["recipe"] in ("default", "seed") or r["recipe"].startswith("custom: ") for r in rows)


def test_the_train_form_launches_a_run_with_a_time_budget():
    from helpers import page
    at = page("views/train.py")
    at.selectbox(key="train_variant").set_value("vanilla").run()
    at.number_input(key="hp_vanilla_batch_size").set_value(16)
    at.number_input(key="hp_minutes").set_value(0.05)
    at.button[[b.label for b in at.button].index("Launch")].click().run()
    assert not at.exception, [e.message for e in at.exception]
    run = Run.open(at.session_state["train_run"])
    assert run.config()["max_seconds"] == 3.0
    deadline = time.time() + 120
    while run.status()["status"] == "running" and time.time() < deadline:
        time.sleep(0.5)
    st = run.status()
    assert st["status"] == "done" and "time budget" in st["reason"] and st["wall_seconds"] >= 3.0


def test_profile_times_each_part_of_a_real_run_with_an_engine_window_beside_each_row():
    from core.train.profile import PARTS, profile_fit
    res = profile_fit("vanilla", steps=12, batch_size=16, device="cpu", bench_seconds=0.2,
                      overrides={"data_limit": TINY_DATA, "log_every": 2, "eval_every": 1, "eval_n": 100})
    assert res["steps"] == 12 and set(res["parts_s"]) == {*PARTS, "loop_other"}
    # 8 steps an epoch: the run crossed an epoch's end, so its grid, record and checkpoint were timed
    assert res["parts_s"]["timeline_record"] > 0 and res["parts_s"]["checkpoint"] > 0 and res["parts_s"]["grid"] > 0
    assert res["parts_s"]["loop_other"] >= -0.01  # the engine windows are left out of the run's wall time
    rows = [v for *_, v in Run.open(res["run"]).metrics(["img_s"])]
    assert len(rows) == 6 and abs(res["logged_img_s_median"] - sorted(rows)[3]) < 0.1  # one row per 2 steps
    lo, hi = res["engine_windows_img_s_range"]
    assert 0 < lo <= res["engine_windows_img_s_median"] <= hi and res["logged_vs_engine_windows"] > 0
    assert res["caches_s"] >= 0 and res["bench_engine_img_s"] > 0


def test_the_seed_recipe_is_one_flag_away_from_a_default_chosen_by_time_to_quality(cli):
    from core.gan.variants import seed_recipe
    from core.results.findings import CLAIMS, sweep_configs
    assert make_config("wgan-gp")["batch_size"] == 128 and make_config("wgan-gp")["ema"] > 0
    assert seed_recipe("wgan-gp") == {"ema": 0.0, "batch_size": 64} and seed_recipe("vanilla") == {"ema": 0.0}
    r = cli("train", "--variant", "wgan-gp", "--seed-recipe", "--max-steps", "2", "--data-limit", str(TINY_DATA),
            "--set", "eval_every=0", "--set", "lr_g=5e-4", "--device", "cpu")
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = Run.open(r.stdout.split()[0]).config()
    assert (cfg["batch_size"], cfg["ema"], cfg["lr_g"]) == (64, 0.0, 5e-4)  # the seed's recipe, then --set
    sweep = next(c for c in CLAIMS if c["kind"] == "sweep")  # a seed's claim is checked with its seed's recipe
    assert all(cfg["ema"] == 0.0 for cfg in sweep_configs(sweep))


def test_recipe_of_tells_todays_defaults_from_the_seeds():
    from core.gan.variants import recipe_of, seed_recipe
    assert recipe_of(make_config("wgan-gp")) == "default"
    assert recipe_of(make_config("wgan-gp", seed_recipe("wgan-gp"))) == "seed"
    assert recipe_of(make_config("wgan-gp", {"ema": 0.0})) == "custom"  # batch 128 without the EMA: neither
    assert recipe_of(make_config("wgan-gp", {"lr_g": 1e-4})) == "default"  # other knobs are not the recipe
    old = {k: v for k, v in make_config("vanilla", {"ema": 0.0}).items() if k != "ema"}  # saved before the EMA
    assert recipe_of(old) == "seed"


def test_a_cancelled_benchmark_run_is_neither_scored_nor_reported():
    import signal

    from core.store.runs import list_runs
    before = {r.id for r in list_runs()}
    p = subprocess.Popen([sys.executable, "-m", "core", "bench", "quality", "--variant", "vanilla", "--seconds", "120",
                          "--n", "100", "--set", f"data_limit={TINY_DATA}", "--set", "batch_size=16", "--set",
                          "eval_every=0", "--device", "cpu", "--json"], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline, run = time.time() + 120, None
    while run is None and time.time() < deadline:
        new = [r for r in list_runs() if r.id not in before]
        run = new[0] if new and new[0].status().get("step", 0) > 0 else None
        time.sleep(0.2)
    assert run is not None, "the benchmark's run never started"
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode != 0 and "cancelled" in err and out.strip() == ""
    assert run.status()["status"] == "cancelled" and not (run.path / "scores.json").exists()


def test_the_train_form_fills_in_the_seed_recipe_and_launches_it():
    from helpers import page
    at = page("views/train.py")
    at.selectbox(key="train_variant").set_value("wgan-gp").run()
    assert at.number_input(key="hp_wgan-gp_batch_size").value == 128  # today's default
    at.toggle(key="train_seed_recipe").set_value(True).run()
    assert (at.number_input(key="hp_wgan-gp_batch_size_seed").value, at.number_input(key="hp_wgan-gp_ema_seed").value) \
        == (64, 0.0)
    at.number_input(key="hp_minutes").set_value(0.05)
    at.button[[b.label for b in at.button].index("Launch")].click().run()
    assert not at.exception, [e.message for e in at.exception]
    run = Run.open(at.session_state["train_run"])
    cfg = run.config()
    assert (cfg["batch_size"], cfg["ema"], cfg["lr_g"]) == (64, 0.0, 1e-3)  # the seed's recipe, the rest today's
    deadline = time.time() + 120
    while run.status()["status"] == "running" and time.time() < deadline:
        time.sleep(0.5)
    assert run.status()["status"] == "done"


def test_compared_recipes_run_interleaved_and_rotate_which_goes_first():
    from core.results.quality import interleaved_order
    assert interleaved_order(["a", "b"], [0, 1, 2]) == [(0, "a"), (0, "b"), (1, "b"), (1, "a"), (2, "a"), (2, "b")]
    order = interleaved_order(["a", "b", "c"], [0, 1, 2])
    assert [r for _, r in order[:3]] == ["a", "b", "c"] and [r for _, r in order[3:6]] == ["b", "c", "a"]
    assert {r: sum(1 for _, x in order if x == r) for r in "abc"} == {"a": 3, "b": 3, "c": 3}


def test_a_recipe_is_chosen_on_the_validation_split_and_reported_on_the_test_split(monkeypatch):
    from core.results import quality
    # b is better on test, a on validation: the choice follows validation, the report keeps both
    fids = {"a": ({0: 4.0, 1: 4.2}, {0: 3.0, 1: 3.1}), "b": ({0: 3.5, 1: 3.6}, {0: 3.4, 1: 3.5})}
    ran = []

    def fake_one(variant, seconds, seed, overrides, n, device, progress):
        name = overrides["name"]
        ran.append((seed, name))
        test, valid = fids[name]
        return {"run": f"{name}{seed}", "seed": seed, "fid": test[seed], "fid_valid": valid[seed], "epochs": 1.0}

    monkeypatch.setattr(quality, "one", fake_one)
    res = quality.compare_recipes("wgan-gp", {"a": {"name": "a"}, "b": {"name": "b"}}, seconds=1, seeds=[0, 1])
    assert ran == [(0, "a"), (0, "b"), (1, "b"), (1, "a")]
    assert res["chosen"] == "a" and "validation" in res["chosen_on"]
    assert res["recipes"]["b"]["fid"] < res["recipes"]["a"]["fid"]  # reported on test: b's lower FID is shown
    assert res["order"] == ["a (seed 0)", "b (seed 0)", "b (seed 1)", "a (seed 1)"]


def test_recipes_on_the_command_line():
    from core.errors import ConfigError
    from core.gan.variants import parse_recipe, seed_recipe
    assert parse_recipe("wgan-gp", "default") == ("default", {})
    assert parse_recipe("wgan-gp", "seed") == ("seed", seed_recipe("wgan-gp"))
    assert parse_recipe("wgan-gp", "b64:batch_size=64, lr_g=2e-4") == ("b64", {"batch_size": "64", "lr_g": "2e-4"})
    for bad in ("fast", "b64:", ":batch_size=64"):
        with pytest.raises(ConfigError):
            parse_recipe("wgan-gp", bad)


def test_bench_quality_compares_recipes_scored_on_both_splits_and_ships_each_row(cli, tmp_path, monkeypatch):
    from core.results import quality
    monkeypatch.setattr(quality, "_shipped_path", lambda: tmp_path / "quality.json")
    tiny = [f"--set={k}={v}" for k, v in {**TINY, "eval_every": 0, "data_limit": TINY_DATA}.items()]
    args = ["bench", "quality", "--variant", "vanilla", "--seconds", "1", "--n", "200", "--seed", "0", "--device",
            "cpu", "--recipe", "default", "--recipe", "noema:ema=0", *tiny, "--ship"]
    out = cli(*args, "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout)
    assert set(res["recipes"]) == {"default", "noema"} and res["chosen"] in res["recipes"]
    assert res["chosen"] == min(res["recipes"], key=lambda k: res["recipes"][k]["fid_valid"])
    for name, r in res["recipes"].items():
        row = r["runs"][0]
        assert row["recipe"] == name and row["fid_valid"] > 0 and row["fid_valid"] != row["fid"]
        assert Run.open(row["run"]).config()["ema"] == (0.0 if name == "noema" else make_config("vanilla")["ema"])
    rows = {r["recipe"]: r for r in quality.shipped_rows()}
    assert set(rows) == {"default", "noema"}
    assert rows["noema"]["compared"]["chosen"] == res["chosen"] and "--recipe noema:ema=0" in rows["noema"]["command"]
    assert rows["default"]["per_seed_fid_valid"] == [round(res["recipes"]["default"]["runs"][0]["fid_valid"], 3)]
    one = cli("bench", "quality", "--variant", "vanilla", "--recipe", "default")
    assert one.returncode == 2 and "at least two" in one.stderr
    both = cli("bench", "quality", "--variant", "vanilla", "--recipe", "default", "--recipe", "seed", "--seed-recipe")
    assert both.returncode == 2 and "--recipe seed" in both.stderr


def test_a_model_scored_against_the_validation_split_is_kept_apart_from_its_test_score(model_copy):
    from core.eval.score import reference, score_model
    test = score_model(model_copy, n=500, seed=0)
    valid = score_model(model_copy, n=500, seed=0, split="valid")
    assert (test["split"], valid["split"]) == ("test", "valid") and valid["fid"] != test["fid"]
    assert reference(split="valid")["split"] == "valid" and len(reference(split="valid")["features"]) == 10_000
    assert score_model(model_copy, n=500, seed=0, split="valid") == valid  # cached under its own key


def test_bench_peer_trains_a_patched_script_beside_ours_on_one_core_each_and_scores_both_alike():
    """The script gets the 50k training digits as torchvision's MNIST and stops on time; ours runs
    `bench quality --threads 1`; with two cores they train at once, each pinned to a core of its own."""
    from core.cores import allowed_cpus
    from core.store.mnist import load_split
    r = run_cli("bench", "peer", "--script", str(ROOT / "tests" / "peer_script.py"), "--variant", "vanilla",
                "--seconds", "2", "--seed", "0", "--threads", "1", "--n", "200", "--set", f"data_limit={TINY_DATA}",
                "--set", "batch_size=16", "--set", "eval_every=0", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout)
    peer, ours = res["peer"]["runs"][0], res["ours"]["runs"][0]
    seen = json.loads(next(Path(res["folder"]).rglob("seen.json")).read_text())
    assert seen == {"n": 50_000, "threads": 1, "first_label": int(load_split("train")[1][0])}
    assert peer["n"] == ours["n"] == 200 and peer["fid"] > 0 and ours["fid"] > 0 and peer["steps"] > 0
    assert peer["wall_seconds"] >= 2 and ours["wall_seconds"] >= 2  # both trained for the budget
    assert peer["threads"] == ours["threads"] == 1 and ours["cores"] == 1 and len(peer["cpus"]) == 1
    if len(allowed_cpus()) >= 2:
        assert res["schedule"].startswith("side by side") and peer["cpus"] != ours["cpus"]
    assert res["ahead_pct"] == pytest.approx(100 * (peer["fid"] - ours["fid"]) / peer["fid"], abs=0.05)
    assert Run.open(ours["run"]).config()["max_seconds"] == 2
    assert json.loads((Path(res["folder"]) / "result.json").read_text()) == res  # kept beside its files


def test_bench_peer_says_how_to_patch_a_script_that_is_not(tmp_path, cli):
    (tmp_path / "gan.py").write_text("import torch\nfor i in range(3):\n    pass\n")
    r = cli("bench", "peer", "--script", str(tmp_path / "gan.py"), "--seconds", "1")
    assert r.returncode == 2 and "is not patched: add `import latent_lab_peer`" in r.stderr
    assert "--script PATH" in cli("bench", "peer").stderr
