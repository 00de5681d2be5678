"""Shared fixtures of the pipelines tests: a tiny synthetic SpeakingFaces tree and its feature settings."""

import pytest

from pipelines.features import FeatureConfig
from pipelines.synthetic.speakingfaces import THERMAL_PALETTE, write_speakingfaces

# The synthetic tree's thermal frames are colour-mapped: name their palette.
TINY = FeatureConfig(audio_samples=4096, n_mels=16, n_fft=512, hop_length=256, image_size=(16, 16),
                     thermal_palette=THERMAL_PALETTE)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("sf")
    write_speakingfaces(root, subjects=(1, 2, 3), trials=(1, 2, 3), positions=(1,), commands=(1, 2),
                        image_size=16, audio_seconds=0.5, frames_per_recording=1)
    return str(root)
