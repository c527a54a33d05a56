from streamlit.testing.v1 import AppTest

from conftest import ROOT
from core.store import Run
from core.variants import make_config


def test_landing_page_lists_variants_and_runs():
    Run.create(make_config("wgan-gp")).set_status("done")
    at = AppTest.from_file(str(ROOT / "app.py")).run(timeout=60)
    assert not at.exception
    tables = at.dataframe
    assert len(tables) == 2
    assert list(tables[0].value["name"]) [:3] == ["vanilla", "wgan-wc", "wgan-gp"]
    assert list(tables[1].value["variant"]) == ["wgan-gp"]


def test_landing_page_without_runs_says_how_to_start():
    at = AppTest.from_file(str(ROOT / "app.py")).run(timeout=60)
    assert not at.exception and "python -m core train" in at.info[0].value
