"""Tests for avtfuse.layers.guided_spatial_attention: CFN-SR's audio-guided spatial attention, eq. 7-8 with
residual, per sample (SYSTEMS.md 4.2, 4.5 trap 2, section 6)."""

import keras
import numpy as np
import pytest

from avtfuse.layers.guided_spatial_attention import AudioGuidedSpatialAttention

SHAPE = (2, 3, 4, 5)  # S, H, W, C
AUDIO = 6


def to_numpy(value):
    return keras.ops.convert_to_numpy(keras.ops.cast(value, "float32"))


def sample(rng, batch):
    video = rng.normal(size=(batch, *SHAPE)).astype("float32")
    audio = rng.normal(size=(batch, AUDIO)).astype("float32")
    return [video, audio]


def built(rng, **kwargs):
    """A layer on (S, H, W, C) = SHAPE with weights large enough that the maps are far from uniform."""
    layer = AudioGuidedSpatialAttention(units=4, **kwargs)
    layer.build([(None, *SHAPE), (None, AUDIO)])
    layer.set_weights([rng.normal(0.0, 1.0, size=w.shape).astype("float32") for w in layer.weights])
    return layer


def logits_reference(layer, video, audio):
    """Dense(1)(tanh(W_v x + b_v + W_a a)) in NumPy: [B, S, H, W]."""
    video_kernel, video_bias = (to_numpy(w) for w in layer.video_projection.weights)
    (audio_kernel,) = (to_numpy(w) for w in layer.audio_projection.weights)
    score_kernel, score_bias = (to_numpy(w) for w in layer.score.weights)
    joint = np.tanh(video.astype("float64") @ video_kernel + video_bias
                    + (audio.astype("float64") @ audio_kernel)[:, None, None, None, :])
    return (joint @ score_kernel + score_bias)[..., 0]


def softmax_reference(logits, softmax_over):
    batch, slices = logits.shape[:2]
    flat = logits.reshape(batch, slices, -1) if softmax_over == "hw" else logits.reshape(batch, 1, -1)
    exponentials = np.exp(flat - flat.max(-1, keepdims=True))
    return (exponentials / exponentials.sum(-1, keepdims=True)).reshape(logits.shape)


def layer_reference(layer, video, audio):
    """Per-sample eq. 7-8: (x · (1 + α) or x · α, α)."""
    weights = softmax_reference(logits_reference(layer, video, audio), layer.softmax_over)
    scale = 1.0 + weights if layer.residual else weights
    return video * scale[..., None], weights


def batch_summed_reference(layer, video, audio):
    """The public code (SYSTEMS.md 4.5 trap 2): one map Σ_i α_i applied to every sample, out = x · res + x."""
    weights = softmax_reference(logits_reference(layer, video, audio), layer.softmax_over)
    summed = weights.sum(axis=0, keepdims=True)
    return video * summed[..., None] + video


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("softmax_over", ["hw", "thw"])
def test_matches_numpy_reference(softmax_over, residual, rng):
    layer = built(rng, softmax_over=softmax_over, residual=residual)
    video, audio = sample(rng, 3)
    attended, weights = layer([video, audio])
    expected_attended, expected_weights = layer_reference(layer, video, audio)
    assert attended.shape == video.shape and weights.shape == video.shape[:-1]
    np.testing.assert_allclose(to_numpy(weights), expected_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(attended), expected_attended, rtol=1e-5, atol=1e-5)
    assert expected_weights.max() > 3.0 / np.prod(SHAPE[1:3])  # far from uniform: the check has teeth


def test_weights_sum_to_one(rng):
    video, audio = sample(rng, 3)
    per_slice = to_numpy(built(rng)([video, audio])[1])
    np.testing.assert_allclose(per_slice.sum(axis=(2, 3)), np.ones((3, SHAPE[0])), rtol=1e-6)
    whole = to_numpy(built(rng, softmax_over="thw")([video, audio])[1])
    np.testing.assert_allclose(whole.sum(axis=(1, 2, 3)), np.ones(3), rtol=1e-6)
    assert not np.allclose(whole.sum(axis=(2, 3)), 1.0)


def test_residual_false_is_x_times_weights(rng):
    layer = built(rng, residual=False)
    video, audio = sample(rng, 2)
    attended, weights = (to_numpy(o) for o in layer([video, audio]))
    np.testing.assert_allclose(attended, video * weights[..., None], rtol=1e-6)
    residual = built(rng)
    residual.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(residual([video, audio])[0]), video * (1.0 + weights[..., None]), rtol=1e-6)


@pytest.mark.parametrize("softmax_over", ["hw", "thw"])
def test_batch_independence(softmax_over, rng):
    """Sample i's output alone equals its output inside batches of other random samples and of other sizes.
    The public code's batch-summed map fails the same check."""
    layer = built(rng, softmax_over=softmax_over)
    target = sample(rng, 1)
    alone_attended, alone_weights = (to_numpy(o) for o in layer(target))
    for batch, position in ((2, 1), (5, 0), (7, 4)):
        others = sample(rng, batch - 1)
        inputs = [np.insert(other, position, item[0], axis=0) for other, item in zip(others, target)]
        attended, weights = (to_numpy(o) for o in layer(inputs))
        np.testing.assert_allclose(attended[position], alone_attended[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(weights[position], alone_weights[0], rtol=1e-5, atol=1e-7)
        summed = batch_summed_reference(layer, *inputs)
        assert not np.allclose(summed[position], alone_attended[0], rtol=1e-3, atol=1e-3)
    # With a batch of one the public code agrees with ours, so the difference above is the batch sum alone.
    np.testing.assert_allclose(batch_summed_reference(layer, *target), alone_attended, rtol=1e-5, atol=1e-6)


def test_parameter_count_at_paper_size():
    """C = 2,048, k = 64, units = 64: 131,136 (W_v, b_v) + 4,096 (W_a) + 65 (Dense(1)) = 135,297."""
    layer = AudioGuidedSpatialAttention()
    layer.build([(None, 2, 7, 7, 2048), (None, 64)])
    assert layer.video_projection.count_params() == 131_136
    assert layer.audio_projection.count_params() == 4_096
    assert layer.score.count_params() == 65
    assert layer.count_params() == 135_297


def test_mixed_float16_finite(rng):
    """Large activations: float16 projections and outputs, float32 softmax; finite and close to float32."""
    video, audio = (x * 20.0 for x in sample(rng, 2))
    reference = built(rng)
    layer = AudioGuidedSpatialAttention(units=4, dtype="mixed_float16")
    layer.build([(None, *SHAPE), (None, AUDIO)])
    layer.set_weights(reference.get_weights())
    attended, weights = layer([video, audio])
    assert {keras.backend.standardize_dtype(o.dtype) for o in (attended, weights)} == {"float16"}
    assert {w.dtype for w in layer.weights} == {"float32"}
    attended, weights = to_numpy(attended), to_numpy(weights)
    assert np.all(np.isfinite(attended)) and np.all(np.isfinite(weights))
    np.testing.assert_allclose(weights.sum(axis=(2, 3)), 1.0, atol=1e-2)
    expected_attended, expected_weights = (to_numpy(o) for o in reference([video, audio]))
    np.testing.assert_allclose(weights, expected_weights, atol=2e-2)
    scale = np.abs(expected_attended).max()
    np.testing.assert_allclose(attended / scale, expected_attended / scale, atol=2e-2)


def test_symbolic_shapes():
    outputs = AudioGuidedSpatialAttention(units=3)([keras.Input((None, 7, 7, 8)), keras.Input((4,))])
    assert [tuple(o.shape) for o in outputs] == [(None, None, 7, 7, 8), (None, None, 7, 7)]


@pytest.mark.parametrize("kwargs, message", [
    ({"units": 0}, "units"),
    ({"softmax_over": "t"}, "softmax_over"),
    ({"residual": 1}, "residual"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AudioGuidedSpatialAttention(**kwargs)


@pytest.mark.parametrize("shapes, message", [
    ([(7, 7, 8), (4,)], "video"),
    ([(2, 7, 7, 8), (2, 4)], "audio"),
])
def test_invalid_inputs(shapes, message):
    with pytest.raises(ValueError, match=message):
        AudioGuidedSpatialAttention()([keras.Input(shape) for shape in shapes])


def test_serialisation(rng, tmp_path):
    inputs = sample(rng, 2)
    layer = built(rng, softmax_over="thw", residual=False, name="guided")
    clone = AudioGuidedSpatialAttention.from_config(layer.get_config())
    clone.build([(None, *SHAPE), (None, AUDIO)])
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    for got, want in zip(clone(inputs), layer(inputs)):
        np.testing.assert_array_equal(to_numpy(got), to_numpy(want))

    symbolic = [keras.Input(SHAPE), keras.Input((AUDIO,))]
    model = keras.Model(symbolic, AudioGuidedSpatialAttention(units=3)(symbolic))
    model.save(tmp_path / "guided.keras")
    loaded = keras.models.load_model(tmp_path / "guided.keras")
    assert [type(item) for item in loaded.layers] == [type(item) for item in model.layers]
    for got, want in zip(loaded(inputs), model(inputs)):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-6, atol=1e-6)
