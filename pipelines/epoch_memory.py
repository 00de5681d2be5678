"""The memory of one training epoch: a synthetic feature cache of a given size and shapes (random features, no
media decoded) and the peak resident memory of reading one epoch of training batches from it
(python -m experiments.benchmark_memory)."""

import resource
import time

import numpy as np

from avtfuse.contract import MODALITIES
from pipelines import cache, split_data
from pipelines.batching import BatchPolicy, training_batches
from pipelines.dataset import DataConfig
from pipelines.recording import Recording

SPEAKINGFACES_RECORDINGS, SPEAKINGFACES_PEOPLE = 3473, 75


def synthetic_split(folder, features, recordings=SPEAKINGFACES_RECORDINGS, people=SPEAKINGFACES_PEOPLE, seed=0):
    """A SplitData (paper protocol) over a cache written to `folder` of `recordings` recordings of `people`
    people with every modality at `features`' shapes (a FeatureConfig), random values."""
    shapes = features.shapes(MODALITIES)
    written = [Recording(f"r{index:05d}", f"p{index % people:03d}") for index in range(recordings)]
    rng = np.random.default_rng(seed)

    def examples():
        for recording in written:
            yield recording, {m: rng.random(shapes[m], np.float32) for m in MODALITIES}

    def describe(kept):
        return dict(recordings=[r.recording for r in kept], people=[r.person for r in kept],
                    groups=[r.group_key for r in kept], splits=[None] * len(kept),
                    recorded=[[1] * len(MODALITIES)] * len(kept), skipped=[])

    path = cache.cache_path(folder, "features-synthetic")
    cache.write_cache(examples(), path, MODALITIES, shapes, describe)
    config = DataConfig(features=features, cache_dir=folder, seed=seed)
    return split_data.split_cache(config, path, written, MODALITIES)


def epoch_memory(data, batch_size, sampler="random", people_per_batch=8):
    """Reads one epoch (epoch 0) of training batches of `data`: {"samples", "steps", "seconds",
    "rss_before_epoch_gb" (resident now, before the epoch), "peak_rss_gb" (the process's peak resident memory
    after it: getrusage's ru_maxrss)}."""
    before = _resident_bytes()
    start = time.perf_counter()
    policy = BatchPolicy(batch_size, seed=0, sampler=sampler, people_per_batch=people_per_batch)
    batches, steps = training_batches(data, 0, policy)
    samples = sum(int(labels.shape[0]) for _, labels in batches)
    return {"samples": samples, "steps": steps, "seconds": round(time.perf_counter() - start, 1),
            "rss_before_epoch_gb": round(before / 1e9, 3),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, 3)}


def _resident_bytes():
    """The process's resident memory now (Linux /proc/self/statm), in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()
