"""One place knows what a model is (core/registry.py) and one loop samples it (core/sampling.py);
the core's modules import each other without a cycle."""
import ast

import pytest
import torch

from conftest import ROOT
from core import registry, sampling
from core.errors import CheckpointError, ConfigError
from core.variants import make_config


def core_imports() -> dict[str, set[str]]:
    """module -> the core modules it imports, at the top or inside a function."""
    graph = {}
    for path in (ROOT / "core").glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core"):
                parts = node.module.split(".")
                deps |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith("core.")}
        graph[path.stem] = deps - {path.stem}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph (a list of modules), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(m, path):
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                return path[path.index(d):] + [d]
            if d in graph and d not in state and (found := visit(d, path + [d])):
                return found
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m, [m])):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_the_core_has_no_import_cycle():
    graph = core_imports()
    assert {"registry", "engine", "score", "latent", "checkpoint", "zoo"} <= set(graph)
    assert cycle(graph) is None, " -> ".join(cycle(graph))


def test_the_registry_sits_at_the_bottom_of_the_core():
    graph = core_imports()
    # the classifier (itself below the registry: data, errors, store) is part of a fingerprint
    assert graph["registry"] <= {"checkpoint", "classifier", "errors", "nets", "priors", "store", "variants"}
    assert "registry" not in graph["classifier"]
    assert graph["checkpoint"] <= {"errors", "store"}  # no name resolution in the file layer
    assert graph["sampling"] <= {"priors"}


def test_a_name_resolves_path_then_zoo_then_imported_then_run(tmp_path):
    from core.store import Run
    p = tmp_path / "x.pt"
    p.write_bytes(b"")
    assert registry.locate(str(p)) == ("path", p)
    assert registry.locate("wgan-gp") == ("zoo", ROOT / "trained" / "wgan-gp" / "model.pt")
    run = Run.create(make_config("vanilla"))
    with pytest.raises(CheckpointError, match="has no checkpoint yet"):
        registry.locate(run.id)
    with pytest.raises(CheckpointError, match="an imported model"):
        registry.locate("nothing-by-this-name")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        registry.locate(str(tmp_path / "missing.pt"))


def test_unreadable_prior_is_a_clear_error(model_copy, tmp_path):
    d = tmp_path / "m" / "priors"
    d.mkdir()
    (d / "bad.pt").write_bytes(b"not a prior")
    with pytest.raises(CheckpointError, match="not a readable prior"):
        registry.load_prior(model_copy, "bad")
    with pytest.raises(ConfigError, match="prior name"):
        registry.load_prior(model_copy, "../escape")


def test_hidden_sizes_are_a_config_knob():
    G, D, _ = registry.build_models(make_config("wgan-gp", {"g_hidden": "64,128", "d_hidden": "32"}))
    assert [m.out_features for m in G.net if isinstance(m, torch.nn.Linear)] == [64, 128, 784]
    assert [m.out_features for m in D.linear_layers()] == [32, 1]
    with pytest.raises(ConfigError, match="comma-separated layer sizes"):
        make_config("wgan-gp", {"g_hidden": "64,x"})


def test_generate_and_propose_are_one_loop():
    torch.manual_seed(0)
    G, _, prior = registry.build_models(make_config("gmm-cwgan-gp"))
    y = torch.arange(10).repeat(5)
    x, yy = sampling.generate(G, prior, 50, y=y, generator=torch.Generator().manual_seed(3), batch=7)
    assert torch.equal(yy, y)  # the classes asked for are the ones drawn
    z, y2, x2 = sampling.propose(G, prior, 50, torch.Generator().manual_seed(3), batch=7, y=y)
    assert torch.equal(x, x2) and torch.equal(y2, y)
    with torch.no_grad():
        assert torch.allclose(G(z, y), x, atol=1e-6)  # the images are G of the codes returned
    _, y3 = sampling.generate(G, prior, 50, generator=torch.Generator().manual_seed(3))
    assert y3.shape == (50,) and not torch.equal(y3, y)  # no y: the prior draws its own components

