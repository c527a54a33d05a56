"""The CUDA path (`pytest -m cuda`; skipped where CUDA is missing): every variant trains a few
hundred steps on the GPU with the timeline recorder and a generator EMA, checkpoints, resumes in a
fresh process to the same weights, samples, scores, refines (DRS and both DOTs), inverts with an
EM refit and maps. LATENT_LAB_TEST_DEVICE=cpu runs the same checks on the CPU (to check the
tests themselves on a machine without a GPU)."""
import os
import subprocess
import sys

import pytest
import torch

from core.gan.variants import VARIANTS, make_config
from core.store import checkpoint
from core.store.runs import Run
from core.train.engine import Trainer

from helpers import ROOT

DEVICE = os.environ.get("LATENT_LAB_TEST_DEVICE", "cuda")
pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(), reason="no CUDA device")]
DATA = 2048  # digits: 32 steps an epoch at batch 64
CFG = {"batch_size": 64, "log_every": 8, "eval_every": 2, "eval_n": 200, "ema": 0.99}


def _train(variant, epochs, **over):
    cfg = make_config(variant, {**CFG, "epochs": epochs, **over})
    run = Run.create(cfg)
    t = Trainer(cfg, DEVICE, run=run, progress=False, data_limit=DATA)
    assert t.fit() == "done"
    run.close()
    return run, t


def _state(sd: dict) -> dict:
    return {f"{m}.{k}": v.cpu() for m in ("G", "D", "prior", "G_ema") if m in sd for k, v in sd[m].items()}


# On an H200 (2026-12-04) wgan-sn's resumed weights differed from the straight run's (spectral
# norm's power-iteration vectors first); bit-exact on the CPU. Not yet understood: kept visible.
SN_CUDA = pytest.mark.xfail(DEVICE == "cuda", strict=True, reason="wgan-sn does not resume bit-exactly on CUDA")


@pytest.mark.parametrize("variant", [pytest.param(v, marks=SN_CUDA) if v == "wgan-sn" else v for v in VARIANTS])
def test_every_variant_trains_checkpoints_resumes_and_scores_on_the_device(variant):
    run, t = _train(variant, epochs=6)  # ~200 steps
    assert t.step == 6 * DATA // 64 and next(t.G.parameters()).device.type == torch.device(DEVICE).type
    sd = checkpoint.load(run.checkpoint_path)
    assert all(torch.isfinite(v).all() for v in _state(sd).values() if v.is_floating_point())
    from core.train import timeline
    tl = timeline.load(run.id)
    assert tl.epochs == [2, 4, 6] and all(r["fid"] > 0 for r in tl.rows)
    # resume: 3 epochs, then 3 more in a fresh process, on the device: the weights of 6 straight
    half, _ = _train(variant, epochs=3)
    res = subprocess.run([sys.executable, "-m", "core", "train", "--resume", half.id, "--epochs", "6", "--device",
                          DEVICE, "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    a, b = _state(sd), _state(checkpoint.load(half.checkpoint_path))
    assert a.keys() == b.keys()
    diff = {k: float((a[k].float() - b[k].float()).abs().max()) for k in a if not torch.equal(a[k], b[k])}
    assert not diff, f"resumed weights differ from the straight run's: {sorted(diff.items())[:3]}"
    assert timeline.load(half.id).epochs == [2, 3, 4, 6]  # records at eval_every and at each run's last epoch
    from core.eval.score import score_model
    s = score_model(str(run.checkpoint_path), n=500, device=DEVICE, use_cache=False)
    assert s["n"] == 500 and s["fid"] > 0 and 0 <= s["precision"] <= 1


@pytest.mark.parametrize("method", ["drs", "dot-latent", "dot-target"])
def test_refinement_on_the_device(method, model_copy):
    from core.explore.refine import METHODS, refine_model
    assert method in METHODS
    res = refine_model(model_copy, method, n=300, device=DEVICE)
    assert res["after"]["n"] >= 1 and res["after"]["fid"] > 0


def test_inversion_refit_and_map_on_the_device(model_copy):
    from core.explore.latent import invert_and_refit
    from core.explore.maps import model_map
    out = invert_and_refit(model_copy, n=64, k=2, steps=30, score_n=300, device=DEVICE)
    assert out["refit"]["n"] == 300 and out["recon_rmse_mean"] > 0
    m = model_map(model_copy, n=300, method="pca", device=DEVICE, use_cache=False)
    assert m["xy"].shape == (300, 2)
