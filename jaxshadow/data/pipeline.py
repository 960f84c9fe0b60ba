"""The input pipeline: the batch at step s is a pure function of (seed, s).

    position p = s·B + j                  (j-th example of global step s, batch size B)
    epoch e = p // N,  offset o = p mod N (N examples in the split)
    example(s, j) = permutation(seed, e)[o]

so a run restarted at step k reads exactly the batches the uninterrupted run would have read,
with no iterator state to save. Each of P processes reads only its contiguous share of the
global batch, rows [i·B/P, (i+1)·B/P). Three readers give identical batches: tf.data (parallel
reads and prefetch), a NumPy reader with a thread pool (for machines without TensorFlow), and
Grain (`grain.MapDataset` over steps, optionally in worker processes; the default for
`prepared:DIR` sets, which stream from disk). None of them keeps iterator state: Grain's own
checkpointable iterator is not needed because the batch of a step is recomputed from
(seed, step), and a change of process count only changes which rows each process reads.
Evaluation walks a split in order, pads the last batch and marks padding rows with valid = 0,
so every process runs the same number of evaluation steps.
"""

import concurrent.futures
import functools
import queue
import threading

import numpy as np

from jaxshadow.data.tf_setup import import_tensorflow, tensorflow_available
from jaxshadow.errors import UserError


@functools.lru_cache(maxsize=4)
def epoch_permutation(seed, epoch, num_examples):
    """The order of the split's examples in `epoch`: a permutation drawn from (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(num_examples)


def step_indices(seed, step, batch_size, num_examples):
    """Example indices of the global batch at `step`: int64 (batch_size,)."""
    positions = np.arange(step * batch_size, (step + 1) * batch_size, dtype=np.int64)
    epochs, offsets = np.divmod(positions, num_examples)
    indices = np.empty_like(positions)
    for epoch in np.unique(epochs):
        rows = epochs == epoch
        indices[rows] = epoch_permutation(seed, int(epoch), num_examples)[offsets[rows]]
    return indices


def process_rows(batch_size, process_index, process_count):
    """The slice of a global batch's rows that process `process_index` reads."""
    if batch_size % process_count:
        raise UserError(f"batch size {batch_size} does not divide over {process_count} processes")
    local = batch_size // process_count
    return slice(process_index * local, (process_index + 1) * local)


def resolve_reader(reader, source=None):
    """'auto' -> 'grain' for a prepared set, else 'tf' when TensorFlow is installed, else
    'numpy'; other names unchanged (`jaxshadow.validate` checks the value)."""
    if reader == "auto":
        from jaxshadow.data.prepared_source import PreparedSource

        if isinstance(source, PreparedSource):
            return "grain"
        return "tf" if tensorflow_available() else "numpy"
    return reader


def _stack(examples):
    return {k: np.stack([e[k] for e in examples]) for k in examples[0]}


class _Prefetch:
    """Runs an iterator in a background thread, `depth` items ahead."""

    def __init__(self, iterator, depth=2):
        self._queue = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._fill, args=(iterator,), daemon=True)
        self._thread.start()

    def _fill(self, iterator):
        try:
            for item in iterator:
                self._queue.put((item, None))
        except BaseException as e:  # re-raised in the consumer's thread
            self._queue.put((None, e))
            return
        self._queue.put((None, StopIteration()))

    def __iter__(self):
        return self

    def __next__(self):
        item, error = self._queue.get()
        if error is not None:
            raise error
        return item


def _numpy_batches(source, split, local_indices, workers=8):
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for indices in local_indices:
            yield _stack(list(pool.map(lambda i: source.read(split, i), indices)))


def _tf_batches(source, split, first, last, indices_of, local_batch):
    tf = import_tensorflow()
    steps = tf.data.Dataset.range(first, last)
    indices = steps.map(lambda s: tf.ensure_shape(
        tf.numpy_function(indices_of, [s], tf.int64, stateful=False), [local_batch]))
    examples = indices.unbatch().map(lambda i: source.read_tf(split, i),
                                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    batches = examples.batch(local_batch, drop_remainder=True).prefetch(2)
    options = tf.data.Options()
    options.deterministic = True
    return batches.with_options(options).as_numpy_iterator()


class _ReadStep:
    """step -> this process's rows of the global batch of that step (a dict of NumPy arrays).

    A plain object, so Grain can send it to its worker processes (with a picklable source).
    """

    def __init__(self, source, split, seed, batch_size, rows):
        self.source, self.split, self.seed = source, split, seed
        self.batch_size, self.rows = batch_size, rows
        self.num_examples = source.num_examples(split)

    def __call__(self, step):
        indices = step_indices(self.seed, int(step), self.batch_size, self.num_examples)
        return _stack([self.source.read(self.split, i) for i in indices[self.rows]])


def _grain_batches(read_step, first, last, workers):
    import grain
    from absl import flags

    if not flags.FLAGS.is_parsed():  # Grain's workers read absl flags; a library parses none
        flags.FLAGS.mark_as_parsed()
    steps = grain.MapDataset.range(first, last).map(read_step)
    batches = steps.to_iter_dataset(grain.ReadOptions(num_threads=4, prefetch_buffer_size=4))
    if workers:
        batches = batches.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
    return iter(batches)


def train_batches(source, split, *, seed, batch_size, start_step, num_steps, reader="auto",
                  process_index=0, process_count=1, workers=0):
    """Yields this process's share of the batches for steps start_step .. num_steps-1.

    Each batch is a dict of NumPy arrays with a leading axis of batch_size / process_count.
    workers: the Grain reader's worker processes (0: threads in this process).
    """
    n = source.num_examples(split)
    if n == 0:
        raise UserError(f"source '{source.name}' has no examples in split '{split}'")
    rows = process_rows(batch_size, process_index, process_count)

    def indices_of(step):
        return step_indices(seed, int(step), batch_size, n)[rows]

    reader = resolve_reader(reader, source)
    if reader == "grain":
        return _grain_batches(_ReadStep(source, split, seed, batch_size, rows), start_step,
                              num_steps, workers)
    if reader == "tf":
        return _tf_batches(source, split, start_step, num_steps, indices_of,
                           rows.stop - rows.start)
    local = (indices_of(s) for s in range(start_step, num_steps))
    return _Prefetch(_numpy_batches(source, split, local))


def eval_batches(source, split, *, batch_size, process_index=0, process_count=1):
    """Yields this process's share of the split in order, in padded batches with 'valid' rows.

    Every process yields ceil(N / batch_size) batches; padding rows repeat example 0.
    """
    n = source.num_examples(split)
    rows = process_rows(batch_size, process_index, process_count)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for start in range(0, n, batch_size):
            positions = np.arange(start, start + batch_size)[rows]
            valid = positions < n
            indices = np.where(valid, positions, 0)
            batch = _stack(list(pool.map(lambda i: source.read(split, i), indices)))
            batch["valid"] = valid.astype(np.float32)
            yield batch


def num_eval_batches(source, split, batch_size):
    """How many batches `eval_batches` yields."""
    return -(-source.num_examples(split) // batch_size)
