"""Tests for avtfuse.serving.raw_audio: per row of a padded batch, the in-graph speech window and features
against the pipeline (pipelines.audio.speech_window + pipelines.features.audio_features) for each crop and
feature kind, the trim threshold edge, real files (a broadcast WAV among them), and the LiteRT and ONNX
conversions of the graph."""

import os
import pathlib
import struct

import librosa
import numpy as np
import pytest
import soundfile
import tensorflow as tf

from avtfuse.serving import raw_audio
from pipelines import audio, features as pipeline_features
from pipelines.features import FeatureConfig

# The read-only set of real speech files (WAV/FLAC at several rates); never copied into the project.
ESPEAK_DIR = pathlib.Path(os.environ.get("AVTFUSE_ESPEAK_DIR", "/work/shared/data/espeak_speakers"))
TINY = {"sample_rate": 16000, "audio_samples": 4000, "n_mels": 16, "n_fft": 512, "hop_length": 128}  # 0.25 s
SIGNATURE = [tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None], tf.int32)]
LOG_MEL_TOLERANCE = 0.05  # dB, max abs
MFCC_TOLERANCE = 0.05  # max abs, MFCCs of dB values
# dB, max abs, converted against TF: LiteRT's RFFT2D and tf2onnx's DFT matmul round the quiet bins differently
# from TF's FFT (seen: up to 9.5e-4 LiteRT, 1.6e-3 ONNX).
CONVERTED_TOLERANCE = 2e-3


def _graph(features):
    """(audio_features, speech_windows) of `features` as one tf.function of dynamic batch and length."""
    return tf.function(lambda waveform, length: (raw_audio.audio_features(waveform, length, features),
                                                 raw_audio.speech_windows(waveform, length, features)),
                       input_signature=SIGNATURE)


def _pipeline(samples, features):
    """What the cache holds for float32 [N] samples: (features [frames, D], the window [audio_samples])."""
    window = audio.speech_window(samples, features.audio_samples, features.audio_crop, features.trim_db,
                                 round(features.audio_offset * features.sample_rate))
    return pipeline_features.audio_features(window[None], features).numpy()[0], window


def _speech(size, lead, trail, seed=0, rate=16000):
    """float32 [size]: modulated tones, with near-silence (noise at 1e-4) in the first `lead` and last `trail`."""
    rng = np.random.default_rng(seed)
    time = np.arange(size) / rate
    voiced = sum(0.2 * np.sin(2 * np.pi * f * time + rng.uniform(0, 6)) for f in (220.0, 700.0, 2100.0))
    voiced *= 1.0 + 0.6 * np.sin(2 * np.pi * 3.0 * time)
    voiced[:lead] = 1e-4 * rng.standard_normal(lead)
    voiced[size - trail:] = 1e-4 * rng.standard_normal(trail)
    return voiced.astype(np.float32)


def _padded(clips, size=None, seed=0):
    """float32 [B, size] rows with each clip first and garbage after it (values around 1e6, a NaN, an inf),
    and int32 [B] lengths."""
    size = size or max(len(c) for c in clips) + 1000
    rng = np.random.default_rng(seed)
    batch = (1e6 * rng.standard_normal((len(clips), size))).astype(np.float32)
    for row, clip in zip(batch, clips):
        row[:len(clip)] = clip
        row[len(clip):len(clip) + 2] = [np.nan, np.inf][:size - len(clip)]
    return batch, np.array([len(c) for c in clips], np.int32)


# A clip with leading and trailing silence (longer than the window), one shorter (by an odd count), one longer
# without silence, one of exactly the window, one of odd length.
CLIPS = [_speech(12000, 3000, 4000, seed=1), _speech(2501, 500, 300, seed=2), _speech(20001, 0, 0, seed=3),
         _speech(4000, 700, 0, seed=4), _speech(6543, 1500, 2100, seed=5)]


@pytest.mark.parametrize("crop, offset, kind", [("trim", 0.0, "log_mel"), ("center", 0.0, "log_mel"),
                                                ("start", 0.0, "log_mel"), ("start", 0.05, "mfcc"),
                                                ("trim", 0.0, "mfcc")])
def test_each_row_matches_the_pipeline_whatever_follows_its_length(crop, offset, kind):
    features = FeatureConfig(**TINY, audio_crop=crop, audio_offset=offset, audio_features=kind)
    graph = _graph(features)
    waveform, length = _padded(CLIPS)
    values, windows = (t.numpy() for t in graph(waveform, length))
    assert values.shape == (len(CLIPS), features.audio_frames, features.n_mfcc if kind == "mfcc" else 16)
    for row, clip in enumerate(CLIPS):
        expected, window = _pipeline(clip, features)
        np.testing.assert_array_equal(windows[row], window)
        tolerance = MFCC_TOLERANCE if kind == "mfcc" else LOG_MEL_TOLERANCE
        np.testing.assert_allclose(values[row], expected, rtol=0, atol=tolerance)
    other, _ = _padded(CLIPS, seed=9)  # other garbage, and a longer padding
    np.testing.assert_array_equal(graph(other, length)[0].numpy(), values)
    longer, _ = _padded(CLIPS, size=waveform.shape[1] + 777, seed=7)
    np.testing.assert_array_equal(graph(longer, length)[0].numpy(), values)


def test_trim_cuts_silence_that_center_keeps():
    """The trim rows above exercise trimming: the silent clip's trimmed window is not its centred one."""
    clip = CLIPS[0]
    trimmed, _ = librosa.effects.trim(clip, top_db=20.0, frame_length=2048, hop_length=512)
    assert 0 < len(trimmed) < len(clip) - 4000
    waveform, length = _padded([clip])
    windows = {crop: _graph(FeatureConfig(**TINY, audio_crop=crop))(waveform, length)[1].numpy()[0]
               for crop in ("trim", "center")}
    assert not np.array_equal(windows["trim"], windows["center"])


def _steps(quiet, loud=1.0, sizes=(6000, 6000, 6000)):
    """float32 [sum(sizes)]: constant `quiet`, `loud`, `quiet` samples."""
    return np.concatenate([np.full(n, v) for n, v in zip(sizes, (quiet, loud, quiet))]).astype(np.float32)


def test_trim_threshold_edge_matches_librosa():
    """Frames whose RMS sits exactly at, or within 1e-4 dB of, the -trim_db threshold are judged as
    librosa.effects.trim judges them (its float32 RMS and dB)."""
    margins = (-1e-4, -3e-5, 3e-5, 1e-4)
    clips = [_steps(np.float32(10.0 ** ((-20.0 + m) / 20.0))) for m in margins]
    clips += [_steps(1.0, 10.0), _steps(0.1)]  # at -20 dB exactly
    # a step at 20 log10(2^-5) = -30.10300 dB, 1e-4 dB below and above the threshold (4e-7 dB from -30.103: a tie
    # that float32 logs round either way, by CPU)
    clips += [_steps(2.0 ** -5, sizes=(5000, 7000, 6100))] * 2
    thresholds = [20.0] * (len(clips) - 2) + [30.1029, 30.1031]
    for top_db in sorted(set(thresholds)):
        rows = [c for c, t in zip(clips, thresholds) if t == top_db]
        features = FeatureConfig(**{**TINY, "audio_samples": 12000}, trim_db=top_db)
        windows = _graph(features)(*_padded(rows))[1].numpy()
        for row, clip in enumerate(rows):
            np.testing.assert_array_equal(windows[row], _pipeline(clip, features)[1])
    kept = [len(librosa.effects.trim(c, top_db=20.0, frame_length=2048, hop_length=512)[0]) for c in clips[:4]]
    assert kept[0] == kept[1] < kept[2] == kept[3]  # the margins fall on both sides of the threshold


def _broadcast_wav(path, samples, rate):
    """Writes int16 [N] samples as a WAV with a bext (EBU Tech 3285) chunk before its data chunk."""
    def chunk(name, payload):
        return name + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)
    bext = (b"avtfuse raw audio test".ljust(256, b"\0") + b"orig".ljust(32, b"\0") + b"ref".ljust(32, b"\0")
            + b"2026-01-01" + b"12:00:00" + struct.pack("<QH", 0, 1) + bytes(64) + bytes(190)
            + b"A=PCM,F=%d,W=16,M=mono\r\n" % rate)
    body = b"WAVE" + chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1, rate, 2 * rate, 2, 16)) + chunk(b"bext", bext) \
        + chunk(b"data", samples.astype("<i2").tobytes())
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def test_real_files_match_load_waveform(tmp_path):
    """A broadcast WAV (espeak speech at 16 kHz) and a 22.05 kHz float WAV, read by read_audio and resampled
    as the pipeline does, against pipelines.audio.load_waveform + the features, at the default n_fft and hop."""
    broadcast = tmp_path / "andy_02_bwf.wav"
    pcm, rate = soundfile.read(ESPEAK_DIR / "andy" / "andy_02.wav", dtype="int16")
    _broadcast_wav(broadcast, pcm, rate)
    assert b"bext" in broadcast.read_bytes()[:1000] and soundfile.info(broadcast).samplerate == 16000
    paths = [broadcast, ESPEAK_DIR / "andy" / "andy_08.wav"]
    features = FeatureConfig(sample_rate=16000, audio_samples=24000, n_mels=32)
    clips = [audio.resample(*audio.read_audio(p), features.sample_rate) for p in paths]
    values = _graph(features)(*_padded(clips))[0].numpy()
    for row, path in enumerate(paths):
        window = audio.load_waveform(path, features.sample_rate, features.audio_samples, features.audio_crop,
                                     features.trim_db, min_samples=features.n_fft)
        expected = pipeline_features.audio_features(window[None], features).numpy()[0]
        np.testing.assert_allclose(values[row], expected, rtol=0, atol=LOG_MEL_TOLERANCE)


def test_converts_to_litert_and_onnx_with_the_same_features():
    """The graph (trim log-mel, start + offset MFCC, center log-mel; dynamic batch and length) converts with
    TFLITE_BUILTINS only and with tf2onnx (opset 17); both runtimes give TF's features within CONVERTED_TOLERANCE on
    two batches of other shapes, rows of different lengths."""
    import onnxruntime
    import tf2onnx
    from ai_edge_litert.interpreter import Interpreter

    configs = [FeatureConfig(**TINY), FeatureConfig(**TINY, audio_crop="start", audio_offset=0.01,
                                                    audio_features="mfcc"), FeatureConfig(**TINY, audio_crop="center")]

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="waveform"),
                                  tf.TensorSpec([None], tf.int32, name="length")])
    def graph(waveform, length):
        return tuple(raw_audio.audio_features(waveform, length, c) for c in configs)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([graph.get_concrete_function()], graph)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = Interpreter(model_content=converter.convert())
    onnx_model, _ = tf2onnx.convert.from_function(graph, input_signature=graph.input_signature, opset=17)
    session = onnxruntime.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    batches = [_padded([CLIPS[0], CLIPS[1]], size=13000), _padded([CLIPS[3], CLIPS[4], CLIPS[1][:1800]], seed=3)]
    for waveform, length in batches:
        expected = [t.numpy() for t in graph(waveform, length)]
        inputs = {"waveform": waveform, "length": length}
        for detail in interpreter.get_input_details():
            interpreter.resize_tensor_input(detail["index"], inputs[detail["name"]].shape)
        interpreter.allocate_tensors()
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], inputs[detail["name"]])
        interpreter.invoke()
        litert = {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
        litert = [litert["Identity" + (f"_{i}" if i else "")] for i in range(len(configs))]
        onnx = session.run(None, inputs)
        for ours, theirs, converted in zip(expected, litert, onnx):
            np.testing.assert_allclose(theirs, ours, rtol=0, atol=CONVERTED_TOLERANCE)
            np.testing.assert_allclose(converted, ours, rtol=0, atol=CONVERTED_TOLERANCE)


def test_refuses_bad_arguments():
    features = FeatureConfig(**TINY)
    with pytest.raises(ValueError, match="waveform must be"):
        raw_audio.audio_features(np.zeros(8000, np.float32), np.array([8000], np.int32), features)
    with pytest.raises(ValueError, match="length"):
        raw_audio.audio_features(np.zeros((1, 8000), np.float32), np.int32(8000), features)
    with pytest.raises(TypeError, match="FeatureConfig"):
        raw_audio.audio_features(np.zeros((1, 8000), np.float32), np.array([8000], np.int32), TINY)
