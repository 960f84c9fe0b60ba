"""Double-buffered input: the next global batch is on its way to the devices while a step runs.

`DevicePrefetch(local_batches, mesh, size)` yields the same global batches, in the same order, as
`global_batch(b, mesh) for b in local_batches`, but keeps `size` of them already transferred
(`make_array_from_process_local_data` starts the host-to-device copies and returns at once), so
step s computes while batch s + 1 is copied. The host pipeline behind it (tf.data or the NumPy
thread pool) already reads ahead on its own threads.

`wait_seconds` is the time the training loop spent blocked on `next()`: the time the devices
could have been idle for want of data. The loop logs it as `data_wait_frac`, the fraction of an
interval's wall time spent waiting; a value near 0 means the input keeps up with the step.
"""

import collections
import time

from jaxshadow.train.mesh import global_batch


class DevicePrefetch:
    """Iterator of global batches (dicts of jax.Array), `size` ahead of the consumer."""

    def __init__(self, local_batches, mesh, size=2):
        if size < 1:
            raise ValueError(f"prefetch size must be >= 1, got {size}")
        self._source = iter(local_batches)
        self._mesh = mesh
        self._size = size
        self._ready = collections.deque()
        self._exhausted = False
        self.wait_seconds = 0.0

    def _fill(self):
        while not self._exhausted and len(self._ready) < self._size:
            try:
                local = next(self._source)
            except StopIteration:
                self._exhausted = True
                return
            self._ready.append(global_batch(local, self._mesh))

    def __iter__(self):
        return self

    def __next__(self):
        start = time.monotonic()
        self._fill()  # batch s and the copies of s + 1 .. s + size - 1 are under way
        self.wait_seconds += time.monotonic() - start
        if not self._ready:
            raise StopIteration
        return self._ready.popleft()

    def take_wait_seconds(self):
        """Returns the wait accumulated since the last call and resets it."""
        waited, self.wait_seconds = self.wait_seconds, 0.0
        return waited
