"""Benchmarks: convolutions, training steps and the input pipeline, against PyTorch and Keras/TF.

    python -m benchmarks {conv,train,input,all} [--quick] [--json PATH] [--peers] [--chart PATH]

Every timing excludes compilation (reported separately), warms up, blocks until the result is
ready and reports the median of repeats over random inputs already on the device.
"""
