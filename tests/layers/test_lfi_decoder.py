"""Tests for avtfuse.layers.lfi_decoder: the decoder layer (self- then cross-attention, one FFN per block) and
the LFI decoder around it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.layers.lfi_decoder import CrossAttentionDecoderLayer, LFIDecoder

# Sample 0: 4 real steps of 6; sample 1: complete.
MASK = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], "float32")


def numpy_weights(layer):
    return [keras.ops.convert_to_numpy(w) for w in layer.weights]


def dense(x, layer):
    kernel, *bias = numpy_weights(layer)
    return x @ kernel + (bias[0] if bias else 0.0)


def layer_norm(x, layer):
    gamma, beta = numpy_weights(layer)
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + layer.epsilon) * gamma + beta


def numpy_block(layer, block, tokens, source, mask):
    """A post-norm attention + FFN block with NumPy (the code's TransformerEncoderLayer), at inference."""
    units, heads = layer.units, layer.num_heads
    d = units // heads

    def split(x):
        return x.reshape(len(x), x.shape[1], heads, d).transpose(0, 2, 1, 3)

    key_value = dense(source, block["key_value"])
    logits = split(dense(tokens, block["query"])) * d**-0.5 @ split(key_value[..., :units]).transpose(0, 1, 3, 2)
    logits = np.where(mask[:, None, None, :] > 0, logits, -np.inf)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    attended = (weights @ split(key_value[..., units:])).transpose(0, 2, 1, 3).reshape(tokens.shape)
    tokens = layer_norm(tokens + dense(attended, block["output"]), block["attention_norm"])
    hidden = np.maximum(dense(tokens, block["hidden"]), 0.0)
    return layer_norm(tokens + dense(hidden, block["hidden_output"]), block["feed_forward_norm"])


def numpy_decoder(decoder, query, memory, mask):
    tokens, memory = query * np.sqrt(decoder.units), memory * np.sqrt(decoder.units)
    for layer in decoder.decoder_layers:
        tokens = numpy_block(layer, layer.self_block, tokens, tokens, mask)
        tokens = numpy_block(layer, layer.cross_block, tokens, memory, mask)
    return dense(layer_norm(tokens, decoder.output_norm), decoder.generator)


def randomize(layer, rng):
    layer.set_weights([rng.normal(0.0, 0.3, size=w.shape).astype("float32") + (1.0 if "gamma" in w.path else 0.0)
                       for w in layer.weights])


@pytest.fixture
def streams(rng):
    """Query (X'_m) and memory (E_m), [2, 6, 8] each."""
    return rng.normal(size=(2, 6, 8)).astype("float32"), rng.normal(size=(2, 6, 8)).astype("float32")


def test_decoder_against_numpy(streams, rng):
    query, memory = streams
    decoder = LFIDecoder(5, units=8, num_heads=2, ffn_units=16)
    decoder.build(query.shape, memory.shape)
    randomize(decoder, rng)
    outputs = keras.ops.convert_to_numpy(decoder(query, memory, mask=MASK))
    assert outputs.shape == (2, 6, 5)
    np.testing.assert_allclose(outputs, numpy_decoder(decoder, query, memory, MASK), rtol=1e-4, atol=1e-4)


def test_parameter_count():
    """One FFN per attention block: at the paper's size each block is the code's TransformerEncoderLayer
    (198,272 parameters), two per layer; plus the final norm and the bias-free generator (d = 128 -> d_m = 512)."""
    decoder = LFIDecoder(512)
    decoder.build((None, 40, 128), (None, 40, 128))
    assert decoder.decoder_layers[0].count_params() == 2 * 198_272
    assert decoder.count_params() == 2 * 2 * 198_272 + 2 * 128 + 128 * 512


def test_real_steps_ignore_padded_steps(streams, rng):
    query, memory = streams
    decoder = LFIDecoder(5, units=8, num_heads=2, ffn_units=16)
    expected = keras.ops.convert_to_numpy(decoder(query, memory, mask=MASK))
    padded = MASK[..., None] == 0
    changed = keras.ops.convert_to_numpy(decoder(np.where(padded, 40.0, query), np.where(padded, -40.0, memory),
                                                 mask=MASK))
    np.testing.assert_allclose(changed[MASK > 0], expected[MASK > 0], rtol=1e-5, atol=1e-5)
    assert not np.allclose(changed[MASK == 0], expected[MASK == 0])


def test_dropout_only_in_training(streams):
    query, memory = streams
    decoder = LFIDecoder(5, units=8, num_layers=1, num_heads=2, ffn_units=16)
    first, second = (keras.ops.convert_to_numpy(decoder(query, memory, mask=MASK, training=True)) for _ in range(2))
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(decoder(query, memory, mask=MASK)),
                                  keras.ops.convert_to_numpy(decoder(query, memory, mask=MASK)))


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_all_masked_sample_and_precision(policy, streams):
    """A sample with no real step gives finite outputs and gradients; mixed_float16 outputs are finite float16."""
    query, memory = (tf.constant(x * 20.0) for x in streams)
    mask = MASK.copy()
    mask[0] = 0.0
    decoder = LFIDecoder(5, units=8, num_heads=2, ffn_units=16, dtype=policy)
    with tf.GradientTape() as tape:
        tape.watch([query, memory])
        outputs = decoder(query, memory, mask=mask)
        total = tf.reduce_sum(tf.cast(outputs, "float32"))
    gradients = tape.gradient(total, [query, memory] + decoder.trainable_weights)
    assert keras.backend.standardize_dtype(outputs.dtype) == keras.DTypePolicy(policy).compute_dtype
    assert {w.dtype for w in decoder.weights} == {"float32"}
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(outputs, "float32"))))
    assert all(np.all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(g, "float32")))) for g in gradients)


@pytest.mark.parametrize("make", [
    lambda: CrossAttentionDecoderLayer(8, 2, ffn_units=16, attention_dropout=0.1, name="layer"),
    lambda: LFIDecoder(5, units=8, num_layers=1, num_heads=2, ffn_units=16, embedding_dropout=0.1, name="decoder"),
])
def test_config_and_save_load(make, streams, tmp_path):
    """Query and memory are two positional inputs, so LayerChecks' single-input checks are written out here."""
    query, memory = streams
    layer = make()
    expected = keras.ops.convert_to_numpy(layer(query, memory, mask=MASK))
    clone = type(layer).from_config(layer.get_config())
    clone(query, memory, mask=MASK)
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone(query, memory, mask=MASK)), expected)
    inputs = [keras.Input((6, 8)), keras.Input((6, 8)), keras.Input((6,))]
    model = keras.Model(inputs, make()(inputs[0], inputs[1], mask=inputs[2]))
    model.save(tmp_path / "decoder.keras")
    loaded = keras.models.load_model(tmp_path / "decoder.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded([query, memory, MASK])),
                               keras.ops.convert_to_numpy(model([query, memory, MASK])), atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: CrossAttentionDecoderLayer(8, 3), "num_heads"),
    (lambda: CrossAttentionDecoderLayer(8, ffn_units=0), "ffn_units"),
    (lambda: CrossAttentionDecoderLayer(8, attention_dropout=1.5), "attention_dropout"),
    (lambda: LFIDecoder(0), "output_dim"),
    (lambda: LFIDecoder(5, num_layers=0), "num_layers"),
    (lambda: LFIDecoder(5, embedding_dropout=-0.1), "embedding_dropout"),
])
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_invalid_inputs():
    with pytest.raises(ValueError, match="memory"):
        LFIDecoder(5, units=8, num_heads=2)(keras.Input((6, 8)), keras.Input((6, 4)))
