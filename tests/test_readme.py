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
    rows = [line for line in readme.quality_table().splitlines()[2:] if line.startswith("| ")]  # then footnotes
    fids = [float(r.split(" | ")[4].split()[0]) for r in rows]
    assert fids == sorted(fids) and len(rows) == 14
    from core.results.quality import shipped_rows
    seed = {r["variant"]: r for r in shipped_rows() if r["recipe"] == "seed"}
    assert "wgan-gp" in seed and seed["wgan-gp"]["seeds"] == 3  # its own 3-seed `--recipe seed` row
    gp = next(r for r in rows if r.startswith("| wgan-gp |"))
    assert f"| {readme._range(seed['wgan-gp'], 'fid')}¹ |" in gp  # before: that row's FID, not a live generator
    assert "¹ wgan-gp: its own seed-recipe row" in readme.quality_table()
    r = cli("report", "--readme", "--check")
    assert r.returncode == 0 and "matches its data" in r.stderr


def test_a_new_empty_block_is_filled():
    text = readme.README.read_text()
    body = readme.latent_table()
    empty = text.replace(body + "\n", "")
    assert empty != text and readme.stale_tables(empty) == ["latent"]
    assert readme.rewrite(empty) == text


def test_the_recipes_table_shows_the_choice_on_validation_beside_the_test_fid():
    from core.results.quality import shipped_rows
    compared = [r for r in shipped_rows() if r["variant"] == "wgan-gp" and r.get("compared")]
    assert len(compared) >= 2 and {r["compared"]["chosen"] for r in compared} == {compared[0]["compared"]["chosen"]}
    chosen = min(compared, key=lambda r: r["fid_valid"])
    assert chosen["recipe"] == chosen["compared"]["chosen"]  # chosen on validation, as the rows say
    lines = readme.recipes_table().splitlines()
    assert lines[2].startswith(f"| **{chosen['recipe']} (chosen)**") and len(lines) == 2 + len(compared) + 2
    assert f"| {readme._range(chosen, 'fid')} |" in lines[2]  # reported on test
    assert "run order:" in lines[-1] and chosen["command"] in lines[-1]
