"""Each of the paper's baselines builds, trains a step and exports, on a two-modality manifest."""

import json

import numpy as np
import pytest
import tensorflow as tf

from experiments import avtnet
from pipelines.manifest import write_manifest
from pipelines.recording import Recording
from pipelines.synthetic import write_speakingfaces


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("variants")
    written = write_speakingfaces(root / "sf", subjects=(1, 2, 3), trials=(1, 2), positions=(1,), commands=(1, 2),
                                  image_size=16, audio_seconds=0.5, frames_per_recording=1)
    recordings = [Recording(f"r{i}", str(w.subject), w.audio, None, w.thermal[0]) for i, w in enumerate(written)]
    return root, write_manifest(recordings, str(root / "manifest.csv"))


@pytest.mark.parametrize("variant, extra", [
    ("prop", ["--sampler", "pk", "--people-per-batch", "3"]),
    ("prop-1", ["--modality-dropout", "0.3"]), ("prop-2", []), ("prop-3", []), ("e2e", []), ("jer-1", []), ("jer-2", []),
    ("dense-triplet", []),
])
def test_variant_trains_and_exports(manifest, variant, extra):
    root, csv = manifest
    flags = ["--data", csv, "--thermal-palette", "inferno", "--modalities", "audio,thermal", "--variant", variant,
             "--image-size", "16",
             "--n-mels", "8", "--audio-seconds", "0.1", "--epochs-embed", "1", "--epochs-recognizer", "1",
             "--batch-size", "6", "--gpus", "0", "--verbose", "0", "--cache-dir", str(root / "cache"),
             "--output-dir", str(root / "runs"), "--saved-models-dir", str(root / "saved"),
             "--run-name", variant, *extra]
    avtnet.main(flags)
    results = json.loads((root / "runs" / variant / "results.json").read_text())
    assert results["variant"] == variant
    phases = ("end_to_end",) if variant == "e2e" else ("embeddings", "recognizer")
    assert all((root / "runs" / variant / f"{phase}.done").exists() for phase in phases)
    assert results["sampler"] == ("pk" if "pk" in extra else "random")
    assert set(results["conditions"]) >= {"complete", "only_audio", "only_thermal", "average"}
    serve = tf.saved_model.load(str(root / "saved" / variant)).signatures["serving_default"]
    frames, mels = json.loads((root / "runs" / variant / "config.json").read_text())["model"]["audio_shape"]
    out = serve(audio=tf.zeros([2, frames, mels]), thermal=tf.random.uniform([2, 16, 16, 1]),
                present=tf.constant([[0.0, 1.0], [0.0, 1.0]]))
    np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1.0, rtol=1e-5)
