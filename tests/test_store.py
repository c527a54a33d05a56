"""The run store (core/store/runs.py): status round trips, metrics readable while written, cancel,
reused pids, a corrupt run beside good ones."""
import os
import subprocess
import sys

from core.gan.variants import make_config
from core.store.runs import Run, cancel, list_runs, pid_alive

from helpers import ROOT


def test_status_round_trip_and_dead_process_reads_failed():
    run = Run.create(make_config("vanilla"))
    assert run.status()["status"] == "running" and run.status()["pid"] == os.getpid()
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    run.set_status("running", pid=p.pid)
    st = run.status()
    assert st["status"] == "failed" and "exited" in st["reason"]
    run.set_status("done")
    assert run.status()["status"] == "done"


def test_metrics_are_readable_while_writer_is_open():
    run = Run.create(make_config("vanilla"))
    run.log(1, 0.1, {"loss_d": 1.5, "loss_g": 0.5})
    run.log(2, 0.2, {"loss_d": 1.0})
    reader = Run.open(run.id)
    assert [(s, k, v) for s, _, _, k, v in reader.metrics(["loss_d"])] == [(1, "loss_d", 1.5), (2, "loss_d", 1.0)]
    run.truncate_metrics(1)
    assert len(reader.metrics()) == 2


def test_cancel_stops_the_process_and_marks_the_run():
    run = Run.create(make_config("vanilla"))
    run.close()  # a trainer process holds the run's lock
    p = subprocess.Popen([sys.executable, "-c", "import sys, time; from core.store.runs import Run; "
                          f"r = Run.open({run.id!r}); r.acquire(); print('held', flush=True); time.sleep(60)"],
                         cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    run.set_status("running", pid=p.pid)
    assert cancel(run.id, wait=5) == "cancelled"
    p.wait(timeout=5)
    assert not pid_alive(p.pid) and run.status()["status"] == "cancelled"


def test_a_reused_pid_is_not_the_run_s_process():
    run = Run.create(make_config("vanilla"))
    run.set_status("running", pid=os.getpid(), pid_start=12345)  # same pid, another process's start time
    assert run.status()["status"] == "failed"
    assert pid_alive(os.getpid()) and not pid_alive(os.getpid(), 12345)


def test_corrupt_run_does_not_hide_others(runs_dir):
    good = Run.create(make_config("vanilla"))
    (runs_dir / "broken").mkdir()
    (runs_dir / "broken" / "config.json").write_text("{not json")
    runs = list_runs()
    assert {r.id for r in runs} == {good.id, "broken"}
    assert Run.open("broken").status()["status"] == "failed"
