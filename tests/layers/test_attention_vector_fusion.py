"""Tests for avtfuse.layers.attention_vector_fusion: SA-fusion's intermediate attention (IA)."""

import keras
import numpy as np
import pytest

from avtfuse.layers import AttentionVectorFusion
from avtfuse.layers.attention_vector_fusion import attention_vector


def numpy(value):
    return keras.ops.convert_to_numpy(value)


@pytest.fixture
def audio_video(rng):
    """Stage-1-like tokens: audio [2, 12, 8] (T_a = 12), video [2, 5, 4] (T_v = 5)."""
    return [rng.normal(size=(2, 12, 8)).astype("float32"), rng.normal(size=(2, 5, 4)).astype("float32")]


@pytest.mark.parametrize("heads", [1, 4])
def test_two_modalities_against_the_cross_attention_weights(heads, audio_video):
    audio, video = audio_video
    layer = AttentionVectorFusion(heads)
    (fused_audio, fused_video), (w_a, w_v) = layer([audio, video])
    a_av = numpy(layer.attentions["0_to_1"]([audio, video]))  # audio queries over video keys [B, H, 12, 5]
    a_va = numpy(layer.attentions["1_to_0"]([video, audio]))  # video queries over audio keys [B, H, 5, 12]
    assert a_av.shape == (2, heads, 12, 5) and a_va.shape == (2, heads, 5, 12)
    np.testing.assert_allclose(numpy(w_v), a_av.mean(axis=1).sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(numpy(w_a), a_va.mean(axis=1).sum(axis=1), rtol=1e-5)
    # Sums: w_v to T_a, w_a to T_v, per sample; the time steps are scaled, not the channels.
    np.testing.assert_allclose(numpy(w_v).sum(axis=1), [12.0, 12.0], rtol=1e-5)
    np.testing.assert_allclose(numpy(w_a).sum(axis=1), [5.0, 5.0], rtol=1e-5)
    np.testing.assert_allclose(numpy(fused_video), video * numpy(w_v)[:, :, None], rtol=1e-5)
    np.testing.assert_allclose(numpy(fused_audio), audio * numpy(w_a)[:, :, None], rtol=1e-5)
    # The attentions have q and k only, of the query modality's width, and no LayerNorm.
    assert [tuple(w.shape) for w in layer.attentions["0_to_1"].weights] == [(8, 8), (4, 8)]
    assert [tuple(w.shape) for w in layer.attentions["1_to_0"].weights] == [(4, 4), (8, 4)]
    assert len(layer.weights) == 4


def test_attention_vector_helper():
    weights = np.full((1, 2, 3, 4), 0.25, "float32")
    np.testing.assert_allclose(numpy(attention_vector(weights)), [[0.75] * 4])


def test_keys_constant_over_time_give_uniform_weights(audio_video):
    """A modality whose tokens do not change over time is attended uniformly: w = T_q / T_k at every step."""
    audio, _ = audio_video
    video = np.tile(np.linspace(-1.0, 1.0, 4, dtype="float32"), (2, 5, 1))
    _, (_, w_v) = AttentionVectorFusion(2)([audio, video])
    np.testing.assert_allclose(numpy(w_v), np.full((2, 5), 12.0 / 5.0), rtol=1e-5)


def test_three_modalities_average_the_other_modalities(rng):
    inputs = [rng.normal(size=(2, steps, width)).astype("float32") for steps, width in ((9, 8), (4, 4), (6, 4))]
    layer = AttentionVectorFusion(2)
    fused, vectors = layer(inputs)
    assert sorted(layer.attentions) == ["0_to_1", "0_to_2", "1_to_0", "1_to_2", "2_to_0", "2_to_1"]
    for key in range(3):
        parts = [numpy(attention_vector(layer.attentions[f"{q}_to_{key}"]([inputs[q], inputs[key]])))
                 for q in range(3) if q != key]
        np.testing.assert_allclose(numpy(vectors[key]), np.mean(parts, axis=0), rtol=1e-5)
        steps = [inputs[q].shape[1] for q in range(3) if q != key]
        np.testing.assert_allclose(numpy(vectors[key]).sum(axis=1), np.mean(steps), rtol=1e-5)
        np.testing.assert_allclose(numpy(fused[key]), inputs[key] * numpy(vectors[key])[:, :, None], rtol=1e-5)


def test_symbolic_shapes_and_dtypes():
    inputs = [keras.Input(shape=(12, 8)), keras.Input(shape=(5, 4))]
    fused, vectors = AttentionVectorFusion(dtype="mixed_float16")(inputs)
    assert [t.shape for t in fused] == [(None, 12, 8), (None, 5, 4)]
    assert [t.shape for t in vectors] == [(None, 12), (None, 5)]
    assert [t.dtype for t in fused] == ["float16", "float16"] and [t.dtype for t in vectors] == ["float32"] * 2


def test_float16_is_finite_and_close(audio_video):
    reference = AttentionVectorFusion(4)
    expected = reference(audio_video)[1]
    layer = AttentionVectorFusion(4, dtype="mixed_float16")
    layer(audio_video)
    layer.set_weights(reference.get_weights())
    fused, vectors = layer([x * 50.0 for x in audio_video])
    assert all(np.all(np.isfinite(numpy(keras.ops.cast(t, "float32")))) for t in fused + vectors)
    _, vectors = layer(audio_video)
    for got, want in zip(vectors, expected):
        np.testing.assert_allclose(numpy(got), numpy(want), rtol=0.05, atol=0.05)


def test_config_round_trip_and_save_load(audio_video, tmp_path):
    layer = AttentionVectorFusion(2, name="ia")
    expected = [numpy(t) for group in layer(audio_video) for t in group]
    clone = AttentionVectorFusion.from_config(layer.get_config())
    clone(audio_video)
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    for got, want in zip([t for group in clone(audio_video) for t in group], expected):
        np.testing.assert_array_equal(numpy(got), want)

    symbolic = [keras.Input(shape=x.shape[1:]) for x in audio_video]
    fused, vectors = AttentionVectorFusion(2)(symbolic)
    model = keras.Model(symbolic, [*fused, *vectors])
    model.save(tmp_path / "ia.keras")
    loaded = keras.models.load_model(tmp_path / "ia.keras")
    for got, want in zip(loaded(audio_video), model(audio_video)):
        np.testing.assert_allclose(numpy(got), numpy(want), rtol=1e-6, atol=1e-6)


def test_invalid_inputs(audio_video):
    with pytest.raises(ValueError, match=">= 2"):
        AttentionVectorFusion()([audio_video[0]])
    with pytest.raises(ValueError, match="num_heads"):
        AttentionVectorFusion(3)(audio_video)
    with pytest.raises(ValueError, match="num_heads"):
        AttentionVectorFusion(0)
