"""A user's file of generated digits, scored like a model (core/eval/sample_files.py, `score --samples`)."""
import json
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from core.errors import ConfigError
from core.eval import sample_files as samples
from core.eval.names import PRDC
from core.eval.score import score_real
from core.explore.maps import features_map
from core.store.mnist import load_split

from helpers import run_cli

N = 400


@pytest.fixture(scope="module")
def digits():
    return load_split("valid")[0][:N]  # uint8 N×28×28


def _write(fmt: str, u8: np.ndarray, folder):
    if fmt == "npz-uint8":
        p = folder / "s.npz"
        np.savez(p, whatever_name=u8)
    elif fmt == "npy-01":
        p = folder / "s.npy"
        np.save(p, u8.astype(np.float32) / 255)
    elif fmt == "pt-pm1-flat":
        p = folder / "s.pt"
        torch.save(torch.from_numpy(u8.reshape(len(u8), 784)).float() / 127.5 - 1, p)
    elif fmt == "npy-channel-0255":
        p = folder / "c.npy"
        np.save(p, u8[:, None].astype(np.int64))
    else:  # a folder of PNGs
        p = folder / "pngs"
        p.mkdir()
        for i, d in enumerate(u8):
            Image.fromarray(d).save(p / f"{i:05d}.png")
    return p


FORMATS = ["npz-uint8", "npy-01", "pt-pm1-flat", "npy-channel-0255", "png-folder"]
RANGE = {"npz-uint8": "uint8", "npy-01": "[0, 1]", "pt-pm1-flat": "[−1, 1]", "npy-channel-0255": "0–255",
         "png-folder": "uint8"}


def test_every_accepted_format_reads_the_same_digits_and_says_which_range(digits, tmp_path):
    want = torch.from_numpy(digits.reshape(N, 784)).float() / 127.5 - 1
    for fmt in FORMATS:
        (tmp_path / fmt).mkdir()
        x, info = samples.load_samples(_write(fmt, digits, tmp_path / fmt))
        assert info["n"] == N and RANGE[fmt] in info["range"], (fmt, info)
        assert torch.allclose(x, want, atol=1e-5), fmt  # the PNG round trip is exact for uint8 digits


def test_samples_score_alike_in_every_format(digits, tmp_path):
    fids = []
    for fmt in ("npz-uint8", "png-folder", "npy-01"):
        (tmp_path / fmt).mkdir()
        res = samples.score_samples(_write(fmt, digits, tmp_path / fmt), use_cache=False)
        assert res["source"] == "samples" and res["n"] == N
        fids.append(res["fid"])
    assert max(fids) - min(fids) < 1e-4, fids


def test_real_train_digits_scored_from_a_file_land_on_the_floor(tmp_path):
    """score_real's own digits (n 400, seed 0) written to a file score exactly as the floor."""
    x, _ = load_split("train")
    idx = np.sort(np.random.default_rng(0).choice(len(x), size=N, replace=False))
    np.save(tmp_path / "train.npy", x[idx])
    res = samples.score_samples(tmp_path / "train.npy", use_cache=False)
    floor = score_real(n=N, seed=0)
    for k in ("fid", *PRDC):
        assert res[k] == pytest.approx(floor[k], abs=1e-9), k


class Boom:
    def __reduce__(self):  # unpickling this would run code: write a file
        import pathlib
        return (pathlib.Path.write_text, (pathlib.Path(BOOM), "ran"))


BOOM = "/tmp/latent_lab_samples_boom"


def test_bad_files_get_one_line_and_nothing_runs(tmp_path, digits):
    import os
    if os.path.exists(BOOM):
        os.remove(BOOM)
    cases = {}
    (tmp_path / "empty.npy").write_bytes(b"")
    cases["empty.npy"] = "empty"
    np.savez(tmp_path / "t.npz", a=digits)
    (tmp_path / "trunc.npz").write_bytes((tmp_path / "t.npz").read_bytes()[:300])
    cases["trunc.npz"] = "not a readable"
    (tmp_path / "junk.npz").write_bytes(b"x")
    cases["junk.npz"] = "not a zip"
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    cases["obj.npy"] = "Python objects"
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump(Boom(), f)
    cases["evil.pt"] = "nothing in it was run"
    np.save(tmp_path / "shape.npy", np.zeros((20, 32, 32), np.uint8))
    cases["shape.npy"] = "expected N×28×28"
    nan = np.zeros((20, 784), np.float32)
    nan[3, 5] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    cases["nan.npy"] = "NaN"
    np.save(tmp_path / "few.npy", digits[:10])
    cases["few.npy"] = "at least 11"
    np.savez(tmp_path / "two.npz", a=digits, b=digits)
    cases["two.npz"] = "--key"
    np.save(tmp_path / "range.npy", np.full((20, 784), 300.0))
    cases["range.npy"] = "fit none"
    (tmp_path / "x.txt").write_text("1 2 3")
    cases["x.txt"] = "expected .npz"
    for name, match in cases.items():
        with pytest.raises(ConfigError, match=match):
            samples.load_samples(tmp_path / name)
    assert not os.path.exists(BOOM)
    assert samples.load_samples(tmp_path / "two.npz", key="b")[1]["n"] == N
    # from the CLI: one line, exit 2, no traceback
    for name in ("evil.pt", "trunc.npz"):
        r = run_cli("score", "--samples", str(tmp_path / name))
        assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not os.path.exists(BOOM)


def test_cli_scores_a_samples_file_beside_the_floor(tmp_path, digits, cli):
    np.save(tmp_path / "v.npy", digits)
    r = cli("score", "--samples", str(tmp_path / "v.npy"), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["n"] == N and res["range"] == "uint8 0–255" and res["floor"]["n"] == N
    assert {"fid", *PRDC, "class_hist"} <= set(res)
    r = cli("score", "wgan-gp", "--samples", str(tmp_path / "v.npy"))
    assert r.returncode == 2 and "alone" in r.stderr


def test_an_upload_is_stored_under_safe_names_and_read_back(digits):
    import io
    buf = io.BytesIO()
    np.save(buf, digits)
    path = samples.save_upload([("../../evil name.npy", buf.getvalue())])
    assert path.name == "000000.npy" and "uploads" in str(path) and samples.load_samples(path)[1]["n"] == N
    pngs = []
    for i, d in enumerate(digits[:20]):
        b = io.BytesIO()
        Image.fromarray(d).save(b, format="PNG")
        pngs.append((f"{i}.png", b.getvalue()))
    folder = samples.save_upload(pngs)
    assert folder.is_dir() and samples.load_samples(folder)[1]["format"] == "folder of PNGs"
    for bad, match in [([], "no file"), ([("a.npy", b"x"), ("b.npy", b"y")], "one .npz"),
                       ([("a.exe", b"x")], "one .npz")]:
        with pytest.raises(ConfigError, match=match):
            samples.save_upload(bad)
    m = features_map(samples.load_samples(path)[0], n=100)
    assert m["xy"].shape == (100, 2) and m["confidence"].shape == (100,) and set(m["label"]) <= set(range(10))


def test_overview_scores_an_uploaded_samples_file(digits):
    import io

    from helpers import page, texts
    buf = io.BytesIO()
    np.save(buf, digits)
    at = page("views/overview.py")
    at.file_uploader(key="samples_upload").upload("mine.npy", buf.getvalue()).run()
    assert not at.exception, at.exception
    assert "Read 400 digits (npy, values uint8 0–255)" in texts(at)
    df = next(d.value for d in at.dataframe if "your samples" in list(d.value.get("model", [])))
    assert list(df["model"][:2]) == ["your samples", "real data (floor)"] and df["fid"].notna().all()
    at.file_uploader(key="samples_upload").upload("bad.npy", b"not numpy").run()
    assert not at.exception and "not a readable .npy" in " ".join(e.value for e in at.error)
