"""Masked pooling of an encoded sequence into one vector (MCT-HFR, SYSTEMS.md 3.2 item 3)."""

import keras
from keras import ops

from avtfuse.layers.checks import positive_int
from avtfuse.layers.rescaled_attention import (
    dropout_rate,
    key_mask_or_ones,
    masked_softmax,
)
from avtfuse.losses.distances import masked_maximum


def _check_sequence(input_shape, owner):
    """A ValueError naming `owner` unless the input is [batch, time, channels] with static channels."""
    if len(input_shape) != 3 or input_shape[-1] is None:
        raise ValueError(f"{owner} input: expected [batch, time, channels] with static channels, got {input_shape}")


@keras.saving.register_keras_serializable(package="avtfuse")
class MaskedAttentionPooling(keras.layers.Layer):
    """Attention pooling over the real steps (Mirsamadi et al. 2017; MCT-HFR eq. 11, the paper's pooling).

    α_t = softmax_t(uᵀ E_t) over the steps where the mask is 1 (u ∈ R^C learned, no bias; logits and
    softmax in float32), output Σ_t α_t E_t. Padded steps get weight 0; an all-padded sequence gives zeros.

    Call: `layer(E, mask=None)`, E float [B, T, C], mask float [B, T] (1 = real step; None: Keras's mask of
    E, or no padding). Output: [B, C].
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.score = keras.layers.Dense(1, use_bias=False, dtype=self.dtype_policy, name="score")

    def build(self, input_shape):
        _check_sequence(input_shape, "MaskedAttentionPooling")
        self.score.build(input_shape)

    def call(self, inputs, mask=None):
        weights = masked_softmax(self.score(inputs)[..., 0], key_mask_or_ones(mask, inputs))
        return ops.squeeze(ops.matmul(ops.cast(weights, inputs.dtype)[:, None, :], inputs), axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package="avtfuse")
class CGatePooling(keras.layers.Layer):
    """MCT-HFR's code pooling (the public code's `C_GATE`, one per modality in `GATE_F`).

    g_seq = `num_layers` stacked bidirectional GRU(hidden per direction) over the real steps (outputs 0 at
    padded steps, as PyTorch's packed sequences); gate = sigmoid(Conv1D(1, 3, same)(g_seq)); g = tanh(g_seq)
    · gate; r_t = tanh(Dense(hidden)(concat[E_t, g_t])); output = Dropout(max over the **real** steps of r)
    (the code also takes padded steps into the max, SYSTEMS.md 3.6 trap 2). The masked max uses no large
    constants; an all-padded sequence gives zeros.

    Call: `layer(E, mask=None, training=None)`, E float [B, T, C], mask float [B, T] (1 = real step; None:
    Keras's mask of E, or no padding). Output: [B, hidden].

    Args:
        hidden: GRU units per direction and output width (d / 2 = 64 in the code).
        num_layers: stacked bidirectional GRU layers (2 in the code).
        dropout: rate of the output dropout (0.25 in the code).
    """

    def __init__(self, hidden=64, num_layers=2, dropout=0.25, **kwargs):
        super().__init__(**kwargs)
        self.hidden = positive_int(hidden, "CGatePooling hidden")
        self.num_layers = positive_int(num_layers, "CGatePooling num_layers")
        self.dropout = dropout_rate(dropout, "CGatePooling dropout")
        policy = self.dtype_policy
        self.recurrent_layers = [keras.layers.Bidirectional(
            keras.layers.GRU(self.hidden, return_sequences=True, dtype=policy), dtype=policy, name=f"gru_{n}")
            for n in range(self.num_layers)]
        self.gate = keras.layers.Conv1D(1, 3, padding="same", activation="sigmoid", dtype=policy, name="gate")
        self.projection = keras.layers.Dense(self.hidden, activation="tanh", dtype=policy, name="projection")
        self.output_dropout = keras.layers.Dropout(self.dropout, dtype=policy, name="output_dropout")

    def build(self, input_shape):
        _check_sequence(input_shape, "CGatePooling")
        shape = tuple(input_shape)
        for recurrent in self.recurrent_layers:
            recurrent.build(shape)
            shape = (*input_shape[:-1], 2 * self.hidden)
        self.gate.build(shape)
        self.projection.build((*input_shape[:-1], input_shape[-1] + 2 * self.hidden))

    def call(self, inputs, mask=None, training=None):
        real = key_mask_or_ones(mask, inputs) > 0.5
        context = inputs
        for recurrent in self.recurrent_layers:
            context = recurrent(context, mask=real, training=training)
        # Padded steps are zeros for the gate convolution, as PyTorch's packed sequences give.
        context = context * ops.cast(ops.expand_dims(real, -1), context.dtype)
        gated = ops.tanh(context) * self.gate(context)
        steps = ops.cast(self.projection(ops.concatenate([inputs, gated], axis=-1)), "float32")
        pooled = masked_maximum(steps, ops.expand_dims(real, -1), axis=1)
        return self.output_dropout(ops.cast(pooled, self.compute_dtype), training=training)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.hidden)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden": self.hidden, "num_layers": self.num_layers, "dropout": self.dropout})
        return config
