"""Tests for pipelines/features.py: settings, `.npy` feature shapes, decoding in threads, fingerprints."""

import dataclasses
import pathlib

import cv2
import librosa
import numpy as np
import pytest
import soundfile as sf

from pipelines import audio, features, image
from pipelines.errors import DataError, ErrorPolicy
from pipelines.features import (
    FeatureConfig,
    data_shapes,
    decode_recording,
    extract_features,
    fingerprint,
)
from pipelines.recording import Recording

# 8 kHz audio cut to 2048 samples -> 17 x 8 log-mel; 8 x 8 frames.
TINY = FeatureConfig(sample_rate=8000, audio_samples=2048, n_mels=8, n_fft=256, hop_length=128,
                     image_size=(8, 8), thermal_palette="grey")
MODALITIES = ("audio", "visible", "thermal")


def write_wav(path, seconds=0.3, rate=8000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * (200 + 40 * seed) * t) + 0.05 * rng.normal(size=t.size)
    sf.write(str(path), wave.astype(np.float32), rate, subtype="PCM_16")
    return str(path)


def write_png(path, channels=3, size=12, seed=0):
    rng = np.random.default_rng(seed)
    shape = (size, size, channels) if channels > 1 else (size, size)
    cv2.imwrite(str(path), rng.integers(0, 256, shape, dtype=np.uint8))
    return str(path)


def write_npy(path, array):
    np.save(str(path), np.asarray(array))
    return str(path)


@pytest.fixture
def media(tmp_path):
    """Three recordings of wav + colour png + grey png."""
    recordings = []
    for i in range(3):
        recordings.append(Recording(
            f"r{i}", f"p{i % 2}", audio=write_wav(tmp_path / f"a{i}.wav", seed=i),
            visible=write_png(tmp_path / f"v{i}.png", 3, seed=i), thermal=write_png(tmp_path / f"t{i}.png", 1, seed=i)))
    return recordings


# ---------------------------------------------------------------- settings


def test_feature_config_shapes_and_checks():
    assert TINY.audio_frames == 17
    assert TINY.shapes(("thermal", "audio")) == {"audio": (17, 8), "thermal": (8, 8, 1)}
    assert FeatureConfig.paper().shapes(MODALITIES) == {
        "audio": (589, 128), "visible": (224, 224, 3), "thermal": (224, 224, 1)}
    assert FeatureConfig().thermal_palette == "auto"  # settled from the frames (pipelines.palette_choice)
    for field, value in [("audio_crop", "middle"), ("image_size", (4, 16)), ("thermal_palette", "rainbowish"),
                         ("trim_db", 0), ("n_mels", 0)]:
        with pytest.raises(ValueError, match=f"FeatureConfig.{field}"):
            FeatureConfig(**{field: value})
    assert FeatureConfig.from_dict(TINY.to_dict()) == TINY


def test_feature_config_sequence_shapes_and_checks():
    sa_fusion = FeatureConfig(sample_rate=22050, audio_samples=79380, n_mels=128, audio_features="mfcc", frames=15,
                              image_size=(64, 64), frame_crop="center")
    assert sa_fusion.shapes(MODALITIES) == {
        "audio": (156, 10), "visible": (15, 64, 64, 3), "thermal": (15, 64, 64, 1)}
    assert TINY.replace(audio_features="mfcc", n_mfcc=5).shapes(("audio",)) == {"audio": (17, 5)}
    assert TINY.replace(n_mfcc=20).shapes(("audio",)) == {"audio": (17, 8)}  # n_mfcc unused by log_mel
    assert FeatureConfig.from_dict(sa_fusion.to_dict()) == sa_fusion
    for field, value in [("audio_features", "mel"), ("n_mfcc", 0), ("frames", -1), ("frames", 1.5),
                         ("frame_seconds", 0), ("frame_seconds", float("inf")), ("frame_crop", "face")]:
        with pytest.raises(ValueError, match=f"FeatureConfig.{field}"):
            FeatureConfig(**{field: value})
    with pytest.raises(ValueError, match="FeatureConfig.n_mfcc: expected at most n_mels = 8"):
        TINY.replace(audio_features="mfcc", n_mfcc=9)


# ---------------------------------------------------------------- .npy feature shapes


def test_data_shapes_of_media_files_come_from_the_settings(media):
    assert data_shapes(media, MODALITIES, TINY) == TINY.shapes(MODALITIES)


def test_data_shapes_of_feature_files_come_from_the_files(tmp_path, media):
    # audio as [T, D] with varying T (the longest wins), visible as [D]; thermal stays media.
    steps = [3, 7, 5]
    recordings = [
        Recording(r.recording, r.person, audio=write_npy(tmp_path / f"a{i}.npy", np.ones((t, 4))),
                  visible=write_npy(tmp_path / f"v{i}.npy", np.ones(6)), thermal=r.thermal)
        for i, (r, t) in enumerate(zip(media, steps))]
    shapes = data_shapes(recordings, MODALITIES, TINY)
    assert shapes == {"audio": (7, 4), "visible": (6,), "thermal": (8, 8, 1)}


def test_data_shapes_follow_the_common_layout_and_ignore_other_files(tmp_path):
    good = [write_npy(tmp_path / f"g{i}.npy", np.zeros((t, 4))) for i, t in enumerate((2, 3, 5))]
    other = write_npy(tmp_path / "other.npy", np.zeros((9, 7)))  # another D, and the longest T
    flat = write_npy(tmp_path / "flat.npy", np.zeros(4))  # another rank
    broken = tmp_path / "broken.npy"
    broken.write_bytes(b"not a numpy file at all")
    cube = write_npy(tmp_path / "cube.npy", np.zeros((2, 3, 4)))  # rank 3 is no feature layout: not a crash
    paths = good + [other, flat, str(broken), cube]
    recordings = [Recording(f"r{i}", "p", audio=path) for i, path in enumerate(paths)]
    # The other files' T does not count: the set's T is the longest of the common layout.
    shapes = data_shapes(recordings, ("audio",), TINY)
    assert shapes == {"audio": (5, 4)}
    for path in (other, flat, cube):  # each is refused once, when decoded, naming this set's layout
        with pytest.raises(DataError, match=r"this set's are \[T, D\] = \[5, 4\]"):
            decode_recording(Recording("r", "p", audio=path), ("audio",), TINY, shapes)
    with pytest.raises(DataError, match="cannot read features"):
        decode_recording(Recording("r", "p", audio=str(broken)), ("audio",), TINY, shapes)


# ---------------------------------------------------------------- decoding


def test_decode_recording_pads_features_at_the_end(tmp_path):
    values = np.arange(12, dtype=np.float64).reshape(3, 4)
    rec = Recording("r", "p", audio=write_npy(tmp_path / "a.npy", values),
                    visible=write_npy(tmp_path / "v.npy", np.arange(5)))
    decoded = decode_recording(rec, ("audio", "visible"), TINY, {"audio": (6, 4), "visible": (5,)})
    assert decoded["audio"].dtype == np.float32 and decoded["audio"].shape == (6, 4)
    np.testing.assert_array_equal(decoded["audio"][:3], values)
    np.testing.assert_array_equal(decoded["audio"][3:], 0)
    np.testing.assert_array_equal(decoded["visible"], np.arange(5))
    # The real length of the padded sequence is kept (the cache's `steps`); a vector has none.
    assert decoded.steps == {"audio": 3}


def test_sequence_length_marks_shapes_with_a_time_axis():
    assert [features.sequence_length(shape) for shape in [(17, 8), (4, 8, 8, 3), (8, 8, 3), (5,)]] == [17, 4, 0, 0]


@pytest.mark.parametrize("bad, reason", [
    (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN or infinite"),
    (np.array([[0.0, np.inf], [1.0, 2.0]]), "NaN or infinite"),
    (np.zeros((2, 3)), r"features of shape \[2, 3\]; this set's are \[T, D\] = \[4, 2\]"),
    (np.zeros(2), r"features of shape \[2\]; this set's are \[T, D\] = \[4, 2\]"),
    (np.zeros((5, 2)), r"features of shape \[5, 2\]; this set's are \[T, D\] = \[4, 2\]"),
])
def test_decode_recording_refuses_bad_features(tmp_path, bad, reason):
    path = write_npy(tmp_path / "a.npy", bad)
    with pytest.raises(DataError, match=reason) as info:
        decode_recording(Recording("r", "p", audio=path), ("audio",), TINY, {"audio": (4, 2)})
    assert info.value.path == path


def test_decode_recording_of_media_files(media):
    decoded = decode_recording(media[0], MODALITIES, TINY, TINY.shapes(MODALITIES))
    assert decoded["audio"].shape == (TINY.audio_samples,)  # the waveform window: log-mel comes later
    assert decoded["visible"].shape == (8, 8, 3) and decoded["thermal"].shape == (8, 8, 1)
    np.testing.assert_allclose(decoded["visible"], image.load_visible(media[0].visible, (8, 8)))
    only_thermal = Recording("r", "p", thermal=media[0].thermal)
    assert set(decode_recording(only_thermal, MODALITIES, TINY, {})) == {"thermal"}
    with pytest.raises(DataError, match="has none of the modalities") as info:
        decode_recording(only_thermal, ("audio",), TINY, {})
    assert info.value.path == "r"


def write_avi(path, count=12, colour=True, size=(12, 16)):
    """An MJPG video of `count` frames at 30 fps; frame k is flat grey 20 * k."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, size[::-1], colour)
    for number in range(count):
        writer.write(np.full((*size, 3) if colour else size, 20 * number, np.uint8))
    writer.release()
    return str(path)


def test_decode_recording_of_frame_sequences(tmp_path):
    config = TINY.replace(frames=4, frame_seconds=1.0, frame_crop="center")
    rec = Recording("r", "p", visible=write_avi(tmp_path / "v.avi"), thermal=write_avi(tmp_path / "t.avi"))
    decoded = decode_recording(rec, MODALITIES, config, config.shapes(MODALITIES), frame="first")
    assert decoded["visible"].shape == (4, 8, 8, 3) and decoded["thermal"].shape == (4, 8, 8, 1)
    # 12 frames (shorter than 1 s): indices i * 12 // 4 + 12 // 8 = 1, 4, 7, 10, whatever `frame` says
    np.testing.assert_allclose(decoded["visible"].mean(axis=(1, 2, 3)) * 255, [20, 80, 140, 200], atol=2)
    np.testing.assert_allclose(decoded["thermal"], decoded["visible"][..., :1], atol=1e-6)
    still = Recording("r", "p", visible=write_png(tmp_path / "v.png"), thermal=write_png(tmp_path / "t.png", 1))
    decoded = decode_recording(still, MODALITIES, config, config.shapes(MODALITIES))
    assert decoded["visible"].shape == (4, 8, 8, 3) and decoded["thermal"].shape == (4, 8, 8, 1)
    np.testing.assert_array_equal(decoded["thermal"][3], image.load_thermal(still.thermal, (8, 8), crop="center"))
    colour = Recording("r", "p", thermal=write_png(tmp_path / "colour.png", 3))
    with pytest.raises(DataError, match="colour thermal frame but --thermal-palette is grey") as info:
        decode_recording(colour, ("thermal",), config, config.shapes(("thermal",)))
    assert info.value.path == colour.thermal


def test_extract_features_computes_mfcc_in_one_call_per_chunk(tmp_path, media, monkeypatch):
    config = TINY.replace(audio_features="mfcc", n_mfcc=6)
    shapes = config.shapes(MODALITIES)
    batches, mfcc = [], audio.mfcc
    monkeypatch.setattr(audio, "mfcc", lambda waves, *args, **kwargs: batches.append(tuple(waves.shape))
                        or mfcc(waves, *args, **kwargs))
    out = list(extract_features(media, MODALITIES, config, shapes, ErrorPolicy(), workers=1))
    assert batches == [(3, config.audio_samples)]  # one batched call (traced once) for the chunk of three
    for rec, decoded in out:
        assert decoded["audio"].shape == (17, 6)
        waveform = audio.load_waveform(rec.audio, config.sample_rate, config.audio_samples, config.audio_crop,
                                       config.trim_db)
        log_mel = audio.log_mel_spectrogram(waveform, 8000, n_mels=8, n_fft=256, hop_length=128).numpy()
        np.testing.assert_allclose(decoded["audio"], librosa.feature.mfcc(S=log_mel.T, n_mfcc=6).T, atol=1e-3)


def test_extract_features_keeps_order_and_hands_bad_recordings_over(tmp_path, media, monkeypatch):
    monkeypatch.setattr(features, "CHUNK", 2)  # several chunks, and a chunk that is all bad
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(pathlib.Path(media[1].audio).read_bytes()[:100])
    recordings = [media[0], Recording("bad1", "p", audio=str(empty)), Recording("bad2", "p", audio=str(truncated)),
                  media[1], media[2]]
    policy = ErrorPolicy("skip")
    shapes = TINY.shapes(MODALITIES)
    out = list(extract_features(recordings, MODALITIES, TINY, shapes, policy, workers=2))
    assert [r.recording for r, _ in out] == ["r0", "r1", "r2"]
    assert [e.path for e in policy.skipped] == [str(empty), str(truncated)]
    assert "empty audio file" in policy.skipped[0].reason and "truncated" in policy.skipped[1].reason
    for rec, decoded in out:
        assert {m: v.shape for m, v in decoded.items()} == shapes
        assert all(v.dtype == np.float32 for v in decoded.values())
        waveform = audio.load_waveform(rec.audio, TINY.sample_rate, TINY.audio_samples, TINY.audio_crop,
                                       TINY.trim_db)
        expected = audio.log_mel_spectrogram(waveform[None], TINY.sample_rate, TINY.n_mels, TINY.n_fft,
                                             TINY.hop_length).numpy()[0]
        np.testing.assert_allclose(decoded["audio"], expected, rtol=1e-4, atol=1e-3)
    # One thread gives the same arrays.
    single = list(extract_features(recordings, MODALITIES, TINY, shapes, ErrorPolicy("skip"), workers=1))
    for (_, a), (_, b) in zip(out, single):
        for m in MODALITIES:
            np.testing.assert_array_equal(a[m], b[m])


def test_extract_features_leaves_feature_audio_as_it_is(tmp_path):
    values = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    rec = Recording("r", "p", audio=write_npy(tmp_path / "a.npy", values))
    [(_, decoded)] = extract_features([rec], ("audio",), TINY, {"audio": (6, 3)}, ErrorPolicy())
    np.testing.assert_array_equal(decoded["audio"][:4], values)
    assert decoded.steps == {"audio": 4}


# ---------------------------------------------------------------- fingerprint


def test_fingerprint_follows_settings_and_files(media, tmp_path):
    base = fingerprint(media, MODALITIES, TINY, "middle")
    assert base == fingerprint(list(media), MODALITIES, TINY.replace(), "middle")  # deterministic
    changed = [
        fingerprint(media, MODALITIES, TINY.replace(audio_crop="center"), "middle"),
        fingerprint(media, MODALITIES, TINY.replace(trim_db=30.0), "middle"),
        fingerprint(media, MODALITIES, TINY.replace(thermal_palette="inferno"), "middle"),
        fingerprint(media, MODALITIES, TINY.replace(image_size=(9, 9)), "middle"),
        fingerprint(media, MODALITIES, TINY.replace(audio_features="mfcc", n_mfcc=8), "middle"),
        fingerprint(media, MODALITIES, TINY.replace(audio_features="mfcc", n_mfcc=4), "middle"),
        fingerprint(media, MODALITIES, TINY.replace(frames=4), "middle"),
        fingerprint(media, MODALITIES, TINY.replace(frames=4, frame_seconds=2.0), "middle"),
        fingerprint(media, MODALITIES, TINY.replace(frame_crop="center"), "middle"),
        fingerprint(media, MODALITIES, TINY, "first"),
        fingerprint(media, ("audio", "visible"), TINY, "middle"),
        fingerprint(media[:2], MODALITIES, TINY, "middle"),
        fingerprint([dataclasses.replace(media[0], group="g"), *media[1:]], MODALITIES, TINY, "middle"),
        fingerprint([dataclasses.replace(media[0], split="test"), *media[1:]], MODALITIES, TINY, "middle"),
        fingerprint([dataclasses.replace(media[0], person="p9"), *media[1:]], MODALITIES, TINY, "middle"),
    ]
    assert base not in changed and len(set(changed)) == len(changed)
    write_wav(media[0].audio, seconds=0.4)  # the same path, other content
    assert fingerprint(media, MODALITIES, TINY, "middle") != base
