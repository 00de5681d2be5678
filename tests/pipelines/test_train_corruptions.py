"""pipelines.train_corruptions against NumPy and OpenCV references."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.training.config import TrainConfig
from pipelines.corruptions import CORRUPTIONS
from pipelines.train_corruptions import (SampleCorruption, babble_partners, blur_matrix, clip_log_mel, mix_at_snr,
                                         resolution_matrix, reverberate)

RNG = np.random.default_rng(11)
KINDS = {"audio": "log_mel", "visible": "frames", "thermal": "frames"}
MODALITIES = ("audio", "visible", "thermal")


def corruption(share, seed=3, kinds=KINDS, n_mels=8):
    return SampleCorruption(kinds, MODALITIES, share, seed, n_mels=n_mels, sample_rate=16000, hop_length=160)


def contract_batch(count, present=None, audio_only=False):
    """A batch of `count`: audio log-mel [count, 20, 8] dB (sample 0's last 5 steps missing), visible [count, 3, 32,
    32, 3] with sample 0's second step missing, thermal [count, 32, 32, 1] (at severity 1 a blur of 0.01 x the side
    changes a 32-pixel frame, not a 12-pixel one); `present` [count, 3] (default: rows
    cycling through every non-empty subset and the empty one); recordings r0, r1, ...; absent tensors zero."""
    if present is None:
        patterns = [[1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [0, 0, 0]]
        present = np.array([patterns[i % len(patterns)] for i in range(count)], np.float32)
    audio = RNG.uniform(-80, 0, (count, 20, 8)).astype(np.float32)
    audio[0, 15:] = 0
    visible = RNG.random((count, 3, 32, 32, 3)).astype(np.float32)
    missing = np.zeros((count, 3), np.float32)
    missing[0, 1] = 1
    visible[0, 1] = 0
    thermal = RNG.random((count, 32, 32, 1)).astype(np.float32)
    for index, tensor in enumerate((audio, visible, thermal)):
        tensor[present[:, index] == 0] = 0
    inputs = {"audio": audio, "visible": visible, "thermal": thermal, "present": present, "visible_missing": missing,
              "recording": np.array([f"r{i}" for i in range(count)])}
    return {key: tf.constant(value) for key, value in inputs.items()}


def changed_rows(before, after):
    return np.abs(after.numpy() - before.numpy()).reshape(len(before), -1).max(axis=1) > 0


def test_share_0_is_the_identity_and_1_changes_every_sample_with_a_present_modality_and_never_a_missing_one():
    inputs = contract_batch(14)
    unchanged, _ = corruption(0.0)(inputs, tf.range(14))
    for key in MODALITIES:
        np.testing.assert_array_equal(unchanged[key], inputs[key])
    out, labels = corruption(1.0)(inputs, tf.range(14))
    np.testing.assert_array_equal(labels, np.arange(14))
    present = inputs["present"].numpy() > 0
    changed = np.stack([changed_rows(inputs[key], out[key]) for key in MODALITIES], axis=1)
    assert not (changed & ~present).any()  # a missing modality stays zeros
    np.testing.assert_array_equal(changed.any(axis=1), present.any(axis=1))
    np.testing.assert_array_equal(out["audio"][0, 15:], 0)  # missing steps stay zero
    frames_only, _ = corruption(1.0, kinds={"visible": "frames"})(inputs, tf.range(14))
    np.testing.assert_array_equal(frames_only["visible"][0, 1], 0)
    assert np.abs(frames_only["visible"][0, ::2] - inputs["visible"][0, ::2]).max() > 0


def test_the_realised_share_is_near_p_with_every_corruption_and_severity():
    count, share = 1000, 0.3
    inputs = {"present": tf.ones([count, 3]), "recording": tf.constant([f"rec{i}" for i in range(count)]),
              "audio": tf.ones([count, 4, 8])}
    chosen, severity, _, _ = corruption(share).plan(inputs)
    chosen = chosen.numpy()
    assert chosen.sum(axis=1).max() == 1  # one corruption at most
    assert abs(chosen.any(axis=1).mean() - share) < 0.045  # binomial sd 0.015
    per_corruption = chosen.sum(axis=0)
    assert per_corruption.min() > 0.5 * per_corruption.mean()
    np.testing.assert_array_equal(np.unique(severity), [1, 2, 3, 4, 5])


def snr_db(clean, mixed, valid):
    """10 log10 of the mean clean power over the mean added power, over the valid cells (NumPy)."""
    clean_power, mixed_power = 10.0 ** (clean[valid] / 10.0), 10.0 ** (mixed[valid] / 10.0)
    return 10.0 * np.log10(clean_power.mean() / (mixed_power - clean_power).mean())


def test_noise_and_babble_meet_their_severitys_snr_in_the_power_domain():
    count = 24
    inputs = contract_batch(count, present=np.tile([[1, 0, 0]], (count, 1)).astype(np.float32))
    layer = corruption(1.0)
    chosen, severity, _, _ = layer.plan(inputs)
    out, _ = layer(inputs, tf.range(count))
    clean, mixed = inputs["audio"].numpy(), out["audio"].numpy()
    checked = 0
    for row in range(count):
        name = [n for (_, _, n), c in zip(layer.names, chosen[row].numpy()) if c][0]
        if name in ("noise", "babble"):
            valid = np.abs(clean[row]).max(axis=1) > 0
            target = CORRUPTIONS[("audio", name)].level(int(severity[row]))
            assert abs(snr_db(clean[row][valid], mixed[row][valid], slice(None)) - target) < 0.5, (name, row)
            checked += 1
    assert checked >= 4
    log_mel = RNG.uniform(-60, 10, (2, 30, 8)).astype(np.float32)
    noise = RNG.uniform(-90, -20, (2, 30, 8)).astype(np.float32)
    valid = np.ones((2, 30, 1), bool)
    mixed = mix_at_snr(tf.constant(log_mel), tf.constant(valid), tf.constant(noise), tf.constant(valid),
                       tf.constant([0.0, 17.0])).numpy()
    for row, target in enumerate((0.0, 17.0)):
        assert abs(snr_db(log_mel[row], mixed[row], slice(None)) - target) < 0.5


def test_reverb_keeps_the_mean_power_and_smears_onsets_and_clipping_keeps_each_frames_power():
    log_mel = np.full((1, 40, 4), -100.0, np.float32)
    log_mel[0, 10] = 0.0  # one click
    valid = tf.ones([1, 40, 1], tf.bool)
    smeared = reverberate(tf.constant(log_mel), valid, tf.constant([0.5]), 100.0).numpy()[0]
    power = 10.0 ** (smeared / 10.0)
    np.testing.assert_allclose(power.mean(), (10.0 ** (log_mel / 10.0)).mean(), rtol=1e-4)
    # after the click, each frame 60 dB per RT60 (0.5 s = 50 frames) quieter: 1.2 dB a frame
    np.testing.assert_allclose(np.diff(smeared[10:30, 0]), -1.2, atol=1e-3)
    assert np.all(smeared[:10] < -90)  # nothing before the click
    loud = RNG.uniform(-60, 0, (1, 6, 5)).astype(np.float32)
    clipped = clip_log_mel(tf.constant(loud), tf.ones([1, 6, 1], tf.bool), tf.constant([0.1])).numpy()
    np.testing.assert_allclose((10 ** (clipped / 10)).sum(axis=2), (10 ** (loud / 10)).sum(axis=2), rtol=1e-4)
    power = 10.0 ** (loud / 10.0)
    limited = np.minimum(power, power.max() * 0.1 ** 2)
    spread = limited + (power - limited).sum(axis=2, keepdims=True) / 5
    np.testing.assert_allclose(clipped, 10 * np.log10(spread), atol=1e-3)


def test_draws_follow_seed_epoch_and_recording_alone():
    inputs = contract_batch(7)
    layer = corruption(1.0)
    first, _ = layer(inputs, tf.range(7))
    again, _ = corruption(1.0)(inputs, tf.range(7))
    for key in MODALITIES:
        np.testing.assert_array_equal(again[key], first[key])
    other, _ = corruption(1.0, seed=4)(inputs, tf.range(7))  # another epoch: another epoch seed
    assert not all(np.array_equal(other[key], first[key]) for key in MODALITIES)
    # the frames of a recording are a function of its id and the seed, not of its place in the batch
    order = [6, 5, 4, 3, 2, 1, 0]
    moved, _ = layer({key: tf.gather(value, order) for key, value in inputs.items()}, tf.range(7))
    np.testing.assert_allclose(moved["thermal"].numpy()[order], first["thermal"], atol=1e-6)


def test_babble_never_draws_a_sample_without_audio_nor_a_copy_of_itself():
    for trial in range(20):
        count = 6
        recordings = tf.constant(RNG.choice(["a", "b", "c", "d"], count))
        audible = tf.constant(RNG.random(count) < 0.5)
        partners, has_partner = babble_partners(recordings, audible, tf.constant(RNG.random(count), tf.float32))
        for row in range(count):
            candidates = [j for j in range(count) if audible[j] and recordings[j] != recordings[row]]
            assert bool(has_partner[row]) == bool(candidates)
            if candidates:
                assert int(partners[row]) in candidates


def test_blur_and_resolution_matrices_are_opencvs():
    image = RNG.random((15, 20)).astype(np.float32)
    blurred = blur_matrix(15, 1.7) @ image @ blur_matrix(20, 1.7).T
    np.testing.assert_allclose(blurred, cv2.GaussianBlur(image, (0, 0), 1.7), atol=2e-3)
    small = cv2.resize(image, (5, 4), interpolation=cv2.INTER_AREA)
    theirs = cv2.resize(small, (20, 15), interpolation=cv2.INTER_LINEAR)
    ours = resolution_matrix(15, 4 / 15) @ image @ resolution_matrix(20, 0.25).T
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_mfcc_inputs_are_corrupted_through_the_smoothed_log_mel():
    inputs = contract_batch(4, present=np.tile([[1, 0, 0]], (4, 1)).astype(np.float32))
    coefficients = tf.signal.dct(inputs["audio"], type=2, norm="ortho")[..., :5]
    inputs["audio"] = coefficients * tf.constant([[[0.0]]] + [[[1.0]]] * 3)  # sample 0 without any audio
    inputs["present"] = tf.constant([[0, 0, 0]] + [[1, 0, 0]] * 3, tf.float32)
    out, _ = corruption(1.0, kinds={"audio": "mfcc"})(inputs, tf.range(4))
    assert out["audio"].shape == (4, 20, 5)
    np.testing.assert_array_equal(changed_rows(inputs["audio"], out["audio"]), [False, True, True, True])
    np.testing.assert_allclose(corruption(0.0, kinds={"audio": "mfcc"})(inputs, tf.range(4))[0]["audio"],
                               inputs["audio"])


def test_a_share_outside_0_1_is_a_one_line_error_naming_it():
    with pytest.raises(ValueError, match=r"corrupt_train.*\[0, 1\]"):
        corruption(1.5)
    with pytest.raises(ValueError, match=r"TrainConfig.corrupt_train: expected a rate in \[0, 1\], got -0.1"):
        TrainConfig(corrupt_train=-0.1)
    assert "corrupt_train" not in TrainConfig().identity_dict()
    assert TrainConfig(corrupt_train=0.5).identity_dict()["corrupt_train"] == 0.5


def test_exposure_drift_and_occlusion_follow_the_evaluation_levels():
    frames = tf.constant(RNG.random((3, 2, 20, 30, 1)), tf.float32)
    layer = corruption(1.0)
    uniforms = tf.constant([[0.0, 0.0, 0.0, 0.2, 0.0, 1.0 - 1e-6, 0.0]] * 3, tf.float32)  # drift up; box top-right
    severity = tf.constant([1, 3, 5])

    def corrupted(modality, name):
        return layer.corrupt_frames(frames, uniforms, severity, {name: tf.ones([3], tf.bool)}, modality,
                                    tf.constant(["a", "b", "c"]), 2001).numpy()

    level = np.array(CORRUPTIONS[("thermal", "drift")].levels)[[0, 2, 4]]
    np.testing.assert_allclose(corrupted("thermal", "drift"),
                               np.clip(frames.numpy() + level[:, None, None, None, None] / 255, 0, 1), atol=1e-6)
    gain = np.array(CORRUPTIONS[("visible", "over_exposure")].levels)[[0, 2, 4]]
    np.testing.assert_allclose(corrupted("visible", "over_exposure"),
                               np.clip(frames.numpy() * gain[:, None, None, None, None], 0, 1), atol=1e-6)
    occluded = corrupted("visible", "occlusion")
    for row, share in enumerate(np.array(CORRUPTIONS[("visible", "occlusion")].levels)[[0, 2, 4]]):
        box = int(round(np.sqrt(share) * 20))
        expected = frames.numpy()[row].copy()
        expected[:, :box, 25 - box:25] = 0  # the centred 20 x 20 square spans columns 5..24; the box at its right
        np.testing.assert_array_equal(occluded[row], expected)
