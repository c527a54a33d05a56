"""One place knows what a model is (core/store/registry.py) and one loop samples it (core/gan/sampling.py);
the core's modules import each other without a cycle."""
import ast

import pytest
import torch

from core.errors import CheckpointError, ConfigError
from core.gan import sampling
from core.gan.variants import make_config
from core.store import registry

from helpers import ROOT


def core_imports() -> dict[str, set[str]]:
    """module (dotted under core, e.g. "store.registry") -> the core modules it imports, at the
    top or inside a function. A package's own __init__ is the module named by the package."""
    core = ROOT / "core"
    names = {".".join(p.relative_to(core).with_suffix("").parts).removesuffix(".__init__")
             for p in core.rglob("*.py")}

    def module(dotted: str) -> str:
        return dotted if dotted in names else dotted.rsplit(".", 1)[0]

    graph = {}
    for path in core.rglob("*.py"):
        me = ".".join(path.relative_to(core).with_suffix("").parts).removesuffix(".__init__")
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            assert not (isinstance(node, ast.ImportFrom) and node.level), f"{path}: a relative import"
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core"):
                base = node.module.removeprefix("core").lstrip(".")
                deps |= {module(f"{base}.{a.name}".lstrip(".")) for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {module(a.name.removeprefix("core.")) for a in node.names if a.name.startswith("core.")}
        graph[me] = deps - {me, ""}
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
    assert {"store.registry", "train.engine", "eval.score", "explore.latent", "store.checkpoint", "train.zoo"} <= set(graph)
    assert cycle(graph) is None, " -> ".join(cycle(graph))


# core's packages from the ground up (README, Layout): a module imports only its own package and
# the packages below it
LAYERS = ["peers", "errors", "heap", "cores", "perf", "gan", "store", "track", "eval", "explore", "train", "sweeps", "results",
          "dashboard", "cli",
          "__main__"]


def test_lower_layers_never_import_higher_ones():
    graph = core_imports()
    assert {m.split(".")[0] for m in graph} - {"__init__"} == set(LAYERS)  # a new package gets a place here
    up = [f"{m} -> {d}" for m, deps in graph.items() for d in deps
          if m != "__init__" and LAYERS.index(d.split(".")[0]) > LAYERS.index(m.split(".")[0])]
    assert not up, up


def test_the_layer_check_sees_an_upward_import(tmp_path, monkeypatch):
    core = tmp_path / "core"
    for f, text in {"gan/nets.py": "from core.train.engine import Trainer\n", "train/engine.py": "",
                    "gan/__init__.py": "", "train/__init__.py": ""}.items():
        (core / f).parent.mkdir(parents=True, exist_ok=True)
        (core / f).write_text(text)
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    graph = core_imports()
    assert graph["gan.nets"] == {"train.engine"}
    assert LAYERS.index("train") > LAYERS.index("gan")


def test_the_registry_sits_at_the_bottom_of_the_core():
    graph = core_imports()
    # the classifier (itself below the registry: data, errors, store) is part of a fingerprint
    assert graph["store.registry"] <= {"store.checkpoint", "eval.classifier", "errors", "gan.nets", "gan.priors",
                                       "store.files", "store.runs", "gan.variants"}
    assert "store.registry" not in graph["eval.classifier"]
    assert graph["store.checkpoint"] <= {"errors", "store.files"}  # no name resolution in the file layer
    assert graph["gan.sampling"] <= {"gan.priors"}


def test_a_name_resolves_path_then_zoo_then_imported_then_run(tmp_path):
    from core.store.runs import Run
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



def test_the_core_never_imports_streamlit():
    """core/ is a plain library: the pages import it, never the other way round."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "core").rglob("*.py")
                 for node in ast.walk(ast.parse(p.read_text()))
                 if isinstance(node, (ast.Import, ast.ImportFrom))
                 and any((n.name if isinstance(node, ast.Import) else node.module or "").startswith("streamlit")
                         for n in node.names)]
    assert offenders == []


def test_no_file_over_500_lines_and_no_function_over_80():
    """The quality bar a newcomer can rely on, in the product's code (core/, views/, ui/, app.py)."""
    files = [*(ROOT / "core").rglob("*.py"), *(ROOT / "views").rglob("*.py"), *(ROOT / "ui").rglob("*.py"), ROOT / "app.py"]
    long_files = [f"{p.relative_to(ROOT)}: {n}" for p in files if (n := len(p.read_text().splitlines())) > 500]
    long_functions = [f"{p.relative_to(ROOT)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1}"
                      for p in files for node in ast.walk(ast.parse(p.read_text()))
                      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.end_lineno - node.lineno + 1 > 80]
    assert len(files) > 100 and not long_files and not long_functions, (long_files, long_functions)
