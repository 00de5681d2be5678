"""The two-phase trainer resumes a killed phase from its last epoch and skips finished phases."""

import keras
import numpy as np
import pytest

from avtfuse.models.avtnet import AVTNetConfig
from avtfuse.training.config import TrainConfig
from avtfuse.training.runtime import RuntimeConfig, setup_runtime
from avtfuse.training.trainer import TwoPhaseTrainer
from pipelines.dataset import DataConfig, prepare
from pipelines.features import FeatureConfig
from pipelines.synthetic import write_speakingfaces


class Killed(Exception):
    pass


class EpochRecorder(keras.callbacks.Callback):
    """Records the epochs run; raises Killed after `kill_after` epochs (None: never)."""

    def __init__(self, kill_after=None):
        super().__init__()
        self.kill_after = kill_after
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)
        if self.kill_after is not None and len(self.epochs) == self.kill_after:
            raise Killed()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("trainer")
    write_speakingfaces(root / "sf", subjects=(1, 2, 3), trials=(1, 2), positions=(1,), commands=(1, 2),
                        image_size=16, audio_seconds=0.5, frames_per_recording=1)
    features = FeatureConfig(audio_samples=4096, n_mels=8, n_fft=512, hop_length=256, image_size=(16, 16))
    return prepare(DataConfig(source=str(root / "sf"), features=features, cache_dir=str(root / "cache")))


def make_trainer(data, run_dir, recorder, monkeypatch):
    original = TwoPhaseTrainer._callbacks
    monkeypatch.setattr(TwoPhaseTrainer, "_callbacks", lambda self, phase, extra=(): original(self, phase, extra) + [recorder])
    config = AVTNetConfig(audio_shape=(17, 8), image_size=(16, 16))
    runtime = setup_runtime(RuntimeConfig(gpus=0))
    return TwoPhaseTrainer(config, TrainConfig(epochs_embed=3, epochs_recognizer=2, batch_size=8), data, runtime,
                           str(run_dir), verbose=0)


def test_killed_phase_resumes_from_its_last_epoch(data, tmp_path, monkeypatch):
    first = EpochRecorder(kill_after=2)
    with pytest.raises(Killed):
        make_trainer(data, tmp_path, first, monkeypatch).train_embeddings()
    assert first.epochs == [0, 1]
    second = EpochRecorder()
    model = make_trainer(data, tmp_path, second, monkeypatch).train_embeddings()
    assert second.epochs == [2]  # only the epoch the kill cost
    assert (tmp_path / "phase1" / "embedding.keras").exists()
    third = EpochRecorder()
    again = make_trainer(data, tmp_path, third, monkeypatch).train_embeddings()
    assert third.epochs == []  # a finished phase is loaded, not trained
    x, _ = next(iter(data.batches("test", 4)))
    np.testing.assert_allclose(again(x)["joint"], model(x)["joint"], rtol=1e-5, atol=1e-6)


def test_run_gives_test_embeddings_aligned_with_labels(data, tmp_path, monkeypatch):
    embeddings, labels, present = make_trainer(data, tmp_path, EpochRecorder(), monkeypatch).run()[2]
    assert len(embeddings) == len(labels) == len(present) == data.count("test")
    assert embeddings.shape[1] == 4 * 256
    expected = np.concatenate([y.numpy() for _, y in data.batches("test", 8)])
    np.testing.assert_array_equal(labels, expected)
