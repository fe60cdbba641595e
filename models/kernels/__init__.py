"""The fast kernels: layers that compute the same function as the plain network of
models.builder (Keras's Conv2D, MaxPool2D, Dense and BatchNormalization, TensorFlow's
LRN) with less work on a CPU. The builder uses them unless asked for the plain layers (--kernels plain);
tests/test_kernels.py checks each against its plain form, outputs and gradients, and
docs/speed.md has their measurements.

  conv_pool.ConvMaxPool       conv, 3x3/2 max-pool, bias, ReLU as one layer; the first
                              layer computed only where its pool reads it
  lrn.FastLocalResponseNorm   LRN and its gradient, each one XLA loop
  batch_norm.FusedBatchNorm   Keras's batch normalisation as TensorFlow's fused kernel
  parts.in_parts              a batch through XLA's loops in cache-sized parts, side by
                              side on a CPU's cores
  carried.CarriedConv2D,      first layers computing with the input channels a run
  carried.CarriedDense        carries, the others (zero for every example) skipped
"""
