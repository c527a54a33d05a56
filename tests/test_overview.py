"""The Overview's first visit and leaderboard in AppTest (the page's other tests: test_app.py)."""
import pytest

from helpers import dataframe_heights, page


def test_overview_first_visit_reads_the_shipped_floor_and_scores_nothing(tmp_path, monkeypatch):
    """A fresh clone's first page (empty LATENT_LAB_CACHE) reads the real-data floor from
    trained/reference/ instead of scoring 10k digits and the test split (a minute on a loaded CPU)."""
    import json

    from core.eval import score
    monkeypatch.setenv("LATENT_LAB_CACHE", str(tmp_path / "fresh"))
    work = []

    def refuse(what):
        def f(*a, **k):
            work.append(what)
            raise RuntimeError(f"{what} on the Overview's first visit")
        return f
    monkeypatch.setattr(score, "score_images", refuse("score_images"))
    monkeypatch.setattr(score, "load_split", refuse("load_split"))
    monkeypatch.setattr(score, "predict", refuse("predict"))
    at = page("views/overview.py")
    assert work == [] and not at.error, [e.value for e in at.error]
    board = at.dataframe[0].value
    shipped = json.loads((score.SHIPPED_REF / "floor.json").read_text())["floors"]
    floor = next(f for f in shipped.values() if f["n"] == 10_000 and f["seed"] == 0)
    assert board["model"].iloc[0] == "real data (floor)"
    assert board["fid"].iloc[0] == pytest.approx(floor["fid"], abs=5e-4)  # shown rounded to 3 places


def test_overview_ranks_an_imported_model_by_fid_and_shows_every_command(imported, monkeypatch):
    """The leaderboard: an imported model among the zoo by FID (not appended), room for the last
    row above the scrollbar, the command column wide and every command in full below it."""
    import json

    from core.eval.score_files import cache_key
    from core.store.files import imported_dir
    from core.train import zoo
    fids = sorted(e["scores"]["fid"] for e in zoo.index().values())
    mid = (fids[1] + fids[2]) / 2  # between the second and third zoo model
    (imported_dir() / "course" / "scores.json").write_text(json.dumps({cache_key("course"): {
        "fid": mid, "precision": 0.5, "recall": 0.5, "density": 0.5, "coverage": 0.5, "class_kl": 0.1,
        "cond_acc": None, "class_hist": [0.1] * 10, "n": 10_000}}))
    heights = dataframe_heights(monkeypatch)
    at = page("views/overview.py")
    board = at.dataframe[0].value
    assert list(board["model"]).index("course") == 3  # the floor, two zoo models, then it
    scored = board["fid"].dropna()
    assert list(scored) == sorted(scored)  # FID ↓ all the way down
    assert board["fid"].isna().iloc[-1] and board["model"].iloc[-1] == "course-g"  # not scored: last
    assert heights["train_min"] >= 35 * (len(board) + 1) + 20  # the last row clears the horizontal scrollbar
    assert json.loads(at.dataframe[0].proto.columns)["command"]["width"] == "large"
    code = " ".join(c.value for c in at.code)
    for cmd in board["command"].dropna():
        assert cmd in code  # every command in full, not cut off


def test_the_score_button_quotes_the_last_scoring_time_measured_here_or_none(imported, tmp_path, monkeypatch):
    from core.eval import score_files
    monkeypatch.setenv("LATENT_LAB_CACHE", str(tmp_path / "fresh"))
    label = lambda at: at.button(key="score_btn").label  # noqa: E731
    assert label(page("views/overview.py")) == "Score it (10k digits)"  # nothing measured on this machine yet
    score_files.record_timing(10_000, 23.4)  # what score_model records after scoring 10k digits
    assert label(page("views/overview.py")) == "Score it (10k digits, the last took 23 s here)"


def test_the_first_page_is_drawn_without_importing_torch(tmp_path):
    """The Overview (app.py's default page) lists every model with its scores, the real-data floor,
    time to quality and the import and samples panels from files alone: torch (1.5 s of a 5-s
    first visit here) is imported by the pages that make digits, and meanwhile by the warm-up
    that app.py starts after the first page is drawn."""
    import os
    import subprocess
    import sys

    from helpers import ROOT
    code = ("import sys\nfrom streamlit.testing.v1 import AppTest\n"
            "at = AppTest.from_file('app.py', default_timeout=120)\nat.run()\n"
            "assert not at.exception, at.exception\n"
            "print('torch' in sys.modules, len(at.dataframe[0].value), at.title[0].value)\n")
    env = {**os.environ, "LATENT_LAB_CACHE": str(tmp_path / "cache"), "LATENT_LAB_RUNS": str(tmp_path / "runs"),
           "LATENT_LAB_IMPORTED": str(tmp_path / "imported")}
    (tmp_path / "runs").mkdir()
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    imported, rows, title = r.stdout.split(maxsplit=2)
    assert title.strip() == "Latent Lab" and int(rows) >= 10  # the floor and the zoo: the page was drawn
    assert imported == "False", "the Overview imported torch"
