"""Inference latency of an exported model: wall time of single-sample calls of its serving function."""

import time

import numpy as np


def serving_latency(serve, batches, input_names, samples=32):
    """Times `serve` on one sample at a time: {"median_ms", "p90_ms", "samples", "batch_size": 1}.

    serve: a callable taking keyword tensors (`avtfuse.export.load_serving`'s
    signature function). batches: an iterable of (inputs, labels) with batch
    size 1 (`SplitData.batches(split, 1)`). input_names: the keys of `inputs`
    that `serve` takes. The first call (tracing, first-run allocation) is not
    timed; then up to `samples` calls are, each to its end (outputs fetched).
    """
    timings = []
    for index, (inputs, _) in enumerate(batches):
        feed = {name: inputs[name] for name in input_names}
        if index == 0:
            serve(**feed)
            continue
        start = time.perf_counter()
        outputs = serve(**feed)
        for value in outputs.values():
            value.numpy()
        timings.append(time.perf_counter() - start)
        if len(timings) == samples:
            break
    if not timings:
        raise ValueError("batches: need two or more samples to time (the first call is a warm-up)")
    milliseconds = 1000.0 * np.asarray(timings)
    return {"median_ms": float(np.median(milliseconds)), "p90_ms": float(np.percentile(milliseconds, 90)),
            "samples": len(timings), "batch_size": 1}
