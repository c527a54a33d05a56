"""2-D projections and model maps (core/explore/maps.py)."""
import numpy as np
import pytest

from core.errors import ConfigError
from core.explore import maps as embed


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 60)) * 8
    return (centres[np.repeat(np.arange(3), 100)] + rng.normal(size=(300, 60))).astype(np.float32)


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_projection_shape_separation_and_cache(blobs, method, monkeypatch):
    xy = embed.project(blobs, method)
    assert xy.shape == (300, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    # three well-separated blobs stay separated: each point's nearest neighbour is in its blob
    d = ((xy[:, None] - xy[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (d.argmin(1) // 100 == np.arange(300) // 100).mean() > 0.97
    for name in ("_pca", "_tsne", "_umap"):  # a second call must not compute anything
        monkeypatch.setattr(embed, name, lambda *a, **k: pytest.fail("cache missed"))
    assert np.array_equal(embed.project(blobs, method), xy)


def test_cache_is_keyed_by_the_data(blobs):
    a = embed.project(blobs, "pca")
    b = embed.project(blobs * 2, "pca")
    assert not np.allclose(a, b)


def test_knn_is_exact():
    x = np.random.default_rng(1).normal(size=(50, 4)).astype(np.float32)
    idx, dist = embed.knn(x, 5)
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    assert (idx[:, 0] == np.arange(50)).all()
    assert np.allclose(dist, np.sort(d, 1)[:, :5], atol=1e-4)


def test_bad_projection_inputs():
    with pytest.raises(ConfigError, match="projection must be"):
        embed.project(np.zeros((5, 2)), "mds")
    with pytest.raises(ConfigError, match="N ≥ 3"):
        embed.project(np.zeros((2, 2)), "pca")


def test_model_map_points_and_cache(monkeypatch):
    res = embed.model_map("wgan-gp", n=120, space="features", method="pca", real=30)
    assert res["xy"].shape == (150, 2)
    assert list(res["source"]).count("real") == 30
    assert res["images"].shape == (150, 784) and res["images"].dtype == np.uint8
    assert ((res["label"] >= 0) & (res["label"] < 10)).all()
    assert ((res["confidence"] > 0) & (res["confidence"] <= 1)).all()
    monkeypatch.setattr(embed, "project", lambda *a, **k: pytest.fail("cache missed"))
    again = embed.model_map("wgan-gp", n=120, space="features", method="pca", real=30)
    assert np.array_equal(again["xy"], res["xy"])
    with pytest.raises(ConfigError, match="no latent code"):
        embed.model_map("wgan-gp", n=50, space="latent", real=5)


def test_latent_map_of_a_mixture_model_has_its_components():
    res = embed.model_map("cwgan-gp", n=100, space="latent", method="pca")
    assert set(res["component"].tolist()) <= set(range(10)) and len(set(res["component"].tolist())) > 5


def test_cli_map_writes_csv(tmp_path, cli):
    out = tmp_path / "m.csv"
    r = cli("map", "wgan-gp", "--n", "60", "--method", "pca", "--space", "pixels", "--out", str(out))
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "x,y,source,label,confidence,component" and len(lines) == 61


def test_a_selection_is_summarised_per_source_and_exported_per_digit():
    from core.explore.maps import selection_summary
    res = {"source": np.array(["fake", "fake", "real", "fake"]), "label": np.array([3, 3, 5, 8]),
           "confidence": np.array([0.9, 0.7, 0.95, 0.5]), "component": np.array([1, 1, 5, -1])}
    s = selection_summary(res, [0, 1, 2])
    assert s["n"] == 3 and s["by_source"]["generated"] == {"n": 2, "mean_confidence": pytest.approx(0.8),
                                                           "labels": {3: 2}}
    assert s["by_source"]["real"]["labels"] == {5: 1}
    assert [r["index"] for r in s["rows"]] == [0, 1, 2] and s["rows"][2]["source"] == "real"


def test_map_neighbours_and_pca_explained_variance():
    from core.explore.maps import explained_variance, map_neighbours
    xy = np.array([[0, 0], [1, 0], [5, 5], [0.5, 0]])
    assert list(map_neighbours(xy, 0, k=2)) == [3, 1]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) * [10.0, 1.0, 0.1]
    ev = explained_variance(x)
    assert ev.sum() == pytest.approx(1.0) and ev[0] > 0.95 and (np.diff(ev) <= 0).all()


def test_map_search_marks_every_class_match_or_a_digit_and_its_neighbours():
    from core.errors import ConfigError
    from core.explore.maps import map_search
    res = {"label": np.array([3, 1, 3, 7, 3]), "xy": np.array([[0, 0], [5, 5], [1, 0], [9, 9], [0.5, 0]])}
    by_class = map_search(res, "class", 3)
    assert by_class["matches"] == [0, 2, 4] and not by_class["focus"] and "3 of 5 digits" in by_class["caption"]
    by_index = map_search(res, "index", 0, k=2)
    assert by_index["focus"] == [0] and by_index["neighbours"] == [4, 2] and "read as 3" in by_index["caption"]
    with pytest.raises(ConfigError):
        map_search(res, "class", 11)


def test_a_map_fitted_in_the_worker_process_is_the_one_fitted_here():
    """The dashboard fits UMAP / t-SNE in a worker process (numba stays out of the server's
    memory): the same map as in-process, and a killed worker is started again."""
    import os
    import signal

    from core.explore import projector
    x = np.random.default_rng(1).normal(size=(60, 8)).astype(np.float32)
    here = {m: embed.project(x, m, use_cache=False) for m in ("umap", "tsne")}
    projector.OUT_OF_PROCESS = True
    try:
        for m in ("umap", "tsne"):
            np.testing.assert_allclose(embed.project(x, m, use_cache=False), here[m], atol=1e-4)
        pid = projector.WORKER.pid()
        assert pid and pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        projector.WORKER.proc.wait(timeout=10)
        np.testing.assert_allclose(embed.project(x, "umap", use_cache=False), here["umap"], atol=1e-4)
        assert projector.WORKER.pid() not in (None, pid)
    finally:
        projector.OUT_OF_PROCESS = False
        if projector.WORKER.proc is not None:
            projector.WORKER.proc.kill()
            projector.WORKER.proc.wait(timeout=10)
