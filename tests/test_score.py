"""The shipped classifier and the scoring pipeline (metrics themselves: test_metrics.py)."""
import json
import time

import numpy as np
import pytest
import torch

from core.errors import CheckpointError
from core.eval import score, score_files
from core.eval.classifier import META, WEIGHTS, load_classifier, predict
from core.eval.names import METRICS
from core.store.checkpoint import file_sha256
from core.store.mnist import load_split, to_model_range

from helpers import trained_run


@pytest.fixture(scope="module")
def test_preds():
    x, y = load_split("test")
    return predict(load_classifier(), to_model_range(x), features=True), y


def test_shipped_classifier_file_and_accuracy(test_preds):
    meta = json.loads(META.read_text())
    assert file_sha256(WEIGHTS) == meta["sha256"]
    assert WEIGHTS.stat().st_size <= 5 * 2**20
    out, y = test_preds
    acc = (out["labels"].numpy() == y).mean()
    assert acc >= 0.995
    assert acc == pytest.approx(meta["test_accuracy"], abs=1e-4)
    assert out["features"].shape == (10_000, meta["feature_dim"])


def test_class_histogram_of_test_split_matches_its_labels(test_preds):
    from core.eval.metrics import class_histogram
    out, y = test_preds
    assert np.abs(class_histogram(out["labels"].numpy()) - np.bincount(y) / len(y)).max() < 0.003


@pytest.mark.parametrize("content", [b"garbage", None])
def test_corrupt_or_wrong_shape_classifier_is_one_clear_error(tmp_path, content):
    bad = tmp_path / "clf.pt"
    if content is None:  # a valid torch file with the wrong shapes
        torch.save({"fc.weight": torch.zeros(3, 3)}, bad)
    else:
        bad.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a valid classifier"):
        load_classifier(bad)


def test_reference_cache_is_keyed_by_classifier(tmp_path, monkeypatch):
    monkeypatch.setattr(score, "_ref_path", lambda sha, split="test": tmp_path / f"ref_{split}_{sha[:8]}.pt")
    x, y = load_split("test")
    monkeypatch.setattr(score, "load_split", lambda split: (x[:500], y[:500]))  # keep it quick
    calls = []
    real_predict = score.predict
    monkeypatch.setattr(score, "predict", lambda *a, **k: (calls.append(1), real_predict(*a, **k))[1])
    first = score.reference(shipped=False)
    second = score.reference(shipped=False)
    assert len(calls) == 1 and torch.equal(first["features"], second["features"])
    monkeypatch.setattr(score, "classifier_sha", lambda: "f" * 64)  # "a new classifier"
    score.reference(shipped=False)
    assert len(calls) == 2 and (tmp_path / "ref_test_ffffffff.pt").is_file()


def test_the_shipped_reference_and_floor_equal_recomputed_ones(test_preds):
    """trained/reference/ holds what scoring would compute from this classifier and data: the test
    split's features (bit for bit where the CPU rounds as the shipping one did) and the floors."""
    ref = score.reference()
    assert ref["shipped"] and ref["classifier_sha256"] == score.classifier_sha()
    out, y = test_preds  # computed now, by the same predict scoring uses
    assert torch.equal(ref["labels"], torch.as_tensor(y))
    assert torch.allclose(ref["features"], out["features"].double(), rtol=1e-5, atol=1e-6)
    assert torch.allclose(ref["radii2_k5"], score.metrics.kth_radii2(out["features"].double(), 5), rtol=1e-9)
    mu, sigma = score.metrics.feature_stats(out["features"].double())
    assert score.metrics.frechet_distance(ref["mu"].numpy(), ref["sigma"].numpy(), mu, sigma) < 1e-6
    shipped = score.score_real(n=500)
    assert shipped["key"] in json.loads((score.SHIPPED_REF / "floor.json").read_text())["floors"]
    fresh = score.score_real(n=500, use_cache=False)
    for k in (*METRICS, "confidence"):
        assert fresh[k] == pytest.approx(shipped[k], rel=1e-4, abs=1e-6), k
    assert fresh["class_hist"] == shipped["class_hist"]


@pytest.mark.parametrize("changed", ["classifier", "data"])
def test_a_shipped_reference_of_another_classifier_or_data_set_is_recomputed(tmp_path, monkeypatch, changed):
    monkeypatch.setenv("LATENT_LAB_CACHE", str(tmp_path))
    if changed == "classifier":
        monkeypatch.setattr(score, "classifier_sha", lambda: "f" * 64)
    else:
        monkeypatch.setattr(score, "CONTENT_SHA256", "0" * 64)
    score._SHIPPED_MEMO.clear()
    x, y = load_split("test")
    monkeypatch.setattr(score, "load_split", lambda split: (x[:300], y[:300]))  # keep it quick
    calls = []
    real_predict = score.predict
    monkeypatch.setattr(score, "predict", lambda *a, **k: (calls.append(len(a[1])), real_predict(*a, **k))[1])
    ref = score.reference()
    assert not ref.get("shipped") and len(ref["features"]) == 300 and calls == [300]  # computed, not read
    floor = score.score_real(n=200)  # not the shipped floor of n=200's key either: scored now
    assert calls == [300, 200] and floor["n"] == 200
    assert score.score_real(n=200) == floor and calls == [300, 200]  # then read from the user's cache
    score._SHIPPED_MEMO.clear()


def test_real_floor_beats_noise():
    floor = score.score_real(n=2000)
    assert set(score.KEYS) <= set(floor)
    assert floor["fid"] < 1.0 and floor["precision"] > 0.6 and floor["recall"] > 0.6 and floor["cond_acc"] is None
    assert sum(floor["class_hist"]) == pytest.approx(1.0) and floor["class_kl"] < 0.01
    noise = score.score_images(torch.rand(2000, 784) * 2 - 1)
    assert noise["fid"] > 50 * max(floor["fid"], 0.01) and noise["precision"] < floor["precision"]


def test_run_scores_are_stored_and_reused(monkeypatch):
    run = trained_run("cwgan-gp", max_steps=4)
    t0 = time.perf_counter()
    res = score.score_model(run.id, n=300, seed=1)
    took = time.perf_counter() - t0
    assert 0 <= res["cond_acc"] <= 1 and res["n"] == 300 and res["variant"] == "cwgan-gp"
    assert json.loads((run.path / "scores.json").read_text())
    assert 0 < score_files.last_scoring(300)["seconds"] <= took + 0.1  # the Overview's estimate: measured here
    monkeypatch.setattr(score, "score_images", lambda *a, **k: pytest.fail("recomputed"))
    assert score.score_model(run.id, n=300, seed=1) == res


def test_score_cli_json_keys(cli):
    res = cli("score", "--real", "--n", "500", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(score.KEYS) <= set(out) and len(out["class_hist"]) == 10
    bad = cli("score")
    assert bad.returncode == 2 and "score needs MODEL" in bad.stderr


def test_class_weights_mnist_asks_for_classes_at_mnist_frequencies():
    from core.eval.score import class_frequencies, requested_classes
    freq = class_frequencies()
    assert freq.sum().item() == pytest.approx(1.0) and freq[1] > freq[5] + 0.02  # 1s are commonest, 5s rarest
    assert requested_classes(100, "uniform", torch.Generator()) is None
    y = requested_classes(50_000, "mnist", torch.Generator().manual_seed(0))
    got = torch.bincount(y, minlength=10).float() / len(y)
    assert (got - freq).abs().max() < 0.006  # binomial noise on 50k draws is ~0.0013


def test_score_with_mnist_class_weights_is_its_own_result_and_only_for_conditional_models():
    from core.errors import ConfigError
    from core.eval.score import score_model
    uni = score_model("cwgan-gp", n=300, seed=0)
    mn = score_model("cwgan-gp", n=300, seed=0, class_weights="mnist")
    assert uni["class_weights"] == "uniform" and mn["class_weights"] == "mnist"
    assert mn["fid"] != uni["fid"] and mn["class_hist"] != uni["class_hist"]
    with pytest.raises(ConfigError, match="not conditional"):
        score_model("vanilla", n=300, class_weights="mnist")


def test_shared_noise_digits_ask_a_conditional_model_for_mnist_frequencies():
    from core.dashboard import catalog as models
    from core.errors import ConfigError
    from core.eval.score import class_frequencies
    _, y = models.shared_noise_digits("cwgan-gp", n=5000, class_weights="mnist")
    got = torch.bincount(y.cpu(), minlength=10).float() / 5000
    assert (got - class_frequencies()).abs().max() < 0.015 and got[1] > got[5]  # 11.4 % vs 9.0 %
    assert torch.equal(y, y.sort().values)  # in blocks of a class, like the uniform grid
    _, yu = models.shared_noise_digits("cwgan-gp", n=5000)
    assert (torch.bincount(yu.cpu(), minlength=10) == 500).all()
    with pytest.raises(ConfigError, match="not conditional"):
        models.shared_noise_digits("wgan-gp", n=10, class_weights="mnist")


def test_test_labels_come_from_the_shipped_reference_only_when_it_matches_the_data(tmp_path, monkeypatch):
    from core.store.mnist import load_split
    want = load_split("test")[1]
    assert np.array_equal(score.test_labels(), want)
    np.savez(tmp_path / "test.npz", data_sha256="another data set", labels=np.zeros(10, np.uint8))
    monkeypatch.setattr(score, "SHIPPED_REF", tmp_path)
    assert np.array_equal(score.test_labels(), want)  # not the other data set's labels
