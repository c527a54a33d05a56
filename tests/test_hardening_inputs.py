"""The surfaces of the last round under fire (issue 30): imports, sample files, sweeps, timelines,
findings and the zoo index. No memory bomb, no hang, no traceback, nothing left behind."""
import io
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest
import torch

from core.errors import CheckpointError, ConfigError, RunError
from core.eval import sample_files as samples
from core.gan.variants import MAX_Z, make_config
from core.results import findings
from core.store import importer, registry
from core.store.files import try_lock
from core.store.runs import Run
from core.sweeps import drive as sweep_drive
from core.sweeps import records as sweep_records
from core.sweeps import results as sweep_results
from core.sweeps import spec as sweep_spec
from core.train import recorder, timeline, zoo

from course_nets import save_pair
from helpers import ROOT, TINY, free_port, one_line, run_cli

GB = 2**30


def peak_rss(*args, env=None, timeout=120) -> tuple[subprocess.CompletedProcess, int]:
    """`python ARGS` in a subprocess, and its peak resident memory in bytes (ru_maxrss: KiB)."""
    code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)")
    r = subprocess.run([sys.executable, "-c", code, sys.executable, *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    *err, peak = r.stderr.strip().splitlines()
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout, "\n".join(err) + "\n"), int(peak) * 1024


@pytest.fixture(scope="module")
def baseline_rss() -> int:
    """The peak of a process that only imports what the CLI imports to read a file (torch's CUDA
    build alone maps about 0.9 GB here): what a refusal's peak is compared with."""
    return peak_rss("-c", "import core.cli, core.store.importer, core.eval.sample_files, core.eval.score")[1]


def bomb(path, inflated: int, member: str, head: bytes = b"") -> None:
    """Replace `member` of the zip at `path` by `head` + zeros up to `inflated` bytes, deflated
    (a few hundred KB on disk)."""
    with zipfile.ZipFile(path) as z:
        keep = [(i, z.read(i)) for i in z.infolist() if i.filename != member]
    with zipfile.ZipFile(path, "w") as z:
        for info, data in keep:
            z.writestr(info, data)
        info = zipfile.ZipInfo(member)
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            f.write(head)
            chunk = bytes(2**24)
            for _ in range((inflated - len(head)) // len(chunk)):
                f.write(chunk)


# ---- 1. a small file cannot exhaust memory ------------------------------------------------------
@pytest.mark.parametrize("kind", ["import .pth", "samples .npz", "samples .pt"])
def test_a_zip_bomb_is_refused_from_its_central_directory_before_it_inflates(kind, tmp_path, baseline_rss):
    """A file under 10 MB whose zip entry inflates to 1 GiB: refused in one line, the process
    staying far below the 1 GiB it declares (before: it inflated it, 2.7 GB for 2 GiB)."""
    if kind == "import .pth":
        save_pair(tmp_path)
        p = tmp_path / "G.pth"
        bomb(p, GB, next(n for n in zipfile.ZipFile(p).namelist() if n.endswith("/data/0")))
        args = ("import", "--generator", str(p), "--name", "bomb")
    elif kind == "samples .npz":
        p = tmp_path / "s.npz"
        np.savez(p, x=np.zeros((20, 784), np.uint8))
        header = np.lib.format.header_data_from_array_1_0(np.zeros((GB // 784, 784), np.uint8))
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, header)  # magic, length and header
        bomb(p, GB, "x.npy", head=buf.getvalue())
        args = ("score", "--samples", str(p))
    else:
        p = tmp_path / "s.pt"
        torch.save(torch.zeros(20, 784), p)
        bomb(p, GB, next(n for n in zipfile.ZipFile(p).namelist() if n.endswith("/data/0")))
        args = ("score", "--samples", str(p))
    assert p.stat().st_size < 10 * 2**20  # the bound: a file under 10 MB
    r, peak = peak_rss("-m", "core", *args, env={"LATENT_LAB_IMPORTED": str(tmp_path / "imp")})
    assert "MiB); at most" in one_line(r, "inflates to 10")
    assert peak - baseline_rss < 128 * 2**20, f"peak RSS {peak / 2**20:.0f} MiB, {baseline_rss / 2**20:.0f} MiB to import"


def test_a_stride_0_tensor_that_declares_a_huge_layer_is_refused_before_it_is_materialised(tmp_path):
    """6 KB on disk, 256 × 1,000,000 declared: refused from the pickle's shapes (before: registered)."""
    g = {"fc1.weight": torch.zeros(1).expand(256, 1_000_000), "fc1.bias": torch.zeros(256),
         "fc2.weight": torch.zeros(784, 256), "fc2.bias": torch.zeros(784)}
    torch.save(g, tmp_path / "G.pth")
    assert (tmp_path / "G.pth").stat().st_size < 1_000_000
    with pytest.raises(ConfigError, match=r"declares tensors of .* \(one is 256×1000000\)"):
        importer.import_model(tmp_path / "G.pth", name="wide")
    assert not registry.list_imported()


def test_z_is_bounded_like_a_hidden_width(tmp_path):
    g = {"fc1.weight": torch.zeros(1).expand(64, 100_000), "fc1.bias": torch.zeros(64),
         "fc2.weight": torch.zeros(784, 64), "fc2.bias": torch.zeros(784)}
    torch.save(g, tmp_path / "G.pth")
    with pytest.raises(ConfigError, match=f"reads a z of 100000; at most {MAX_Z}"):
        importer.import_model(tmp_path / "G.pth", name="widez")
    with pytest.raises(ConfigError, match="z_dim must be at most"):
        make_config("vanilla", {"z_dim": 2_000_000})


# ---- 2. one bad file never breaks a listing --------------------------------------------------------
def _sweep_record(name: str, rec) -> None:
    d = sweep_spec.sweep_dir(name)
    d.mkdir(parents=True)
    (d / "sweep.json").write_text(json.dumps(rec))


def test_a_bad_sweep_json_is_one_unreadable_row_and_the_others_are_listed(capsys):
    from core.cli import main
    good = sweep_spec.make_spec(variant="wgan-gp", grid={"lr_g": [1e-4, 2e-4]}, name="good")
    _sweep_record("good", {"spec": good, "status": "done"})
    _sweep_record("empty", {"spec": {}})
    _sweep_record("typed", {"spec": {**good, "grid": "lr_g", "seeds": "0"}})
    rows = {r["name"]: r for r in sweep_records.list_sweeps()}
    assert rows["good"]["status"] == "done" and rows["good"]["expected"] == 2
    assert rows["empty"]["status"] == rows["typed"]["status"] == "unreadable"
    assert main(["sweep", "list"]) == 0
    out = capsys.readouterr().out
    assert "good: done" in out and "empty: unreadable" in out and "typed: unreadable (" in out
    assert main(["sweep", "show", "typed"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unreadable sweep.json (spec.grid is 'lr_g')" in err[0]
    trials = sweep_spec.sweep_dir("good") / "trials"
    trials.mkdir()
    (trials / "t1.json").write_text("[1, 2]")
    (trials / "t2.json").write_text(json.dumps({"trial": "t2", "status": "done", "params": {"lr_g": 1e-4}}))
    assert {r["trial"]: r["status"] for r in sweep_results.table("good")} == {"t1": "unreadable", "t2": "done"}


def _run_with_timeline(epochs=(1, 2)) -> Run:
    """A run whose timeline is recorded by hand: rows in its metrics, frame and epoch maps."""
    run = Run.create(make_config("vanilla", TINY))
    folder = run.path / "timeline"
    folder.mkdir()
    recorder.write_npz(folder / "frame.npz", xy=np.random.rand(50, 2).astype(np.float32), label=np.zeros(50, np.uint8))
    for e in epochs:
        run.log(e * 8, float(e), {"tl_fid": 10.0 / e, "tl_n": 100, **{f"tl_hist_{d}": 0.1 for d in range(10)}})
        recorder.write_npz(folder / f"epoch_{e:04d}.npz", xy=np.random.rand(20, 2).astype(np.float16),
                            label=np.zeros(20, np.uint8), conf=np.full(20, 200, np.uint8), comp=np.full(20, -1))
    run.close()
    return run


@pytest.mark.parametrize("damage", ["epoch", "frame"])
def test_a_damaged_timeline_file_is_named_and_the_rest_is_shown(damage, tmp_path, capsys):
    from core.cli import main
    run = _run_with_timeline()
    bad = run.path / "timeline" / ("epoch_0001.npz" if damage == "epoch" else "frame.npz")
    bad.write_bytes(bad.read_bytes()[:40])  # truncated: a BadZipFile before
    gif = tmp_path / "t.gif"
    for args in ([], ["--json"], ["--gif", str(gif)]):  # before: BadZipFile, a traceback, in each
        assert main(["timeline", run.id, *args]) == 0
        out = capsys.readouterr()
        assert "Traceback" not in out.err and "epoch" in out.out
    assert gif.stat().st_size > 0
    if damage == "epoch":
        assert f"skipped: {run.id}: the map of epoch 1 is unreadable (BadZipFile" in out.err
        with pytest.raises(ConfigError, match="the map of epoch 1 is unreadable"):
            timeline.load(run.id).points(1)
    else:
        assert "skipped: frame.npz (BadZipFile" in out.err
        assert timeline.load(run.id).points(2)["xy"].shape == (20, 2)


def test_a_damaged_shipped_timeline_is_one_line(tmp_path, monkeypatch):
    for f in ("timeline.json", "timeline.npz"):
        (tmp_path / "vanilla").mkdir(exist_ok=True)
        shutil.copy(ROOT / "trained" / "vanilla" / f, tmp_path / "vanilla" / f)
    monkeypatch.setattr(registry, "zoo_dir", lambda name: tmp_path / name)
    assert len(timeline.load("vanilla").rows) > 1
    (tmp_path / "vanilla" / "timeline.json").write_text('[{"epoch": 1}]')
    with pytest.raises(ConfigError, match="vanilla's timeline.json is unreadable"):
        timeline.load("vanilla")
    shutil.copy(ROOT / "trained" / "vanilla" / "timeline.json", tmp_path / "vanilla" / "timeline.json")
    (tmp_path / "vanilla" / "timeline.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ConfigError, match="vanilla's timeline.npz is unreadable"):
        timeline.load("vanilla")


@pytest.mark.parametrize("seeds", [[0, "1", 2], [[0], 1], None])  # each a TypeError before
def test_a_findings_table_whose_seeds_are_not_integers_is_recomputed_not_a_crash(seeds, tmp_path, monkeypatch):
    import core.store.files
    monkeypatch.setattr(core.store.files, "TRAINED", tmp_path)
    (tmp_path / findings.SHIPPED).write_text(json.dumps({"seeds": seeds, "zoo": {}, "rows": []}))
    assert findings.shipped_rows((0, 1, 2)) == {}


def test_a_damaged_zoo_index_is_named_and_the_good_entries_are_kept(tmp_path, monkeypatch):
    good = json.loads((ROOT / "trained" / "zoo.json").read_text())
    path = tmp_path / "zoo.json"
    monkeypatch.setattr(zoo, "INDEX", path)
    path.write_text(json.dumps({**good, "vanilla": [1], "wgan": {"epochs": 3, "scores": {"fid": "x"}}}))
    assert set(zoo.index()) == set(good) - {"vanilla", "wgan"}
    assert sorted(p.split(":")[0] for p in zoo.index_problems()) == ["vanilla", "wgan"]
    path.write_text('{"vanilla": ')
    assert zoo.index() == {} and "zoo.json" in zoo.index_problems()[0]
    with pytest.raises(ConfigError, match="damaged"):
        zoo.index(strict=True)  # a writer never overwrites it


# ---- 3. no hang -------------------------------------------------------------------------------------
def test_a_ray_address_where_nothing_listens_is_refused_within_seconds():
    port = free_port()  # nothing listens there
    r = run_cli("sweep", "wgan-gp", "--grid", "lr_g=1e-4,2e-4", "--address", f"127.0.0.1:{port}", "--name", "far",
                timeout=90)
    assert r.returncode == 2 and f"could not reach Ray at 127.0.0.1:{port}" in r.stderr, r.stderr[-800:]
    assert "Traceback" not in r.stderr


def test_a_fifo_named_like_an_image_is_not_opened(tmp_path):
    folder = tmp_path / "pngs"
    folder.mkdir()
    os.mkfifo(folder / "0.png")
    r = run_cli("score", "--samples", str(folder), timeout=60)  # before: blocked for ever in open()
    one_line(r, "holds no .png file")


# ---- 4. one line, exit 2 ----------------------------------------------------------------------------
def test_an_address_that_is_not_one_is_bad_input():
    r = run_cli("sweep", "wgan-gp", "--grid", "lr_g=1e-4,2e-4", "--address", "not an address")
    one_line(r, "--address 'not an address': give auto, HOST:PORT")


def test_a_file_size_limit_ray_cannot_start_under_is_named():
    lim = 64 * 2**20
    r = subprocess.run([sys.executable, "-m", "core", "sweep", "wgan-gp", "--grid", "lr_g=1e-4,2e-4"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (lim, lim)))
    one_line(r, "the file-size limit (ulimit -f) is 64 MiB")


def _png_header(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def test_a_png_whose_header_claims_30000_pixels_square_is_one_line(tmp_path):
    (tmp_path / "0.png").write_bytes(_png_header(30000, 30000))
    with pytest.raises(ConfigError, match="0.png is not a readable 28×28 PNG"):
        samples.read_array(tmp_path)


# ---- 5. a registered name always resolves to its model ------------------------------------------
@pytest.mark.parametrize("name, needle", [("mine.pt", "is read as a file"), ("stray", "a file of that name")])
def test_a_name_the_registry_would_resolve_elsewhere_is_refused_at_import(name, needle, tmp_path, monkeypatch):
    save_pair(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stray").write_text("a file of the working directory")
    with pytest.raises(ConfigError, match=needle):
        importer.import_model(tmp_path / "G.pth", name=name)


def test_a_stray_file_never_silently_shadows_a_registered_model(tmp_path, monkeypatch):
    save_pair(tmp_path)
    importer.import_model(tmp_path / "G.pth", name="mine")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="both a file in the working directory and the imported model mine"):
        registry.resolve("mine")
    assert registry.resolve(str(registry.imported_dir() / "mine" / "model.pt")).is_file()


# ---- 6. nothing left behind --------------------------------------------------------------------------
def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_a_killed_imports_temp_folder_is_removed_by_the_next_import(tmp_path):
    save_pair(tmp_path)
    root = registry.imported_dir()
    dead = root / f".tmp-other-{_dead_pid()}"
    dead.mkdir(parents=True)
    (dead / "model.pt").write_bytes(bytes(1000))
    gone_old = root / f".old-kept-{_dead_pid()}"  # killed between the two renames of --force
    gone_old.mkdir()
    (gone_old / "model.pt").write_bytes(b"old")
    importer.import_model(tmp_path / "G.pth", name="next")
    assert not dead.exists() and (root / "kept" / "model.pt").read_bytes() == b"old"
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".locks")) == ["kept", "next"]


def test_uploads_are_kept_under_a_budget_and_a_refused_one_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_LAB_CACHE", str(tmp_path / "cache"))  # only this test's uploads
    first = samples.save_upload([("a.npy", bytes(3000))])
    os.utime(first.parent, (1, 1))  # the least recently used
    second = samples.save_upload([("b.npy", bytes(3000))])
    assert first.exists() and second.exists()
    assert samples.prune_uploads(keep=second.parent, budget=4000) == [first.parent.name]
    assert not first.exists() and second.exists()
    with pytest.raises(ConfigError):
        samples.load_samples(second)  # 3000 zero bytes: not an .npy
    samples.discard_upload(second)
    assert not second.parent.exists()


# ---- 7. validation gaps ------------------------------------------------------------------------------
def test_sweep_specs_refuse_duplicates_too_many_trials_and_bad_refine_knobs():
    with pytest.raises(ConfigError, match="--grid lr_g: 0.0001 is given twice"):
        sweep_spec.make_spec(variant="wgan-gp", grid=sweep_spec.parse_grid(["lr_g=1e-4,2e-4,0.0001"]))
    with pytest.raises(ConfigError, match="--seeds: 1 is given twice"):
        sweep_spec.make_spec(variant="wgan-gp", seeds=[0, 1, 1])
    big = {"lr_g": [i * 1e-5 for i in range(1, 1001)], "lr_d": [1e-4, 2e-4]}
    with pytest.raises(ConfigError, match=r"2,000 trials; at most 1,000 \(raise it with --max-trials 2000\)"):
        sweep_spec.make_spec(variant="wgan-gp", grid=big)
    assert sweep_spec.n_trials(sweep_spec.make_spec(variant="wgan-gp", grid=big, epochs=1, max_trials=2000)) == 2000
    with pytest.raises(ConfigError, match=r"1..10000000 is 10,000,000 values"):
        sweep_spec.parse_range("1..10000000")
    for grid, needle in [(["percentile=abc,-5"], "'abc' is not a number in"), (["percentile=50,150"], "150"),
                         (["steps=5"], r"steps is not a refine knob of drs \(it is one of dot")]:
        with pytest.raises(ConfigError, match=needle):
            sweep_spec.make_spec("refine", model="wgan-gp", method="drs", grid=sweep_spec.parse_grid(grid))


def test_imported_remove_of_an_empty_name_is_refused(capsys):
    from core.cli import main
    assert main(["imported", "--remove", ""]) == 2
    assert "'' is not an imported model" in capsys.readouterr().err


def test_an_npy_with_an_oversized_header_says_so_not_python_objects(tmp_path):
    p = tmp_path / "h.npy"
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (20, 784), }" + " " * 20_000 + "\n"
    p.write_bytes(b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header.encode() + bytes(20 * 784))
    with pytest.raises(ConfigError, match="header is longer than 10,000 bytes"):
        samples.read_array(p)


def test_streamlits_upload_limit_matches_what_the_panels_promise():
    import tomllib
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] == importer.MAX_BYTES // 2**20 <= samples.MAX_BYTES // 2**20


# ---- 8. one writer per name and per sweep ---------------------------------------------------------------
def test_an_import_of_a_name_another_import_is_writing_is_refused(tmp_path):
    save_pair(tmp_path)
    held = try_lock(registry.imported_dir() / ".locks" / "same.lock")  # another process importing "same"
    try:
        with pytest.raises(ConfigError, match="another import of that name is running"):
            importer.import_model(tmp_path / "G.pth", name="same")
    finally:
        held.close()
    importer.import_model(tmp_path / "G.pth", name="same")
    with pytest.raises(ConfigError, match="--force replaces it"):
        importer.import_model(tmp_path / "G.pth", name="same")


def test_a_sweep_another_driver_runs_is_refused_before_ray_starts():
    spec = sweep_spec.make_spec(variant="wgan-gp", grid={"lr_g": [1e-4, 2e-4]}, name="twice")
    sweep_spec.sweep_dir("twice").mkdir(parents=True)
    held = try_lock(sweep_spec.sweep_dir("twice") / "driver.lock")
    try:
        with pytest.raises(RunError, match="sweep twice is being run by"):
            sweep_drive.run_sweep(spec)
    finally:
        held.close()
    assert not (sweep_spec.sweep_dir("twice") / "sweep.json").exists()


# ---- 9. the CLI lists what the page shows ------------------------------------------------------------------
def test_sweep_list_and_show_include_the_shipped_sweeps(capsys):
    from core.cli import main
    assert main(["sweep", "list"]) == 0
    assert "seed004-sigma-10ep: done · 10/10 trials (10 done) · shipped" in capsys.readouterr().out
    assert main(["sweep", "show", "seed004-sigma-10ep"]) == 0
    out = capsys.readouterr().out
    assert "prior_sigma" in out and out.count("done") >= 10
    assert sweep_results.names()[-2:] == ["seed004-fig4-em-components", "seed004-sigma-10ep"]


def test_no_ray_process_outlives_a_killed_driver_by_more_than_its_bound():
    """kill -9 of a driver that started its own Ray: the GCS, raylet, agents and workers of that
    session are stopped by the watcher within about POLL_S + GRACE_S seconds (they lived on for
    45 s and more)."""
    import signal as _signal
    import subprocess as _sp
    import sys as _sys
    import time as _time

    from core.sweeps import reaper as ray_reaper
    code = ("from core.sweeps import drive; drive.ray_init(num_cpus=1); import ray; "
            "print(ray._private.worker._global_node.session_name, flush=True); import time; time.sleep(600)")
    driver = _sp.Popen([_sys.executable, "-c", code], cwd=ROOT, stdout=_sp.PIPE, text=True)
    try:
        session = driver.stdout.readline().strip()
        assert session.startswith("session_"), session
        deadline = _time.time() + 60
        procs = {}
        while _time.time() < deadline and not any(  # the raylet has started its agents
                "Agent" in open(f"/proc/{p}/cmdline", errors="replace").read() for p in procs if ray_reaper._start(p)):
            procs = ray_reaper.session_processes(session, exclude=driver.pid)
            _time.sleep(0.5)
        assert len(procs) >= 3, procs
        driver.send_signal(_signal.SIGKILL)
        driver.wait(timeout=10)
        t0 = _time.time()
        bound = ray_reaper.POLL_S + ray_reaper.GRACE_S + 10  # + slack for a loaded machine
        while _time.time() - t0 < bound and any(ray_reaper._start(p) == s for p, s in procs.items()):
            _time.sleep(0.2)
        left = {p for p, s in procs.items() if ray_reaper._start(p) == s}
        assert not left, f"Ray processes {left} outlived the driver by {_time.time() - t0:.0f} s"
    finally:
        if driver.poll() is None:
            driver.kill()
