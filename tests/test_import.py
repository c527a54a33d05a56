"""Bring your own GAN (core/store/importer.py, `python -m core import`): course-format G.pth / D.pth
import exactly, work wherever a MODEL does, and bad files are refused in one line."""
import json
import os

import pytest
import torch

from core.dashboard import catalog as models
from core.eval.names import METRICS
from core.eval.score import score_model
from core.store import importer, registry
from core.store.importer import ImportRefused

from course_nets import Discriminator, Generator, save_pair
from helpers import ROOT, run_cli


@pytest.fixture
def course(tmp_path):
    """Random-weight course networks saved as tmp_path/G.pth and D.pth: (G, D, folder)."""
    G, D = save_pair(tmp_path)
    return G, D, tmp_path


def nothing_registered():
    root = registry.imported_dir()
    return not root.exists() or not any(root.iterdir())


def test_course_layout_maps_onto_the_project_networks_exactly(course):
    G, D, d = course
    importer.import_model(d / "G.pth", d / "D.pth", name="mine")
    m = registry.load_model("mine")
    g, critic = m.G, m.D
    assert m.config["variant"] == "vanilla" and m.prior.kind == "gaussian" and m.config["z_dim"] == 100
    z = torch.randn(64, 100)
    with torch.no_grad():
        assert torch.allclose(g(z), G(z), atol=1e-6)  # same digits as the course forward pass
        x = G(z)
        assert torch.allclose(torch.sigmoid(critic(x)), D(x).squeeze(1), atol=1e-6)  # our critic = its logit
        assert torch.allclose(critic(x), D.fc4(torch.nn.functional.leaky_relu(D.fc3(torch.nn.functional.leaky_relu(
            D.fc2(torch.nn.functional.leaky_relu(D.fc1(x), 0.2)), 0.2)), 0.2)).squeeze(1), atol=1e-5)


def test_other_hidden_and_z_sizes_are_read_from_the_shapes(tmp_path):
    G, D = save_pair(tmp_path, g={"z_dim": 64, "hidden": (128, 300)}, d={"hidden": (200,)})
    res = importer.import_model(tmp_path / "G.pth", tmp_path / "D.pth", name="small")
    assert (res["z_dim"], res["g_hidden"], res["d_hidden"]) == (64, "128,300", "200")
    m = registry.load_model("small")
    g, critic = m.G, m.D
    z = torch.randn(8, 64)
    with torch.no_grad():
        assert torch.allclose(g(z), G(z), atol=1e-6)
        assert torch.allclose(torch.sigmoid(critic(G(z))), D(G(z)).squeeze(1), atol=1e-6)
    with pytest.raises(ImportRefused, match="--z-dim 100: G's first layer reads 64"):
        importer.import_model(tmp_path / "G.pth", name="other", z_dim=100)


def test_one_file_with_both_networks_and_this_projects_layout(tmp_path, course):
    G, D, d = course
    torch.save({"G": G.state_dict(), "D": D.state_dict()}, tmp_path / "both.pt")
    assert importer.import_model(tmp_path / "both.pt", name="both")["critic"]
    both = registry.load_model("both")
    g0, d0 = both.G, both.D
    torch.save(g0.state_dict(), tmp_path / "ours_G.pth")  # net.0.weight … (this project's layout)
    torch.save({f"module.{k}": v for k, v in d0.state_dict().items()}, tmp_path / "ours_D.pth")  # DataParallel
    res = importer.import_model(tmp_path / "ours_G.pth", tmp_path / "ours_D.pth", name="ours")
    assert res["layout"] == "latent-lab"
    ours = registry.load_model("ours")
    g1, d1 = ours.G, ours.D
    z = torch.randn(4, 100)
    with torch.no_grad():
        assert torch.equal(g1(z), g0(z)) and torch.equal(d1(g0(z)), d0(g0(z)))


def test_a_latent_lab_checkpoint_is_imported_as_it_is(tmp_path):
    res = importer.import_model(ROOT / "trained" / "cwgan-gp" / "model.pt", name="cw")
    assert res["variant"] == "cwgan-gp" and res["critic"]
    assert registry.load_model("cw").config["variant"] == "cwgan-gp"
    # a run's checkpoint keeps its generator EMA: the imported model samples the EMA, like the run
    from core.gan.variants import make_config
    from core.train.engine import Trainer
    t = Trainer(make_config("vanilla", {"batch_size": 16, "ema": 0.9}), "cpu", progress=False, data_limit=64)
    t.fit(max_steps=4)
    torch.save(t.state_dict(), tmp_path / "run.pt")
    importer.import_model(tmp_path / "run.pt", name="with-ema")
    G = registry.load_model("with-ema").G
    assert all(torch.equal(a, b) for a, b in zip(G.parameters(), t.G_ema.parameters()))


def test_an_imported_model_is_listed_and_resolved_after_the_zoo(course):
    _, _, d = course
    importer.import_model(d / "G.pth", name="mine")
    assert registry.locate("mine")[0] == "imported"
    assert registry.locate("wgan-gp")[0] == "zoo"
    row = next(r for r in models.list_models() if r["name"] == "mine")
    assert row["source"] == "imported" and row["grid"] and os.path.isfile(row["grid"])
    assert "mine" in models.usable(models.list_models())
    assert models.curves("mine") == {}
    scores = score_model("mine")  # the leaderboard's n 10k, stored beside the imported model
    row = next(r for r in models.leaderboard_rows(models.list_models(), None) if r["model"] == "mine")
    assert row["source"] == "imported" and row["fid"] == scores["fid"]


def test_import_without_a_critic_says_so_where_one_is_needed(course, cli):
    _, _, d = course
    importer.import_model(d / "G.pth", name="gonly")
    assert not registry.load_model("gonly").has_critic
    r = cli("refine", "gonly", "--method", "drs", "--n", "200", "--burn-in", "200")
    assert r.returncode == 2 and "gonly has no critic" in r.stderr and "Traceback" not in r.stderr


def test_a_loaded_model_names_its_parts(course):
    """registry.LoadedModel: the networks, config and variant by name, whatever the model's source;
    the dashboard's memoised `loaded` returns the same type."""
    _, _, d = course
    importer.import_model(d / "G.pth", name="gonly")
    gonly = registry.load_model("gonly")
    assert isinstance(gonly, registry.LoadedModel)
    assert gonly.D is None and not gonly.has_critic and not gonly.conditional
    assert gonly.variant.name == gonly.config["variant"] == "vanilla" and gonly.prior.kind == "gaussian"
    assert isinstance(gonly.G, torch.nn.Module) and not gonly.G.training
    cw = models.loaded("cwgan-gp")
    assert isinstance(cw, registry.LoadedModel) and cw is models.loaded("cwgan-gp")  # memoised
    assert cw.conditional and cw.has_critic and cw.variant.name == "cwgan-gp" and cw.prior.k == 10
    with pytest.raises(AttributeError):
        cw.prior = None  # frozen: the memoised model is shared by every page


def test_cli_import_then_score_sample_refine_invert_interpolate_map(course, tmp_path, cli):
    _, _, d = course
    r = cli("import", "--generator", str(d / "G.pth"), "--critic", str(d / "D.pth"), "--name", "course", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["layout"] == "course" and res["critic"] and res["critic_output"] == "sigmoid"
    assert res["command"].startswith("python -m core import --generator")
    r = cli("score", "course", "--n", "300", "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["variant"] == "vanilla" and s["n"] == 300 and s["fid"] > 1  # random weights: far from the floor
    for args in (["sample", "course", "--n", "9", "--out", str(tmp_path / "g.png")],
                 ["refine", "course", "--method", "drs", "--n", "200", "--burn-in", "200", "--json"],
                 ["invert", "course", "--n", "8", "--steps", "3", "--components", "1", "--score-n", "50"],
                 ["interpolate", "course", "--from", "random:0", "--to", "random:1", "--frames", "4",
                  "--out", str(tmp_path / "s.png")],
                 ["map", "course", "--n", "50", "--method", "pca", "--out", str(tmp_path / "m.csv")]):
        r = cli(*args)
        assert r.returncode == 0, (args, r.stderr)
    assert registry.list_priors("course") == ["em-k1-diag"]  # saved beside the imported model
    assert (tmp_path / "g.png").is_file() and (tmp_path / "m.csv").is_file()


# ---------------------------------------------------------------- bad files

def _module(tmp_path):
    torch.save(Generator(), tmp_path / "bad.pth")  # the whole module, not its state_dict


def _unknown_keys(tmp_path):
    torch.save({"layer.weight": torch.zeros(3, 3)}, tmp_path / "bad.pth")


def _wrong_shape(tmp_path):
    sd = Generator().state_dict()
    sd["fc4.weight"], sd["fc4.bias"] = torch.zeros(100, 1024), torch.zeros(100)
    torch.save(sd, tmp_path / "bad.pth")


def _broken_chain(tmp_path):
    sd = Generator().state_dict()
    sd["fc2.weight"] = torch.zeros(512, 200)
    torch.save(sd, tmp_path / "bad.pth")


def _extra_key(tmp_path):
    sd = Generator().state_dict()
    sd["bn.weight"] = torch.ones(3)
    torch.save(sd, tmp_path / "bad.pth")


def _empty(tmp_path):
    (tmp_path / "bad.pth").write_bytes(b"")


def _truncated(tmp_path):
    torch.save(Generator().state_dict(), tmp_path / "full.pth")
    (tmp_path / "bad.pth").write_bytes((tmp_path / "full.pth").read_bytes()[:5000])


def _not_torch(tmp_path):
    (tmp_path / "bad.pth").write_text("hello")


def _nan(tmp_path):
    sd = Generator().state_dict()
    sd["fc1.weight"][0, 0] = float("nan")
    torch.save(sd, tmp_path / "bad.pth")


@pytest.mark.parametrize("make, line", [
    (_module, "a whole pickled module (course_nets.Generator)"),
    (_unknown_keys, "unknown layout (keys layer.weight)"),
    (_wrong_shape, "not the 784 pixels"),
    (_broken_chain, "fc2.weight reads 200 inputs but the layer before it gives 256"),
    (_extra_key, "unexpected key bn.weight"),
    (_empty, "bad.pth is empty"),
    (_truncated, "truncated or not a PyTorch file"),
    (_not_torch, "truncated or not a PyTorch file"),
    (_nan, "NaN or infinite"),
])
def test_a_bad_file_gets_one_line_exit_2_and_nothing_registered(tmp_path, make, line, cli):
    make(tmp_path)
    r = cli("import", "--generator", str(tmp_path / "bad.pth"), "--name", "bad")
    assert r.returncode == 2, r.stderr
    assert line in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    if make is _module:
        assert "torch.save(G.state_dict(), 'G.pth')" in r.stderr  # how to save the right thing
    assert nothing_registered()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_malicious_pickle_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"fc1.weight": _Evil(marker)}, tmp_path / "evil.pth")
    r = run_cli("import", "--generator", str(tmp_path / "evil.pth"), "--name", "evil",
                env={"LATENT_LAB_IMPORTED": str(registry.imported_dir())})
    assert r.returncode == 2 and "would run code when unpickled" in r.stderr and "system" in r.stderr, r.stderr
    assert not marker.exists() and nothing_registered()


def test_a_critic_of_the_wrong_shape_leaves_nothing_behind(course, tmp_path):
    _, _, d = course
    torch.save(Discriminator(d_input_dim=100).state_dict(), tmp_path / "D100.pth")
    with pytest.raises(ImportRefused, match="D must read 784 pixels"):
        importer.import_model(d / "G.pth", tmp_path / "D100.pth", name="x")
    assert nothing_registered()


def test_names_never_shadow_the_zoo_or_a_run_and_force_replaces(course):
    from core.gan.variants import make_config
    from core.store.runs import Run
    _, _, d = course
    with pytest.raises(ImportRefused, match="a zoo model has that name"):
        importer.import_model(d / "G.pth", name="wgan-gp")
    run = Run.create(make_config("vanilla"))
    with pytest.raises(ImportRefused, match="a run has that id"):
        importer.import_model(d / "G.pth", name=run.id)
    with pytest.raises(ImportRefused, match="use letters"):
        importer.import_model(d / "G.pth", name="../up")
    importer.import_model(d / "G.pth", name="m")
    with pytest.raises(ImportRefused, match="--force replaces it"):
        importer.import_model(d / "G.pth", d / "D.pth", name="m")
    assert importer.import_model(d / "G.pth", d / "D.pth", name="m", force=True)["critic"]
    assert registry.load_model("m").has_critic
    assert sorted(p.name for p in registry.imported_dir().iterdir() if p.name != ".locks") == ["m"]  # no temp left


def test_an_upload_is_size_checked_before_it_is_written(course, monkeypatch):
    _, _, d = course
    monkeypatch.setattr(importer, "MAX_BYTES", 1000)
    with pytest.raises(ImportRefused, match="limited to"):
        importer.import_upload(("G.pth", (d / "G.pth").read_bytes()))
    assert nothing_registered()


def test_the_zoo_vanilla_saved_in_the_course_layout_scores_exactly_like_the_zoo_model(tmp_path):
    """The zoo's vanilla GAN is the course's MLP: saved with the course's key names and imported,
    it draws the same digits and so gets the same scores."""
    from core.store.checkpoint import load
    sd = load(ROOT / "trained" / "vanilla" / "model.pt")  # int8 weights, expanded on load
    g = {f"fc{i + 1}.{p}": sd["G"][f"net.{2 * i}.{p}"].float() for i in range(4) for p in ("weight", "bias")}
    torch.save(g, tmp_path / "G.pth")
    importer.import_model(tmp_path / "G.pth", name="course-vanilla")
    mine, zoo = score_model("course-vanilla", n=2000, use_cache=False), score_model("vanilla", n=2000, use_cache=False)
    for k in METRICS:
        assert mine[k] == pytest.approx(zoo[k], abs=1e-6), k
