"""What is inside a latent space: directions (core/explore/directions.py), path length and
authenticity (core/eval/latent_metrics.py), the latent scores (core/explore/latent_scores.py), and
their commands (`directions`, `edit`, `score --latent`)."""
import json

import numpy as np
import pytest
import torch
from torch import nn

from core.errors import ConfigError
from core.eval import latent_metrics
from core.explore import directions
from core.gan.nets import Generator
from core.gan.priors import Prior
from core.store.mnist import load_split, to_model_range


def test_sefa_directions_are_the_top_right_singular_vectors_of_the_first_weight():
    torch.manual_seed(0)
    G = Generator(z_dim=5, hidden=(7, 8))
    vec, extra, _ = directions.sefa(G, 3)
    _, s, vh = torch.linalg.svd(G.net[0].weight.detach().double())
    for i in range(3):  # equal up to sign
        assert abs(float(vec[i].double() @ vh[i])) == pytest.approx(1, abs=1e-5)
    assert extra["singular_values"] == pytest.approx(s[:3].tolist(), abs=1e-4)
    cond = Generator(z_dim=5, n_classes=10, hidden=(7, 8))  # the label embedding's columns are left out
    vec, _, about = directions.sefa(cond, 2)
    _, _, vh = torch.linalg.svd(cond.net[0].weight.detach().double()[:, :5])
    assert vec.shape == (2, 5) and abs(float(vec[0].double() @ vh[0])) == pytest.approx(1, abs=1e-5)
    assert "label embedding" in about


def test_a_generator_whose_first_layer_is_not_linear_is_refused():
    G = nn.Sequential(nn.Conv2d(1, 2, 3))
    with pytest.raises(ConfigError, match="Conv2d, not a linear layer"):
        directions.first_linear(G)


class Linear(nn.Module):
    """G(z) = A z: its path length has a closed form."""

    def __init__(self, a: torch.Tensor):
        super().__init__()
        self.z_dim = a.shape[1]
        self.lin = nn.Linear(a.shape[1], a.shape[0], bias=False)
        self.lin.weight.data.copy_(a)

    def forward(self, z, y=None):
        return self.lin(z)


def test_ppl_with_a_pixel_distance_on_a_linear_generator_matches_its_closed_form():
    """lerp: G(z(t + ε)) − G(z(t)) = ε A (z₂ − z₁), so each value is ‖A(z₂ − z₁)‖² / 4 (pixels in
    [0, 1] halve the model range) and its mean over N(0, I) ends is 2‖A‖²_F / 4."""
    a = torch.randn(784, 8, generator=torch.Generator().manual_seed(0)) * 0.1
    vals = latent_metrics.path_lengths(Linear(a), Prior("gaussian", 8), n=20_000, distance="pixels", mode="lerp")
    assert vals.mean() == pytest.approx(2 * float((a ** 2).sum()) / 4, rel=0.03)
    assert latent_metrics.trimmed_mean(np.arange(101.0)) == pytest.approx(50)  # the 1st–99th percentiles kept
    assert latent_metrics.trimmed_mean(np.r_[np.ones(98), 1e9, -1e9]) == pytest.approx(1)  # outliers dropped


def test_slerp_rows_keep_the_ends_and_lerp_the_norms():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g)
    assert torch.allclose(latent_metrics.slerp_rows(a, b, torch.zeros(4)), a, atol=1e-5)
    assert torch.allclose(latent_metrics.slerp_rows(a, b, torch.ones(4)), b, atol=1e-5)
    mid = latent_metrics.slerp_rows(a, b, torch.full((4,), 0.5))
    assert torch.allclose(mid.norm(dim=1), (a.norm(dim=1) + b.norm(dim=1)) / 2, atol=1e-5)


@pytest.fixture(scope="module")
def train_subset():
    x, y = load_split("train")
    return to_model_range(x[:2000]), y[:2000]


def test_a_generator_of_training_digits_is_not_authentic_and_noise_is(train_subset):
    x, _ = train_subset
    emb = (x + 1) / 2
    radius, _ = latent_metrics.nearest(emb, emb, same=True)
    ref = {"embedding": emb, "radius": radius}
    copies = latent_metrics.authenticity(x[:500], "pixels", reference=ref)
    assert copies["authenticity"] < 0.05 and copies["closest"][0]["distance"] < 0.05
    assert copies["closest"][0]["train_index"] == copies["closest"][0]["index"]  # its own twin
    noise = torch.rand(500, 784, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert latent_metrics.authenticity(noise, "pixels", reference=ref)["authenticity"] > 0.95


def test_nearest_never_picks_a_row_itself_when_asked():
    a = torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0]])
    d, j = latent_metrics.nearest(a, a, same=True)
    assert j.tolist() == [1, 0, 1] and d.tolist() == pytest.approx([1, 1, 4])


class TwoDigits(nn.Module):
    """A toy generator: a real 3 where the first layer's first unit is positive, a real 8 elsewhere."""

    def __init__(self, three: torch.Tensor, eight: torch.Tensor, w: torch.Tensor):
        super().__init__()
        self.z_dim = len(w)
        self.first = nn.Linear(len(w), 2)
        self.first.weight.data.zero_()
        self.first.bias.data.zero_()
        self.first.weight.data[0] = w
        self.three, self.eight = three, eight

    def forward(self, z, y=None):
        pos = self.first(z)[:, :1] > 0
        return torch.where(pos, self.three, self.eight)


def test_a_class_direction_flips_the_digit_of_a_toy_model(train_subset):
    x, y = train_subset
    w = torch.tensor([0.6, -0.8, 0.0, 0.0])
    G = TwoDigits(x[np.flatnonzero(y == 3)[0]], x[np.flatnonzero(y == 8)[0]], w)
    prior = Prior("gaussian", 4)
    d = directions.find(G, prior, "class", n=600)
    assert d.targets[3] == 3 and d.targets[8] == 8 and d.targets[5] is None  # no 5 is ever made
    assert float(d.vectors[3] @ w) > 0.95  # the boundary's normal is the generator's own
    assert d.extra["separability"] > 0.95  # held out: the argmax of the ten one-vs-rest scores
    rows = {r["index"]: r for r in directions.measure(G, prior, d, strengths=[-3, 3], n=64)}
    assert rows[3]["hit_rate"] > 0.95 and rows[8]["hit_rate"] > 0.95
    t = np.array(rows[3]["transitions"])
    assert t[8, 3] > 0 and t[3, 8] > 0 and t.sum() == 2 * 64  # −3σ makes 8s of 3s, +3σ 3s of 8s
    grid = directions.edit_grid(G, prior, d, 3, [-3, 0, 3], seeds=4)
    assert grid["labels"].reshape(4, 3)[:, 2].tolist() == [3, 3, 3, 3]  # +3σ along "3": every row reads 3


def test_bad_directions_input_is_one_line_and_exit_2(cli):
    for args, msg in [(["directions", "wgan-gp", "--method", "ica"], "invalid choice"),
                      (["edit", "wgan-gp", "--method", "sefa", "--direction", "12", "--k", "3"],
                       "direction must be between 0 and 2"),
                      (["edit", "wgan-gp", "--method", "sefa", "--direction", "0", "--strengths", "a,b"],
                       "takes numbers"),
                      (["directions", "wgan-gp", "--method", "sefa", "--k", "101"], "k must be between 1 and")]:
        r = cli(*args)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)


def test_the_cli_lists_the_methods_directions_defines():
    from core.cli import directions as cli_directions
    assert cli_directions.METHODS == directions.METHODS and cli_directions.STRENGTHS == directions.STRENGTHS


def test_directions_and_edit_on_a_zoo_model(cli, tmp_path):
    r = cli("directions", "wgan-gp", "--method", "sefa", "--k", "3", "--codes", "8", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["model"] == "wgan-gp" and res["method"] == "sefa" and len(res["directions"]) == 3
    row = res["directions"][0]
    assert row["strengths"] == list(directions.STRENGTHS) and np.array(row["transitions"]).sum() == 8 * 4
    assert 0 <= row["class_change"] <= 1 and row["feature_change"] > 0
    out = tmp_path / "edit.png"
    r = cli("edit", "wgan-gp", "--method", "sefa", "--direction", "0", "--k", "2", "--seeds", "3", "--out", str(out),
            "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert out.stat().st_size > 1000 and np.array(res["labels"]).shape == (3, 5)


def test_score_latent_adds_the_latent_numbers(cli, model_copy, train_subset, monkeypatch):
    """The training split's neighbours (a minute, once per classifier) are a 2000-digit subset here."""
    x, _ = train_subset

    def small(space="features"):
        emb = latent_metrics._embed(x, space).float()
        return {"embedding": emb, "radius": latent_metrics.nearest(emb, emb, same=True)[0]}

    monkeypatch.setattr(latent_metrics, "train_neighbours", small)
    r = cli("score", model_copy, "--latent", "--n", "300", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["ppl"] > 0 and 0 < res["separability"] <= 1 and res["component_agreement"] is None
    assert 0 <= res["authenticity"] <= 1 and 0 <= res["authenticity_pixels"] <= 1 and len(res["closest_pixels"]) == 16
    assert res["fid"] > 0  # beside the usual scores
    again = json.loads(cli("score", model_copy, "--latent", "--n", "300", "--json").stdout)
    assert again["ppl"] == res["ppl"] and again["latent_seconds"] == res["latent_seconds"]  # stored, not recomputed
    assert cli("score", "--real", "--latent").returncode == 2


def test_the_atlas_of_a_halfspace_model_recovers_its_boundary(train_subset):
    from core.explore import atlas
    x, y = train_subset
    w = torch.tensor([0.6, -0.8, 0.0, 0.0])
    G = TwoDigits(x[np.flatnonzero(y == 3)[0]], x[np.flatnonzero(y == 8)[0]], w)
    a, b, c = torch.tensor([2.0, 0, 0, 0]), torch.tensor([-2.0, 0, 1, 0]), torch.tensor([0.0, 2, 0, 1])
    p = atlas.plane(a, b, c, 32)
    assert p["codes"].shape == (32 * 32, 4)
    d = atlas.decode(G, p, ends=[])
    truth = np.where((p["codes"] @ w).numpy() > 0, 3, 8)
    assert (d["labels"] == truth).mean() == 1.0  # every cell on its side of w·z = 0
    s = atlas.summary(d["labels"], d["confidence"], p["cell"])
    assert s["share"][3] + s["share"][8] == pytest.approx(1) and 0 < s["share"][3] < 1
    # the boundary is one straight line across the square: between 32 and 2·32 cell edges
    assert 32 <= s["boundary_edges"] <= 64 and s["boundary_length"] == pytest.approx(s["boundary_edges"] * p["cell"], abs=1e-3)
    corners = p["corners"]  # the three codes sit in the plane at their own distances
    assert float((corners[0] - corners[1]).norm()) == pytest.approx(float((a - b).norm()), rel=1e-5)
    with pytest.raises(ConfigError, match="span a plane"):
        atlas.plane(a, b, 2 * b - a, 8)


def test_atlas_command_on_a_zoo_model(cli, tmp_path):
    out, mosaic = tmp_path / "atlas.png", tmp_path / "mosaic.png"
    r = cli("atlas", "wgan-gp", "--through", "random:0,random:1,random:2", "--res", "16", "--out", str(out),
            "--mosaic", str(mosaic), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert sum(res["share"]) == pytest.approx(1, abs=1e-3) and 0 <= res["hybrid_share"] <= 1
    assert out.stat().st_size > 1000 and mosaic.stat().st_size > 1000
    r = cli("atlas", "wgan-gp", "--through", "random:0,random:1")
    assert r.returncode == 2 and "three codes" in r.stderr


def test_one_digit_to_edit_comes_from_an_endpoint_or_a_map(zoo_wgan):
    from core.gan.sampling import propose
    G, _, prior = zoo_wgan
    z, _, _ = propose(G, prior, 50, torch.Generator().manual_seed(3))
    zi, yi, about = directions.code_of(G, prior, "map:50:3:7")
    assert torch.equal(zi, z[7]) and yi is None and "#7" in about  # the Latent map's own draw
    zr, _, about = directions.code_of(G, prior, "random:4")
    assert zr.shape == (G.z_dim,) and "seed 4" in about
    for bad in ("map:50:3:50", "map:x", "ring:1"):
        with pytest.raises(ConfigError):
            directions.code_of(G, prior, bad)
    d = directions.find(G, prior, "sefa", 2)
    strip = directions.edit_code(G, d, zi, yi, 0, [-2, 0, 2])
    assert strip["images"].shape == (3, 784) and len(strip["labels"]) == 3
    with torch.no_grad():
        assert torch.allclose(strip["images"][1], G(zi.view(1, -1))[0], atol=1e-5)  # strength 0 is the digit itself


def test_an_atlas_cell_is_a_digit_to_edit_for_plain_and_conditional_models(zoo_wgan):
    from core.explore import atlas
    from core.explore.latent import endpoint
    from core.store.registry import load_model
    G, _, prior = zoo_wgan
    ends = ["random:0", "random:1", "random:2"]
    z, emb, about = directions.code_of(G, prior, "atlas:8:13:" + ",".join(ends))
    p = atlas.plane(*(endpoint(G, prior, e).z for e in ends), 8)
    assert torch.equal(z, p["codes"][13]) and emb is None and "cell (1, 5)" in about
    m = load_model("gmm-cwgan-gp")  # a G with a label embedding is given the ends' embeddings, blended
    z, emb, _ = directions.code_of(m.G, m.prior, "atlas:8:0:class:1,class:7,class:0", m.conditional)
    assert emb.shape == (m.G.embed.embedding_dim,) and emb.is_floating_point()
    d = directions.find(m.G, m.prior, "sefa", 2)
    assert directions.edit_code(m.G, d, z, emb, 1, [-1, 0, 1])["images"].shape == (3, 784)
    with pytest.raises(ConfigError, match="no #64"):
        directions.code_of(G, prior, "atlas:8:64:" + ",".join(ends))


def test_a_class_direction_is_compared_with_the_way_to_its_components_means():
    from types import SimpleNamespace
    prior = SimpleNamespace(means=torch.tensor([[3.0, 0.0], [-1.0, 0.0]]))
    comp, labels = torch.tensor([0, 0, 1, 1, 1]), torch.tensor([3, 3, 8, 8, 3])
    vectors = torch.zeros(10, 2)
    vectors[3], vectors[8] = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    cos = directions.toward_means(prior, comp, labels, vectors)
    assert cos[3] == pytest.approx(1.0)  # 3s come mostly from component 0, right of the centre (1, 0)
    assert cos[8] == pytest.approx(0.0)  # 8s from component 1, left: orthogonal to the direction given
    assert cos[5] is None
