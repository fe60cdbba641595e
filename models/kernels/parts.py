"""A batch through XLA's compiled loops in parts, side by side on a CPU's cores."""

import tensorflow as tf

import runtime

# On a CPU a part holds at most this many examples: the parity path's planes of a part
# (200 KB an example for 64 filters on 28x28) then stay in the cache between the loops
# that make and read them, and XLA's buffers for them are smaller. Measured for
# `conv fc` at batch 100, paired against a part per core (two): 7 parts trained 1.15x
# and evaluated 1.17x as fast, 9 parts 1.16x and 1.14x, 10 parts 1.15x and 1.18x, 12
# parts 1.12x and 1.11x, 20 parts 1.08x and 1.06x; the first evaluation's resident
# memory was 1,002 MiB whole, 892 in two parts, 885 in 7 (15 and 14 examples), 819 in
# 10 equal parts.
PART_EXAMPLES = 16
# What a batch whose size is known only when it runs is split for: evaluation's
# (training.steps.EVAL_BATCH; a test keeps them equal).
UNKNOWN_BATCH = 100


def _parts(batch: int) -> int:
    """Into how many parts `in_parts` splits a batch of `batch` examples: one where a GPU
    runs the work; on a CPU, one per core (at most 8) or more, of at most
    PART_EXAMPLES examples each, and of equal sizes where a count up to twice as many
    divides the batch (each size of part is compiled, and holds its own buffers)."""
    if tf.config.list_logical_devices("GPU"):
        return 1
    least = max(min(runtime.usable_cpus(), 8), -(-batch // PART_EXAMPLES))
    return next((parts for parts in range(least, 2 * least + 1) if batch % parts == 0), least)


def in_parts(function, inputs: tf.Tensor, *more: tf.Tensor) -> tf.Tensor:
    """`function` of a batch (`inputs`, and `more` tensors of the same examples), computed
    on parts of it that TensorFlow runs side by side.

    XLA's compiled loops run on one CPU core each (measured: the same time with one
    intra-op thread as with two), so on a CPU the batch is split into parts, at least
    one per core and small enough to stay in the cache (PART_EXAMPLES), and the parts'
    results concatenated (`function` must treat examples independently). A batch
    whose size is known only when it runs (evaluation's, from tf.data) is split then,
    into as many parts as UNKNOWN_BATCH would be, some empty if it is smaller."""
    batch = inputs.shape[0]
    parts = _parts(batch or UNKNOWN_BATCH)
    if parts < 2 or (batch is not None and batch < parts):
        return function(inputs, *more)
    if batch is None:
        batch = tf.shape(inputs)[0]
        sizes = batch // parts + tf.cast(tf.range(parts) < batch % parts, batch.dtype)
    else:
        sizes = [batch // parts + (i < batch % parts) for i in range(parts)]
    split = [tf.split(x, sizes, num=parts) for x in (inputs, *more)]
    return tf.concat([function(*part) for part in zip(*split)], axis=0)
