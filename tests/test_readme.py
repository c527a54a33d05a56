"""The README's figures come from data: its generated tables (core/results/readme.py) match the
tracked files they report, and a table edited by hand is caught."""
from core.results import readme


def test_every_generated_readme_table_matches_its_data_file():
    text = readme.README.read_text()
    assert readme.stale_tables(text) == [], "run `python -m core report --readme`"
    for name in readme.TABLES:
        assert f"<!-- generated: {name} " in text and f"<!-- /generated: {name} -->" in text


def test_a_table_edited_by_hand_is_caught_and_rewritten_from_its_data():
    text = readme.README.read_text()
    row = next(line for line in readme.zoo_retrain_table().splitlines() if line.startswith("| wgan-gp ("))
    edited = text.replace(row, row.replace("→ 1.86", "→ 1.50"))
    assert edited != text and readme.stale_tables(edited) == ["zoo-retrain"]
    assert readme.rewrite(edited) == text
    assert readme.stale_tables(text.replace("<!-- /generated: quality -->", "")) == ["quality"]  # markers lost


def test_the_quality_table_reads_before_from_the_seed_recipe_and_sorts_by_fid(cli):
    rows = readme.quality_table().splitlines()[2:]
    fids = [float(r.split(" | ")[4].split()[0]) for r in rows]
    assert fids == sorted(fids) and len(rows) == 14
    gp = next(r for r in rows if r.startswith("| wgan-gp |"))
    assert "5.52 (5.17–5.74)¹" in gp  # the batch-64 (seed 001's) row's live generator, 3 seeds
    r = cli("report", "--readme", "--check")
    assert r.returncode == 0 and "matches its data" in r.stderr


def test_a_new_empty_block_is_filled():
    text = readme.README.read_text()
    body = readme.latent_table()
    empty = text.replace(body + "\n", "")
    assert empty != text and readme.stale_tables(empty) == ["latent"]
    assert readme.rewrite(empty) == text
