"""The CLI: exact command names, JSON keys, and one-line errors with exit code 2."""
import json

import pytest
from PIL import Image

from core.cli import build_parser
from core.errors import ConfigError
from core.store.runs import Run

from helpers import one_line, run_cli


@pytest.mark.parametrize("args,needle", [
    (["train", "--variant", "wgan-xy"], "unknown variant 'wgan-xy'"),
    (["train", "--variant", "wgan-gp", "--set", "lr_gg=1e-4"], "unknown hyper-parameter 'lr_gg'"),
    (["train", "--variant", "wgan-gp", "--set", "lr_g=-1e-4"], "lr_g must be positive"),
    (["train", "--variant", "wgan-gp", "--set", "n_critic=abc"], "n_critic must be a int"),
    (["train", "--variant", "wgan-gp", "--set", "lr_g"], "--set takes key=value"),
    (["train", "--variant", "wgan-gp", "--epochs", "0"], "--epochs must be positive"),
    (["train"], "train needs --variant"),
    (["train", "--resume", "no-such-run"], "no run 'no-such-run'"),
    (["cancel", "no-such-run"], "no run 'no-such-run'"),
    (["sample", "no-such-run"], "is not a checkpoint file, a zoo model"),
    (["sample", "missing.pt"], "no checkpoint at missing.pt"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(args, needle, cli):
    one_line(cli(*args), needle)


def test_a_user_mistake_is_one_line_from_the_real_process_too():
    one_line(run_cli("train", "--variant", "wgan-xy"), "unknown variant 'wgan-xy'")
    one_line(run_cli("frobnicate"), "invalid choice")


@pytest.mark.parametrize("args,message", [
    (["train", "--variant", "wgan-gp", "--epochs", "-1"], "--epochs must be positive, got -1"),
    (["train", "--max-steps", "-1"], "--max-steps must be 0 or more, got -1"),
    (["sample", "vanilla", "--n", "0"], "--n must be positive, got 0"),
    (["classifier", "train", "--lr", "nan"], "--lr must be positive, got nan"),
    (["refine", "vanilla", "--method", "drs", "--eps", "0"], "--eps must be positive, got 0.0"),
    (["invert", "vanilla", "--n", "-5"], "--n must be 0 or more, got -5"),
    (["bench", "quality", "--seconds", "-2.5"], "--seconds must be positive, got -2.5"),
    (["sweep-refit", "vanilla", "--score-n", "0"], "--score-n must be positive, got 0"),
    (["findings", "--seeds", "0,x"], "--seeds takes integers like 0,1,2; got '0,x'"),
    (["train", "--epochs", "ten"], "argument --epochs: invalid int value: 'ten' (see `python -m core train --help`)"),
])
def test_a_bad_number_is_refused_by_its_options_type(args, message):
    with pytest.raises(ConfigError) as refused:  # while the command line is read: no handler has run
        build_parser().parse_args(args)
    assert str(refused.value) == message


def test_zero_is_a_number_where_it_means_all_or_no_limit():
    parser = build_parser()
    assert parser.parse_args(["invert", "vanilla", "--n", "0"]).n == 0  # the whole split
    assert parser.parse_args(["train", "--resume", "r", "--max-steps", "0"]).max_steps == 0  # lifts the limit
    assert parser.parse_args(["sweep", "list"]).seeds == [0]  # a string default goes through its type too
    assert parser.parse_args(["findings"]).seeds == [0, 1, 2]


def test_variants_json_catalogue(cli):
    res = cli("variants", "--json")
    rows = json.loads(res.stdout)
    assert len(rows) == 14
    assert {"name", "loss", "prior", "conditional", "lipschitz"} <= set(rows[0])
    assert {r["name"]: r["conditional"] for r in rows}["cwgan-gp"] is True


def test_train_runs_sample_end_to_end(tmp_path):
    res = run_cli("train", "--variant", "hinge", "--max-steps", "4", "--batch-size", "16", "--device", "cpu",
                  "--seed", "3", "--set", "log_every=2", "--quiet", "--data-limit", "128")
    assert res.returncode == 0, res.stderr
    run_id = res.stdout.strip()
    assert Run.open(run_id).config()["seed"] == 3
    listed = json.loads(run_cli("runs", "--json").stdout)
    assert [(r["run_id"], r["status"], r["step"]) for r in listed] == [(run_id, "done", 4)]
    out = tmp_path / "grid.png"
    res = run_cli("sample", run_id, "--n", "16", "--out", str(out))
    assert res.returncode == 0, res.stderr
    img = Image.open(out)
    assert img.size == (4 * 30 + 2, 4 * 30 + 2)
    # a checkpoint path works as MODEL too
    assert run_cli("sample", str(Run.open(run_id).checkpoint_path), "--n", "4", "--out", str(out)).returncode == 0


def test_corrupt_checkpoint_is_one_clear_line(tmp_path, cli):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00not a checkpoint")
    res = cli("sample", str(bad))
    assert res.returncode == 2 and "not a readable checkpoint" in res.stderr and "Traceback" not in res.stderr


def test_bench_json_keys():
    res = run_cli("bench", "train", "--batch-size", "16", "--seconds", "0.3", "--rounds", "1", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert {"engine_img_s", "baseline_img_s", "ratio", "gflops", "gemm_peak_gflops", "mfu", "device",
            "batch_size", "variant"} <= set(out)
    assert out["engine_img_s"] > 0 and out["baseline_img_s"] > 0 and 0 < out["mfu"] < 1.5
    assert out["ratio"] == pytest.approx(out["engine_img_s"] / out["baseline_img_s"], rel=1e-6)
