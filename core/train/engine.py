"""The one training loop. Every variant runs through `Trainer`; the variant spec decides
the loss, the prior, what is conditioned on labels and how the critic is kept Lipschitz.

One *step* consumes one batch of real digits and makes one critic update; every
`n_critic`-th step also makes one generator update. An *epoch* is one pass over the 50k
training digits (drop-last batches).
"""
from __future__ import annotations

import copy
import math
import signal
import time

import torch
from tqdm.auto import tqdm

from core.errors import CheckpointError, ConfigError, LabError, TrainingFailed
from core.gan import losses
from core.gan.sampling import eval_noise
from core.gan.variants import get_variant, make_config
from core.heap import tune_cpu_allocator
from core.perf import count_flops, gemm_peak_gflops
from core.store import checkpoint as ckpt_io
from core.store.images import save_grid
from core.store.mnist import DeviceLoader
from core.store.registry import build_models
from core.store.runs import Run
from core.track import Tracking
from core.track import for_run as track_run

_clock = time.monotonic  # when a time-based checkpoint is due (tests substitute a fake clock)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available")
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda, got {device!r}")
    return torch.device(device)


class Trainer:
    def __init__(self, cfg: dict, device: str | torch.device = "cpu", run: Run | None = None,
                 progress: bool = True, data_limit: int | None = None):
        """`data_limit` (train on the first N digits) is a shorthand for the config's own knob."""
        over = {k: v for k, v in cfg.items() if k != "variant"}
        if data_limit is not None:
            over["data_limit"] = data_limit
        self.cfg = cfg = make_config(cfg["variant"], over)
        self.v = get_variant(cfg["variant"])
        self.device = torch.device(device)
        self.run, self.progress = run, progress
        if self.device.type == "cpu":
            tune_cpu_allocator()
        torch.manual_seed(cfg["seed"])
        self.G, self.D, self.prior = build_models(cfg, self.device)
        # The generator EMA (cfg ema = its decay): a shadow copy that follows G's weights and is what
        # the grids, the timeline, scoring and the zoo sample. It never feeds back into training.
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False).eval() if cfg["ema"] else None
        self.g_updates = 0  # generator updates so far (the EMA's warm-up counts them)
        self.opt_g = self._optimizer([{"params": list(self.G.parameters()), "lr": cfg["lr_g"]}]
                                     + ([{"params": list(self.prior.parameters()),
                                          "lr": cfg["lr_prior"] or cfg["lr_g"]}] if self.prior.learnable else []))
        self._d_params = list(self.D.parameters())
        self.opt_d = self._optimizer([{"params": self._d_params, "lr": cfg["lr_d"]}])
        self.data_rng = torch.Generator().manual_seed(cfg["seed"])
        self.loader = DeviceLoader("train", cfg["batch_size"], self.device, self.data_rng, limit=cfg["data_limit"] or None)
        self.step = self.epoch = self.batch_in_epoch = 0
        self.train_seconds = 0.0
        # Wall time of the run so far, everything included (data, logging, grids, records,
        # checkpoints); counted from this trainer's construction, carried over by a resume.
        # cfg max_seconds (> 0) ends the run, done, once it passes that budget.
        self._wall_base, self._wall_t0 = 0.0, time.perf_counter()
        self.time_up = False
        self.epoch_rng_state = self.data_rng.get_state()
        self._acc: dict[str, list] = {}
        self._norms: dict[str, torch.Tensor] = {}
        self._stop = False
        # Hooks for a driver (a sweep): on_epoch(trainer) after each epoch's checkpoint (a score
        # to report), stop_requested() -> True ends the run like SIGTERM (checkpoint, cancelled).
        self.on_epoch = None
        self.stop_requested = None
        self._g_norm_due = True
        self._flops: dict[str, int] = {}
        self._last_ckpt_step: int | None = None
        self._last_ckpt_time = _clock()
        self._weight_hist: dict | None = None
        self.recorder = None  # the timeline's (cfg eval_every), made at the first record of a run
        self.track = Tracking([])  # TensorBoard / MLflow mirrors of the run's records (core.track), per fit

    def _optimizer(self, groups):
        c = self.cfg
        if c["optimizer"] == "rmsprop":
            return torch.optim.RMSprop(groups, lr=groups[0]["lr"], foreach=True)
        return torch.optim.Adam(groups, lr=groups[0]["lr"], betas=(c["beta1"], c["beta2"]), fused=True)

    # ---- one critic step and one generator step -------------------------------------------
    def _labels_for_fakes(self, y_real):
        return y_real if self.v.conditioning in ("critic", "generator+critic") else None

    def critic_step(self, real: torch.Tensor, y_real: torch.Tensor, log: bool = False) -> dict:
        c, D = self.cfg, self.D
        with torch.no_grad():
            z, y_fake = self.prior.sample(real.shape[0], y=self._labels_for_fakes(y_real), device=self.device)
            fake = self.G(z, y_fake)
        loss, stats = losses.critic_loss(self.v.loss, D, real, y_real, fake, y_fake, c["san_lambda"])
        if self.v.lipschitz == "gp":
            gp = losses.gradient_penalty(D, real, fake, y_real if D.n_classes else None)
            loss = loss + c["gp_lambda"] * gp
            stats["gp"] = gp
        self.opt_d.zero_grad(set_to_none=True)
        # Gradients for the critic's parameters only (not for the leaf x̂ of the penalty).
        torch.autograd.backward(loss, inputs=self._d_params)
        if log:
            self._norms["grad_norm_d"] = _grad_norm(D)
        self.opt_d.step()
        if self.v.lipschitz == "clip":
            if log:  # the weights as the optimiser left them, before the clamp: written once per epoch
                self._weight_hist = {"step": self.step + 1, **losses.weight_histograms(D, c["clip"])}
            losses.clip_weights(D, c["clip"])
        stats["loss_d"] = loss
        return stats

    def generator_step(self, log: bool = False) -> dict:
        D = self.D
        D.requires_grad_(False)  # no critic weight gradients: about a third less work
        z, y = self.prior.sample(self.cfg["batch_size"], device=self.device)
        loss = losses.generator_loss(self.v.loss, D, self.G(z, y), y)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        D.requires_grad_(True)
        if log:
            self._norms["grad_norm_g"] = _grad_norm(self.G)
        self.opt_g.step()
        self.g_updates += 1
        if self.G_ema is not None:
            d = ema_decay(self.cfg["ema"], self.g_updates)
            with torch.no_grad():  # else each update would chain the EMA's weights into G's graph
                torch._foreach_lerp_(list(self.G_ema.parameters()), list(self.G.parameters()), 1.0 - d)
        return {"loss_g": loss}

    @property
    def sampler(self):
        """The generator that is sampled: the EMA one when it is on."""
        return self.G_ema if self.G_ema is not None else self.G

    def train_step(self, real, y_real, log: bool = False) -> None:
        self._accumulate(self._counted("critic", lambda: self.critic_step(real, y_real, log)))
        self._g_norm_due |= log  # the generator's gradient norm is read at its next step
        if (self.step + 1) % self.cfg["n_critic"] == 0:
            self._accumulate(self._counted("generator", lambda: self.generator_step(self._g_norm_due)))
            self._g_norm_due = False
        self.step += 1

    def _counted(self, name: str, fn):
        """The first critic and generator steps run under the FLOP counter (real steps,
        same numbers); later ones run bare."""
        if name in self._flops:
            return fn()
        self._flops[name], out = count_flops(fn)
        return out

    @property
    def flops_per_step(self) -> float | None:
        """Matmul FLOPs of one step: a critic update plus 1/n_critic of a generator update."""
        if len(self._flops) < 2:
            return None
        return self._flops["critic"] + self._flops["generator"] / self.cfg["n_critic"]

    def _accumulate(self, stats: dict) -> None:
        for k, v in stats.items():
            slot = self._acc.setdefault(k, [0.0, 0])
            slot[0] = slot[0] + v.detach()  # stays on the device: no sync per step
            slot[1] += 1

    @property
    def wall_seconds(self) -> float:
        return self._wall_base + time.perf_counter() - self._wall_t0

    def _out_of_time(self) -> bool:
        limit = self.cfg.get("max_seconds") or 0
        self.time_up = self.time_up or bool(limit and self.wall_seconds >= limit)
        return self.time_up

    # ---- the loop ---------------------------------------------------------------------------
    def fit(self, epochs: int | None = None, max_steps: int | None = None) -> str:
        """Train until `epochs` (total, counting resumed ones), the step limit cfg max_steps (total;
        `max_steps` sets it, 0 lifts it) or the wall-time budget cfg max_seconds; returns the final
        status: 'done' or 'cancelled'. Both limits are recorded in the run's config, so a resume
        honours them. Raises TrainingFailed on NaN/inf."""
        c = self.cfg
        total = self._begin(epochs, max_steps)
        epochs, steps_per_epoch = c["epochs"], len(self.loader)
        ckpt_s = 60 * c["ckpt_minutes"] if self.run else 0
        self._last_ckpt_time = _clock()
        old_handlers = _install_stop_handlers(self)
        timed = c["max_seconds"] > 0  # the budget, not the step count, is likely to end it: no step ETA
        bar = tqdm(total=None if timed else total, initial=min(self.step, total), disable=not self.progress,
                   unit="step", dynamic_ncols=True, mininterval=0.5,
                   desc=f"{c['variant']} (stops after {c['max_seconds']:g} s)" if timed else c["variant"])
        t_last, step_last = time.perf_counter(), self.step
        status = "done"
        try:
            while self.step < total and self.epoch < epochs and not self._out_of_time():
                if self.batch_in_epoch == 0:
                    self.epoch_rng_state = self.data_rng.get_state()
                else:  # resuming mid-epoch: replay this epoch's permutation
                    self.data_rng.set_state(self.epoch_rng_state)
                for real, y in self.loader.batches(start=self.batch_in_epoch):
                    log = (self.step + 1) % c["log_every"] == 0
                    t0 = time.perf_counter()
                    self.train_step(real, y, log)
                    self.batch_in_epoch += 1
                    self.train_seconds += time.perf_counter() - t0
                    bar.update(1)
                    if log:  # the window excludes logging, grids and checkpoints
                        self._log(img_s=(self.step - step_last) * c["batch_size"] / (time.perf_counter() - t_last),
                                  bar=bar)
                        t_last, step_last = time.perf_counter(), self.step
                        if self.stop_requested and self.stop_requested():
                            self._stop = True
                    if self._stop or self.step >= total or self._out_of_time():
                        break
                    if ckpt_s and _clock() - self._last_ckpt_time >= ckpt_s:  # bounds what a kill -9 loses
                        self.save_checkpoint()
                        t_last, step_last = time.perf_counter(), self.step
                if self._stop and self.step < total:
                    status = "cancelled"
                    break
                if self.batch_in_epoch >= steps_per_epoch:
                    self.epoch += 1
                    self.batch_in_epoch = 0
                    self._end_of_epoch(last=self.epoch >= epochs or self.step >= total or self._out_of_time())
                    t_last, step_last = time.perf_counter(), self.step
                if self.time_up:
                    break
            # A window cut short by a cancel is not logged: its sums travel in the checkpoint, so a
            # resumed run logs exactly the rows an uninterrupted one would. A run that is done
            # (--max-steps mid-window) logs it: nothing else would.
            if status == "done":
                self._log(bar=bar)
            if self._last_ckpt_step != self.step or self.time_up:  # its spent budget goes in the checkpoint
                self.save_checkpoint()
        except TrainingFailed:
            raise
        except OSError as exc:  # a full disk, a file-size limit, a folder that became read-only
            err = CheckpointError(f"could not write {exc.filename or 'to the run folder'} at step {self.step} "
                                  f"({exc.strerror or exc}); {self._kept()}{self._resume_hint()}")
            self._mark_failed(str(err))
            raise err from None
        except BaseException as exc:
            self._mark_failed(str(exc) if isinstance(exc, LabError) else f"{type(exc).__name__}: {exc}")
            raise
        finally:
            bar.close()
            _restore_handlers(old_handlers)
        if self.run:
            self._record_end(status)
        return status

    def _begin(self, epochs: int | None, max_steps: int | None) -> int:
        """fit's set-up: the asked limits recorded in the config (and the run's), the machine's
        matmul peak measured (once per process, before the clock starts); the total steps."""
        c = self.cfg
        asked = {k: v for k, v in (("epochs", epochs), ("max_steps", max_steps)) if v is not None and v != c[k]}
        if asked:
            c.update(make_config(c["variant"], {**{k: v for k, v in c.items() if k != "variant"}, **asked}))
            if self.run:
                self.run.update_config(c)
        steps = c["epochs"] * len(self.loader)
        total = steps if not c["max_steps"] else min(c["max_steps"], steps)
        if self.run:  # what it is doing, for a page polling a run whose step count has not moved yet
            self.run.set_status("running", total_steps=total, device=str(self.device),
                                phase="measuring this machine's matmul peak (once per process)")
        gemm_peak_gflops(str(self.device))
        if self.run:
            self.run.set_status("running", phase=f"training: the first curves come after {c['log_every']} steps")
            self.track = track_run(self.run)
            self.track.start(c, self.step)
        return total

    def _record_end(self, status: str) -> None:
        """The run's final status, with why it ended when that was not its epochs running out."""
        limit = self.cfg["max_steps"]
        why = ({"reason": "cancelled by user"} if status == "cancelled" else
               {"reason": f"its time budget (max_seconds {self.cfg['max_seconds']:g}) ran out"} if self.time_up
               else {"reason": f"its step limit (max_steps {limit}) was reached; resume with --max-steps 0 (or "
                               "more) to train on"} if limit and self.step >= limit else {})
        self.run.set_status(status, step=self.step, epoch=self.epoch, train_seconds=self.train_seconds,
                            wall_seconds=round(self.wall_seconds, 2), **why)
        self.track.end(status, self.step, None, self.run.checkpoint_path)

    def _end_of_epoch(self, last: bool) -> None:
        self._log()
        if self.run:
            self.run.set_status("running", phase=f"end of epoch {self.epoch}: sample grid, timeline record, "
                                                 "checkpoint")
            G = self.sampler
            G.eval()
            z, y = eval_noise(self.prior, self.cfg["seed"])
            with torch.no_grad():
                imgs = G(z, y)
            self.G.train()
            grid = self.run.samples_dir / f"epoch_{self.epoch:04d}.png"
            save_grid(imgs, grid, nrow=10)
            hist = None if self._weight_hist is None else {"epoch": self.epoch, "c": self.cfg["clip"], **self._weight_hist}
            if hist:
                self.run.log_weight_hist(hist)
            self.track.epoch(self.epoch, self.step, grid, hist)
            if self.cfg["eval_every"] and self.recorder is None:
                from core.train.recorder import Recorder
                self.recorder = Recorder(self.cfg, self.device)
            if self.recorder and self.recorder.due(self.epoch, last):
                self.track.log(self.step, float(self.epoch), self.recorder.record(self))
        if last or self.epoch % self.cfg["ckpt_every"] == 0:
            self.save_checkpoint()
        if self.on_epoch:
            self.on_epoch(self)

    def _log(self, img_s: float | None = None, bar=None) -> None:
        if not self._acc:
            return
        names = list(self._acc)
        means = torch.stack([torch.as_tensor(self._acc[k][0], dtype=torch.float32, device=self.device)
                             / self._acc[k][1] for k in names]).tolist()  # the one sync
        self._acc.clear()
        row = dict(zip(names, means))
        row.update({k: float(v) for k, v in self._norms.items()})
        self._norms.clear()
        bad = [k for k, v in row.items() if not math.isfinite(v)]
        if bad:
            self._fail(f"{', '.join(bad)} became {row[bad[0]]} by step {self.step}")
        if img_s:
            row["img_s"] = img_s
            if self.flops_per_step:
                gflops = img_s / self.cfg["batch_size"] * self.flops_per_step / 1e9
                row["gflops"] = gflops
                row["mfu"] = gflops / gemm_peak_gflops(str(self.device))
        if self.v.lipschitz == "clip":
            row.update(losses.clip_saturation(self.D, self.cfg["clip"]))
        row.update(self.prior.summary())
        if bar is not None:
            bar.set_postfix({k: f"{row[k]:.3g}" for k in ("loss_d", "loss_g", "img_s") if k in row}, refresh=False)
        if self.run:
            epoch_f = self.epoch + self.batch_in_epoch / max(1, len(self.loader))
            self.run.log(self.step, epoch_f, row)
            self.track.log(self.step, epoch_f, row)
            self.run.set_status("running", step=self.step, epoch=self.epoch, train_seconds=self.train_seconds,
                                phase="training")

    def _kept(self) -> str:
        return (f"the last checkpoint (step {self._last_ckpt_step}) is intact" if self._last_ckpt_step is not None
                else "no checkpoint had been written yet")

    def _resume_hint(self) -> str:
        if not self.run:
            return ""
        return (f"; free some space, then `python -m core train --resume {self.run.id}`"
                if self._last_ckpt_step is not None else
                f"; free some space, then `python -m core train --restart {self.run.id}`")

    def _mark_failed(self, reason: str) -> None:
        """Record the failure if the disk still takes a small write (a full disk may not)."""
        if self.run:
            try:
                self.run.set_status("failed", reason=reason, step=self.step, epoch=self.epoch)
            except OSError:
                pass
            self.track.end("failed", self.step, None, None)
            self.track = Tracking([])

    def _fail(self, reason: str):
        msg = f"training diverged: {reason}; {self._kept()}"
        self._mark_failed(msg)
        raise TrainingFailed(msg)

    # ---- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"format": ckpt_io.FORMAT, "config": self.cfg, "step": self.step, "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch, "train_seconds": self.train_seconds,
                "wall_seconds": self.wall_seconds, "G": self.G.state_dict(), "D": self.D.state_dict(),
                "prior": self.prior.state_dict(),
                **({"G_ema": self.G_ema.state_dict()} if self.G_ema is not None else {}), "g_updates": self.g_updates,
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                # the metrics window in progress: sums, counts and pending gradient norms
                "acc": {k: [torch.as_tensor(v[0]).detach().cpu(), v[1]] for k, v in self._acc.items()},
                "norms": {k: v.detach().cpu() for k, v in self._norms.items()}, "g_norm_due": self._g_norm_due,
                "rng": {"torch": torch.get_rng_state(), "data": self.data_rng.get_state(),
                        "data_epoch": self.epoch_rng_state,
                        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}}

    def load_state_dict(self, sd: dict) -> None:
        ckpt_io.load_module(self.G, sd["G"], "G")
        ckpt_io.load_module(self.D, sd["D"], "D")
        ckpt_io.load_module(self.prior, sd["prior"], "prior")
        if self.G_ema is not None:
            ckpt_io.load_module(self.G_ema, sd["G_ema"], "G_ema")
        self.g_updates = sd.get("g_updates", sd["step"] // self.cfg["n_critic"])
        self.opt_g.load_state_dict(sd["opt_g"])
        self.opt_d.load_state_dict(sd["opt_d"])
        self.step, self.epoch, self.batch_in_epoch = sd["step"], sd["epoch"], sd["batch_in_epoch"]
        self.train_seconds = sd["train_seconds"]
        self._wall_base, self._wall_t0 = sd.get("wall_seconds", sd["train_seconds"]), time.perf_counter()
        torch.set_rng_state(sd["rng"]["torch"])
        self.data_rng.set_state(sd["rng"]["data"])
        self.epoch_rng_state = sd["rng"]["data_epoch"]
        if sd["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(sd["rng"]["cuda"])
        self._acc = {k: [v[0].to(self.device), v[1]] for k, v in sd.get("acc", {}).items()}
        self._norms = {k: v.to(self.device) for k, v in sd.get("norms", {}).items()}
        self._g_norm_due = sd.get("g_norm_due", True)
        self._last_ckpt_step = self.step

    def save_checkpoint(self) -> None:
        if not self.run:
            return
        params = [*self.G.parameters(), *self.D.parameters(), *self.prior.parameters(),
                  *(self.G_ema.parameters() if self.G_ema is not None else ())]
        if not torch.stack([torch.isfinite(p).all() for p in params]).all():  # one sync
            self._fail("network weights are not finite")
        try:
            ckpt_io.save_atomic(self.state_dict(), self.run.checkpoint_path)
        except OSError as exc:  # the temp file is gone and the old checkpoint untouched
            raise CheckpointError(f"could not write the checkpoint at step {self.step} ({exc.strerror or exc}); "
                                  f"{self._kept()}{self._resume_hint()}") from None
        self._last_ckpt_step, self._last_ckpt_time = self.step, _clock()
        self.run.set_status("running", ckpt_step=self.step, ckpt_time=time.time())


def ema_decay(decay: float, n: int) -> float:
    """The EMA's decay at the n-th generator update: min(decay, (1 + n) / (10 + n)), a warm-up
    so the average is not dominated by the random initial weights (TensorFlow's
    ExponentialMovingAverage with num_updates). Each update: ema ← d·ema + (1 − d)·θ."""
    return min(decay, (1 + n) / (10 + n))


def _grad_norm(module) -> torch.Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads else torch.zeros(())


def _install_stop_handlers(trainer: Trainer):
    """SIGTERM/SIGINT finish the current step, checkpoint, and end the run as `cancelled`."""
    def handler(signum, frame):
        trainer._stop = True
    try:
        return {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread (e.g. inside a test runner thread)
        return {}


def _restore_handlers(old: dict) -> None:
    for s, h in old.items():
        signal.signal(s, h)
