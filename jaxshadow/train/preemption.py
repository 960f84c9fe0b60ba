"""SIGTERM / SIGINT during training: finish the step, save, exit cleanly.

    stop = StopRequest()                  # installs the handlers (main thread only)
    ... every step: if stop.after(step, sync=...): save at `step` and leave the loop
    stop.close()                          # restores the previous handlers

One process: the handler sets a flag and the loop stops after the step in progress. A second
SIGINT raises KeyboardInterrupt (the user insists). Several processes must all stop after the
same step: SIGTERM goes through JAX's preemption service (`reached_preemption_sync_point`, which
picks a step every process reaches; it is enabled by `jax.distributed.initialize`), and a
SIGINT flag is combined over processes at the steps where `sync` is true (every process passes
the same `sync` values).
"""

import signal
import threading

import jax
import numpy as np
from jax.experimental import multihost_utils


class StopRequest:
    """Whether a signal asked the run to stop; see the module docstring."""

    def __init__(self):
        self.signal_name = None
        self._multi = jax.process_count() > 1
        self._service = self._multi and bool(jax.config.jax_enable_preemption_service)
        self._previous = {}
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be installed from the main thread
        signals = [signal.SIGINT] + ([] if self._service else [signal.SIGTERM])
        for sig in signals:
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        del frame
        if self.signal_name is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name

    def after(self, step, *, sync):
        """True when every process should stop after `step` (the same answer on each)."""
        if not self._multi:
            return self.signal_name is not None
        if self._service:
            try:
                if multihost_utils.reached_preemption_sync_point(step):
                    self.signal_name = self.signal_name or "SIGTERM"
                    return True
            except RuntimeError:  # the preemption service is not running
                self._service = False
        if sync:
            flags = multihost_utils.process_allgather(np.int32(self.signal_name is not None))
            if flags.max():
                self.signal_name = self.signal_name or "a signal on another process"
                return True
        return False

    def close(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
