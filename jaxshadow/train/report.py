"""What a run reports: WORKDIR/metrics.jsonl, TensorBoard summaries (CLU), a progress display.

metrics.jsonl holds one JSON object per logged step ({"step": s, "loss": ..., ...}); on resume
from step k, records of steps > k (written after the checkpoint that is resumed) are dropped,
so the file never holds two contradictory records of one step. Only process 0 writes.
"""

import json
import math
import os
import sys
import time

from jaxshadow import metric_names as names
from jaxshadow.files import atomic_write


NO_TENSORBOARD = ("TensorBoard summaries are off (TensorFlow and clu are not installed; "
                  "pip install 'jaxshadow[tf]' to get them); metrics.jsonl has every record")


def _tensorboard_writer(logdir, is_writer):
    """A CLU writer for TensorBoard; None where TensorFlow/TensorBoard are not installed."""
    from jaxshadow.data.tf_setup import import_tensorflow, tensorflow_available

    if not tensorflow_available():  # accelerator images often lack TensorFlow
        return None
    import_tensorflow()  # first, so that clu's TensorFlow never sees the GPUs
    try:
        from clu import metric_writers
    except ImportError:
        return None
    return metric_writers.create_default_writer(logdir, just_logging=not is_writer,
                                                asynchronous=True)


def _finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None


class Reporter:
    """Writes metrics to metrics.jsonl and TensorBoard, and shows progress."""

    def __init__(self, workdir, *, total_steps, start_step, is_writer=True, stream=None):
        self.is_writer = is_writer
        self.total_steps = total_steps
        self.path = os.path.join(workdir, "metrics.jsonl")
        self.stream = stream or sys.stderr
        self.writer = _tensorboard_writer(os.path.join(workdir, "tb"), is_writer)
        self._bar = None
        if is_writer:
            if self.writer is None:
                print(NO_TENSORBOARD, file=self.stream, flush=True)
            self._truncate_after(start_step)
            if self.stream.isatty():
                from tqdm import tqdm
                self._bar = tqdm(total=total_steps, initial=start_step, unit="step",
                                 dynamic_ncols=True, file=self.stream)
        self._last_step = start_step
        self._start_time = time.monotonic()
        self._start_step = start_step

    def _truncate_after(self, step):
        if not os.path.exists(self.path):
            return
        with open(self.path) as f:
            lines = [line for line in f if line.strip()]
        kept = []
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill
            if record.get("step", 0) <= step:
                kept.append(json.dumps(record) + "\n")
        atomic_write(self.path, "".join(kept))

    def log(self, step, scalars):
        """Records `scalars` (name -> number) at `step` everywhere."""
        if not self.is_writer:
            return
        record = {"step": int(step), **{k: _finite_or_none(v) for k, v in scalars.items()}}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            self.writer.write_scalars(int(step), {k: float(v) for k, v in scalars.items()})
        self._show(step, scalars)

    def images(self, step, images):
        """Writes image grids (name -> uint8/float (N, H, W, C)) to TensorBoard."""
        if self.is_writer and self.writer is not None:
            self.writer.write_images(int(step), images)

    def advance(self, step):
        """Moves the progress bar to `step`."""
        if self._bar is not None:
            self._bar.update(step - self._bar.n)

    def _show(self, step, scalars):
        text = " ".join(f"{k}={v:.4g}" for k, v in scalars.items()
                        if k in ("loss", "images_per_sec", "skipped_updates")
                        or k.startswith(names.EVAL_PREFIX))
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
            return
        elapsed = time.monotonic() - self._start_time
        done = step - self._start_step
        eta = elapsed / done * (self.total_steps - step) if done > 0 else float("nan")
        print(f"step {step}/{self.total_steps} {text} eta={eta:.0f}s", file=self.stream,
              flush=True)

    def message(self, text):
        """A line for the user, clear of the progress bar."""
        if not self.is_writer:
            return
        if self._bar is not None:
            self._bar.write(text)
        else:
            print(text, file=self.stream, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
