"""pipelines.augmentation against NumPy, OpenCV and librosa references."""

import cv2
import librosa
import numpy as np
import pytest
import tensorflow as tf

from pipelines import augmentation
from pipelines.augmentation import (FRAME_DRAWS, SPECTROGRAM_DRAWS, SampleAugment, affine_transforms, augment_frames,
                                    augment_spectrograms, power_sum_db, roll_time)

RNG = np.random.default_rng(7)


def frames(*shape):
    return tf.constant(RNG.random(shape), tf.float32)


def uniforms(rows, count, **columns):
    """float32 [rows, count] uniforms, with the named columns (index: value) set."""
    values = RNG.random((rows, count))
    for index, value in columns.items():
        values[:, int(index[1:])] = value
    return tf.constant(values, tf.float32)


@pytest.mark.parametrize("shape", [(3, 8, 10, 3), (2, 4, 8, 10, 1)])
def test_frames_are_unchanged_at_strength_0_and_changed_above_and_stay_in_range(shape):
    images = frames(*shape)
    drawn = uniforms(shape[0], FRAME_DRAWS)
    np.testing.assert_array_equal(augment_frames(images, drawn, 0.0), images)
    for strength in (0.5, 1.0):
        changed = augment_frames(images, drawn, strength).numpy()
        assert changed.shape == shape and changed.min() >= 0.0 and changed.max() <= 1.0
        assert np.abs(changed - images.numpy()).reshape(shape[0], -1).max(axis=1).min() > 1e-3


def test_every_frame_of_a_sequence_gets_its_samples_warp():
    still = np.repeat(RNG.random((2, 1, 9, 9, 1)), 3, axis=1).astype(np.float32)  # one frame, three times
    changed = augment_frames(tf.constant(still), uniforms(2, FRAME_DRAWS), 1.0).numpy()
    np.testing.assert_allclose(changed[:, 1:], np.repeat(changed[:, :1], 2, axis=1), atol=1e-6)


def test_the_warp_is_opencvs_affine_warp_of_the_same_map():
    """Shift, zoom and rotation (no flip, contrast or brightness) against cv2.warpAffine given the same output ->
    input map, bilinear with replicated edges (OpenCV quantises positions to 1/32 pixel: a smooth image)."""
    y, x = np.mgrid[0:24, 0:20].astype(np.float32)
    image = (0.5 + 0.4 * np.sin(x / 5.0) * np.cos(y / 7.0))[None, :, :, None]
    drawn = uniforms(1, FRAME_DRAWS, u0=0.9, u1=0.2, u2=0.8, u3=0.1, u4=0.99, u5=0.5, u6=0.5)
    ours = augment_frames(tf.constant(image), drawn, 1.0).numpy()[0, :, :, 0]
    matrix = affine_transforms(drawn, 1.0, 24, 20).numpy()[0, :6].reshape(2, 3)
    theirs = cv2.warpAffine(image[0, :, :, 0], matrix, (20, 24), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_allclose(ours, theirs, atol=2e-2)
    assert np.abs(ours - image[0, :, :, 0]).max() > 0.1


def test_flip_contrast_and_brightness_follow_their_draws():
    images = frames(1, 6, 8, 3)
    flipped = augment_frames(images, uniforms(1, FRAME_DRAWS, u0=0.5, u1=0.5, u2=0.5, u3=0.5, u4=0.0, u5=0.5,
                                              u6=0.5), 1.0)
    np.testing.assert_allclose(flipped, images.numpy()[:, :, ::-1], atol=1e-6)
    lit = augment_frames(images, uniforms(1, FRAME_DRAWS, u0=0.5, u1=0.5, u2=0.5, u3=0.5, u4=0.9, u5=1.0,
                                          u6=0.75), 1.0).numpy()
    mean = images.numpy().mean(axis=(1, 2), keepdims=True)
    expected = np.clip((images.numpy() - mean) * (1 + augmentation.CONTRAST) + mean + augmentation.BRIGHTNESS / 2,
                       0, 1)
    np.testing.assert_allclose(lit, expected, atol=1e-5)


def test_roll_and_power_sum_against_numpy():
    sequences = RNG.normal(size=(3, 7, 2)).astype(np.float32)
    shifts = np.array([0, 2, -3], np.int32)
    rolled = roll_time(tf.constant(sequences), tf.constant(shifts)).numpy()
    for row, shift in enumerate(shifts):
        np.testing.assert_array_equal(rolled[row], np.roll(sequences[row], shift, axis=0))
    first, second = RNG.uniform(-100, 40, (2, 50)).astype(np.float32)
    np.testing.assert_allclose(power_sum_db(tf.constant(first), tf.constant(second)),
                               10 * np.log10(10 ** (first / 10.0) + 10 ** (second / 10.0)), rtol=1e-5, atol=1e-4)


def test_log_mel_gain_roll_and_mixing_against_numpy():
    log_mel = RNG.uniform(-80, 0, (2, 12, 5)).astype(np.float32)
    partners = RNG.uniform(-80, 0, (2, 12, 5)).astype(np.float32)
    drawn = uniforms(2, SPECTROGRAM_DRAWS, u0=0.75, u1=1.0, u2=0.0, u3=0.5)
    mixed = augment_spectrograms(tf.constant(log_mel), drawn, 1.0, "log_mel", 5, tf.constant(partners),
                                 tf.constant([True, False])).numpy()
    shift = round(0.5 * augmentation.ROLL * 12)
    louder = np.roll(log_mel, shift, axis=1) + augmentation.GAIN_DB
    attenuation = augmentation.MIX_NEAREST_DB + 0.5 * augmentation.MIX_RANGE_DB
    np.testing.assert_allclose(mixed[0], 10 * np.log10(10 ** (louder[0] / 10) + 10 ** ((partners[0] - attenuation)
                                                                                         / 10)), atol=1e-3)
    np.testing.assert_allclose(mixed[1], louder[1], atol=1e-4)  # its partner has no audio: no mixing
    np.testing.assert_array_equal(augment_spectrograms(tf.constant(log_mel), drawn, 0.0, "log_mel", 5), log_mel)


def test_mfcc_gain_is_librosas_mfcc_of_the_louder_log_mel():
    log_mel = RNG.uniform(-80, 0, (1, 9, 16)).astype(np.float32)
    coefficients = librosa.feature.mfcc(S=log_mel[0].T, n_mfcc=6).T[None].astype(np.float32)
    drawn = uniforms(1, SPECTROGRAM_DRAWS, u0=0.5, u1=0.25)  # no roll, gain -3 dB at strength 1
    changed = augment_spectrograms(tf.constant(coefficients), drawn, 1.0, "mfcc", 16).numpy()
    louder = librosa.feature.mfcc(S=(log_mel[0] - augmentation.GAIN_DB / 2).T, n_mfcc=6).T
    np.testing.assert_allclose(changed[0], louder, atol=1e-3)


def contract_batch():
    """A batch of 4: audio log-mel [4, 6, 4] (sample 1 missing), visible [4, 3, 8, 8, 3] with step masks (sample
    2's second step missing), recordings r0-r3."""
    audio = RNG.uniform(-80, 0, (4, 6, 4)).astype(np.float32)
    audio[1] = 0
    visible = RNG.random((4, 3, 8, 8, 3)).astype(np.float32)
    missing = np.zeros((4, 3), np.float32)
    missing[2, 1] = 1
    visible[2, 1] = 0
    return {"audio": tf.constant(audio), "visible": tf.constant(visible),
            "present": tf.constant([[1, 1], [0, 1], [1, 1], [1, 1]], tf.float32),
            "visible_missing": tf.constant(missing), "visible_mask": tf.ones([4, 3]),
            "recording": tf.constant(["r0", "r1", "r2", "r3"])}


def test_sample_augment_keeps_what_is_missing_and_draws_per_recording():
    inputs = contract_batch()
    augment = SampleAugment({"audio": "log_mel", "visible": "frames"}, ("audio", "visible"), 1.0, seed=5, n_mels=4)
    out, labels = augment(inputs, tf.range(4))
    np.testing.assert_array_equal(labels, np.arange(4))
    np.testing.assert_array_equal(out["audio"][1], 0)  # missing audio stays zeros
    np.testing.assert_array_equal(out["visible"][2, 1], 0)  # a missing step stays zero
    assert np.abs(out["visible"][2, 0] - inputs["visible"][2, 0]).max() > 1e-3
    assert np.abs(out["audio"][0] - inputs["audio"][0]).max() > 1e-3
    again, _ = augment(inputs, tf.range(4))
    np.testing.assert_array_equal(again["visible"], out["visible"])
    # the frames of a recording are a function of its id, the seed and the modality: not of its batch or place
    reordered = {key: tf.gather(value, [3, 2, 1, 0]) for key, value in inputs.items()}
    moved, _ = augment(reordered, tf.range(4))
    np.testing.assert_allclose(moved["visible"].numpy()[::-1], out["visible"], atol=1e-6)
    other, _ = SampleAugment({"visible": "frames"}, ("audio", "visible"), 1.0, seed=6, n_mels=4)(inputs, tf.range(4))
    assert not np.allclose(other["visible"], out["visible"])
    np.testing.assert_array_equal(other["audio"], inputs["audio"])  # kind None: unchanged


def test_full_sequences_get_the_same_change_and_unrecorded_ones_stay_zero():
    inputs = contract_batch()
    full = inputs["visible"].numpy().copy()
    full[2, 1] = RNG.random((8, 8, 3))  # the step before its ablation
    full[3] = 0  # a recording without the visible camera
    inputs["visible_full"] = tf.constant(full)
    out, _ = SampleAugment({"visible": "frames"}, ("audio", "visible"), 0.5, seed=1, n_mels=4)(inputs, tf.range(4))
    kept = 1.0 - inputs["visible_missing"].numpy()[:, :, None, None, None]
    np.testing.assert_allclose(out["visible"][:3], (out["visible_full"].numpy() * kept)[:3], atol=1e-6)
    np.testing.assert_array_equal(out["visible_full"][3], 0)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="strength"):
        SampleAugment({}, ("audio",), 1.5, seed=0, n_mels=4)
    with pytest.raises(ValueError, match="kinds"):
        SampleAugment({"audio": "wavelet"}, ("audio",), 0.5, seed=0, n_mels=4)


def test_kinds_follow_the_cached_form_and_leave_pre_extracted_features_alone():
    from types import SimpleNamespace

    def data(audio_file, audio_features):
        return SimpleNamespace(
            modalities=("audio", "visible", "thermal"),
            shapes={"audio": (20, 8), "visible": (4, 16, 16, 3), "thermal": (35,)},
            files=[{"audio": audio_file, "visible": "a.mp4", "thermal": "t.npy"}, {"visible": "b.mp4"}],
            config=SimpleNamespace(features=SimpleNamespace(audio_features=audio_features)))

    assert augmentation.augmentation_kinds(data("a.wav", "mfcc")) == {"audio": "mfcc", "visible": "frames",
                                                                      "thermal": None}
    assert augmentation.augmentation_kinds(data("a.NPY", "log_mel"))["audio"] is None
