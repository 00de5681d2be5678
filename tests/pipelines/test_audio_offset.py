"""The audio window's offset (CFN-SR drops the first 0.5 s): speech_window, load_waveform and FeatureConfig."""

import numpy as np
import pytest
import soundfile

from pipelines import audio
from pipelines.features import FeatureConfig


def test_start_window_from_an_offset():
    signal = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(audio.speech_window(signal, 4, "start", offset=3), signal[3:7])
    np.testing.assert_array_equal(audio.speech_window(signal, 4, "start", offset=8), [8, 9, 0, 0])
    np.testing.assert_array_equal(audio.speech_window(signal, 3, "start", offset=12), [0, 0, 0])
    np.testing.assert_array_equal(audio.speech_window(signal, 4, "start", offset=0), signal[:4])


@pytest.mark.parametrize("crop, offset, match", [("center", 2, "crop 'start' only"), ("start", -1, "offset"),
                                                 ("start", 1.5, "offset")])
def test_bad_offsets_are_refused(crop, offset, match):
    with pytest.raises(ValueError, match=match):
        audio.speech_window(np.zeros(10, np.float32), 4, crop, offset=offset)


def test_load_waveform_drops_the_first_seconds(tmp_path):
    path = tmp_path / "ramp.wav"
    samples = np.linspace(-0.9, 0.9, 16000).astype(np.float32)
    soundfile.write(path, samples, 8000, subtype="FLOAT")  # 2 s at 8 kHz
    window = audio.load_waveform(path, 8000, 4000, crop="start", offset_seconds=0.5)
    np.testing.assert_allclose(window, samples[4000:8000])


def test_feature_config_offset():
    assert FeatureConfig().audio_offset == 0.0
    config = FeatureConfig(audio_crop="start", audio_offset=0.5)
    assert FeatureConfig.from_dict(config.to_dict()) == config
    for changes in ({"audio_crop": "center", "audio_offset": 0.5}, {"audio_crop": "start", "audio_offset": -1.0},
                    {"audio_crop": "start", "audio_offset": float("inf")}, {"audio_crop": "start", "audio_offset": "1"}):
        with pytest.raises(ValueError, match="FeatureConfig.audio_offset"):
            FeatureConfig(**changes)
