"""Training speed through the real pipeline on a features manifest of random `.npy` features (the benchmark's
manifest row): the manifest written, the data prepared and split, the run's training batches, the main phase's
model, seconds per epoch and per batch."""

import csv
import os
import tempfile
import time

import keras
import numpy as np

# The features manifest of the MCT-HFR row (issue 30): per clip an audio `.npy` [259, 1] and a visible `.npy`
# [1, 35], 8 classes, 1,080 clips of 24 subjects.
MANIFEST_SHAPES = {"audio": (259, 1), "visible": (1, 35)}
MANIFEST_CLASSES = 8
MANIFEST_SUBJECTS = 24


def write_features_manifest(folder, clips, rng, shapes=None, classes=MANIFEST_CLASSES, subjects=MANIFEST_SUBJECTS):
    """Writes a features manifest of `clips` recordings of random standard-normal float32 `.npy` features into
    `folder` (manifest.csv and features/): per clip one file per modality of `shapes` ({modality: shape};
    default MANIFEST_SHAPES), class `clip % classes` (the `person` column), subject `clip % subjects + 1`.
    Returns the manifest's path."""
    shapes = MANIFEST_SHAPES if shapes is None else shapes
    os.makedirs(os.path.join(folder, "features"), exist_ok=True)
    path = os.path.join(folder, "manifest.csv")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["person", "recording", "audio", "visible", "thermal", "subject"])
        for clip in range(clips):
            cells = {}
            for modality, shape in shapes.items():
                cells[modality] = os.path.join("features", f"{modality}_{clip}.npy")
                np.save(os.path.join(folder, cells[modality]), rng.standard_normal(shape).astype("float32"))
            writer.writerow([f"class{clip % classes}", f"clip{clip}", cells.get("audio", ""),
                             cells.get("visible", ""), cells.get("thermal", ""), clip % subjects + 1])
    return path


class _EpochTimer(keras.callbacks.Callback):
    """Records each epoch's wall seconds in `seconds`."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def manifest_training_speed(system_name, preset, clips, epochs=2, cache_dir=None, seed=0):
    """Seconds per epoch and per batch of `system_name` trained at `preset` on a features manifest of `clips`
    random clips (`write_features_manifest`), through the real pipeline as a run reads it: the data prepared
    and split as `--data manifest.csv` (pipelines.dataset.prepare, the preset's protocol), the run's training
    batches (RecipeContext.training_batches: sampler, step dropout), the main phase's model (PHASE_MODELS),
    `epochs` epochs of Keras fit. The first epoch holds the tracing; the last is the steady one.

    Returns {"clips", "training_samples", "steps_per_epoch", "batch_size", "prepare_seconds",
    "first_epoch_seconds", "epoch_seconds", "seconds_per_batch", "pipeline_epoch_seconds" (one epoch of
    batches read alone)}. The manifest and its cache live in a temporary folder (under `cache_dir`, made when
    missing)."""
    from avtfuse.models import SYSTEMS
    from avtfuse.runs.config import build_experiment
    from avtfuse.runs.state import resolve
    from avtfuse.training.recipes import PHASE_MODELS, RecipeContext
    from pipelines.dataset import prepare

    if cache_dir is not None:
        os.makedirs(cache_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as folder:
        manifest = write_features_manifest(folder, clips, np.random.default_rng(seed))
        config = build_experiment(system_name, preset=preset,
                                  data={"source": manifest, "cache_dir": os.path.join(folder, "cache")},
                                  train={"epochs_embed": epochs, "seed": seed})
        start = time.perf_counter()
        data = prepare(config.data)
        prepare_seconds = time.perf_counter() - start
        config = resolve(config, data)
        system = SYSTEMS[system_name]
        variant = system.variants[config.variant]
        context = RecipeContext(system, variant, config.model, config.train, data, runtime=None, runner=None)
        start = time.perf_counter()
        for _ in context.training_batches(0)[0]:
            pass
        pipeline_seconds = time.perf_counter() - start
        keras.utils.set_random_seed(seed)
        model, compiled = PHASE_MODELS[variant.recipe](context, data.num_people, data.config.missing_fill)
        steps = context.steps_per_epoch()
        model.compile(optimizer=context.optimizer(steps), **compiled)
        model.adapt(data.fit_samples(seed))
        batches = context.training_batches(0)[0]
        for epoch in range(1, epochs):
            batches = batches.concatenate(context.training_batches(epoch)[0])
        timer = _EpochTimer()
        model.fit(batches, epochs=epochs, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    return {"clips": clips, "training_samples": steps * config.train.batch_size, "steps_per_epoch": steps,
            "batch_size": config.train.batch_size, "prepare_seconds": round(prepare_seconds, 2),
            "pipeline_epoch_seconds": round(pipeline_seconds, 2),
            "first_epoch_seconds": round(timer.seconds[0], 2), "epoch_seconds": round(timer.seconds[-1], 2),
            "seconds_per_batch": round(timer.seconds[-1] / steps, 3)}
