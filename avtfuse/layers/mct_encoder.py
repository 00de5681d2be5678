"""MCT-HFR's modality-collaborative transformer: one MRAU layer with per-modality post-norm FFN blocks, and the
stack of them (SYSTEMS.md 3.2 item 2)."""

import keras

from avtfuse.layers.checks import positive_int
from avtfuse.layers.rescaled_attention import (
    MultimodalRescaledAttention,
    check_modalities,
    dropout_rate,
)

# The arguments of `MCTEncoderLayer` that `MCTEncoder` passes on (and stores in its config).
_LAYER_ARGUMENTS = ("num_modalities", "units", "num_heads", "max_lengths", "attention_dropout", "dropout",
                    "use_gamma_b", "use_gamma_e", "layer_norm_epsilon")


def _check_width(shapes, units, owner):
    """A ValueError naming `owner` unless every input has `units` channels (the residuals need it)."""
    for index, shape in enumerate(shapes):
        if shape[-1] != units:
            raise ValueError(f"{owner} input {index}: expected {units} channels (units), got {shape}")


@keras.saving.register_keras_serializable(package="avtfuse")
class MCTEncoderLayer(keras.layers.Layer):
    """One layer of the modality-collaborative transformer (eq. 5–10; the public code's
    `MCTransformerEncoderLayer`).

    A_1 … A_M = MultimodalRescaledAttention(H_1 … H_M); per modality m, post-norm:
    H'_m = LN_m(H_m + Dropout(A_m)); E_m = LN'_m(H'_m + Dropout(FFN_m(H'_m))), FFN_m = Dense(4 · units,
    ReLU) -> Dropout -> Dense(units). Projections, FFN and both layer norms are per modality. At
    units = 128 and M = 3 the layer has 594,816 parameters.

    Call: `layer([H_1 … H_M], masks=[mask_1 … mask_M], training=None)`, H_m float [B, T_m, units],
    mask_m float [B, T_m] (1 = real step; None: no padding). Output: list of M [B, T_m, units].

    Args:
        num_modalities, units, num_heads, max_lengths, attention_dropout, use_gamma_b, use_gamma_e:
            as `MultimodalRescaledAttention`.
        dropout: rate of the residual dropouts and of the FFN's hidden dropout (0.1 in the code).
        layer_norm_epsilon: epsilon of the layer norms (PyTorch's 1e-5).
    """

    def __init__(self, num_modalities=3, units=128, num_heads=4, max_lengths=None, attention_dropout=0.0,
                 dropout=0.1, use_gamma_b=True, use_gamma_e=True, layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        policy = self.dtype_policy
        self.attention = MultimodalRescaledAttention(
            num_modalities, units, num_heads, max_lengths=max_lengths, attention_dropout=attention_dropout,
            use_gamma_b=use_gamma_b, use_gamma_e=use_gamma_e, dtype=policy, name="attention")
        self.num_modalities = self.attention.num_modalities
        self.units = self.attention.units
        self.dropout = dropout_rate(dropout, "MCTEncoderLayer dropout")
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        modalities = range(self.num_modalities)
        self.attention_norms = [keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name=f"attention_norm_{m}") for m in modalities]
        self.feed_forward_hidden = [keras.layers.Dense(
            4 * self.units, activation="relu", dtype=policy, name=f"feed_forward_hidden_{m}") for m in modalities]
        self.feed_forward_output = [keras.layers.Dense(
            self.units, dtype=policy, name=f"feed_forward_output_{m}") for m in modalities]
        self.feed_forward_norms = [keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name=f"feed_forward_norm_{m}") for m in modalities]
        self.residual_dropout = keras.layers.Dropout(self.dropout, dtype=policy, name="residual_dropout")
        self.hidden_dropout = keras.layers.Dropout(self.dropout, dtype=policy, name="hidden_dropout")

    def build(self, input_shape):
        shapes = check_modalities(input_shape, self.num_modalities, "MCTEncoderLayer")
        _check_width(shapes, self.units, "MCTEncoderLayer")
        self.attention.build(shapes)
        for m, shape in enumerate(shapes):
            self.attention_norms[m].build(shape)
            self.feed_forward_hidden[m].build(shape)
            self.feed_forward_output[m].build((*shape[:-1], 4 * self.units))
            self.feed_forward_norms[m].build(shape)

    def call(self, inputs, masks=None, training=None):
        attended = self.attention(inputs, masks=masks, training=training)
        outputs = []
        for m, (sequence, update) in enumerate(zip(inputs, attended)):
            tokens = self.attention_norms[m](sequence + self.residual_dropout(update, training=training))
            hidden = self.hidden_dropout(self.feed_forward_hidden[m](tokens), training=training)
            transformed = self.feed_forward_output[m](hidden)
            outputs.append(self.feed_forward_norms[m](tokens + self.residual_dropout(transformed, training=training)))
        return outputs

    def compute_output_shape(self, input_shape):
        return [tuple(shape) for shape in input_shape]

    def get_config(self):
        config = super().get_config()
        attention = self.attention
        config.update({
            "num_modalities": self.num_modalities,
            "units": self.units,
            "num_heads": attention.num_heads,
            "max_lengths": attention.max_lengths,
            "attention_dropout": attention.attention_dropout,
            "dropout": self.dropout,
            "use_gamma_b": attention.use_gamma_b,
            "use_gamma_e": attention.use_gamma_e,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        })
        return config


@keras.saving.register_keras_serializable(package="avtfuse")
class MCTEncoder(keras.layers.Layer):
    """The modality-collaborative transformer: a stack of `MCTEncoderLayer`s (the public code's
    `MCTransformerEncoder` without its input embedding; scale, position embedding and embedding dropout
    come before it).

    With `outer_residual` (code only, SYSTEMS.md 3.6 trap 3; the published numbers came from it), every
    layer is wrapped as x_{n+1} = x_n + Dropout(layer_n(x_n)) and a per-modality LayerNorm follows the
    stack; without, a plain stack x_{n+1} = layer_n(x_n) and no final norm (the paper).

    Call: `encoder([H_1 … H_M], masks=[mask_1 … mask_M], training=None)`, H_m float [B, T_m, units],
    mask_m float [B, T_m] (1 = real step; None: no padding). Output: list of M [B, T_m, units].

    Args:
        num_layers: N, the number of layers (4 in the paper).
        num_modalities, units, num_heads, max_lengths, attention_dropout, dropout, use_gamma_b,
            use_gamma_e, layer_norm_epsilon: as `MCTEncoderLayer`; `dropout` also drops the outer residual
            branch.
        outer_residual: wrap the layers in residuals and add the final norms (see above).
    """

    def __init__(self, num_layers=4, num_modalities=3, units=128, num_heads=4, max_lengths=None,
                 attention_dropout=0.0, dropout=0.1, outer_residual=True, use_gamma_b=True, use_gamma_e=True,
                 layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.num_layers = positive_int(num_layers, "MCTEncoder num_layers")
        if not isinstance(outer_residual, bool):
            raise ValueError(f"MCTEncoder outer_residual: expected True or False, got {outer_residual!r}")
        self.outer_residual = outer_residual
        policy = self.dtype_policy
        self.encoder_layers = [MCTEncoderLayer(
            num_modalities, units, num_heads, max_lengths=max_lengths, attention_dropout=attention_dropout,
            dropout=dropout, use_gamma_b=use_gamma_b, use_gamma_e=use_gamma_e,
            layer_norm_epsilon=layer_norm_epsilon, dtype=policy, name=f"layer_{n}") for n in range(self.num_layers)]
        layer_config = self.encoder_layers[0].get_config()
        self.layer_config = {key: layer_config[key] for key in _LAYER_ARGUMENTS}
        modalities = range(self.layer_config["num_modalities"])
        self.residual_dropout = keras.layers.Dropout(
            self.layer_config["dropout"], dtype=policy, name="residual_dropout") if outer_residual else None
        self.output_norms = [keras.layers.LayerNormalization(
            epsilon=self.layer_config["layer_norm_epsilon"], dtype=policy, name=f"output_norm_{m}")
            for m in modalities] if outer_residual else []

    def build(self, input_shape):
        shapes = check_modalities(input_shape, self.layer_config["num_modalities"], "MCTEncoder")
        for layer in self.encoder_layers:
            layer.build(shapes)
        for norm, shape in zip(self.output_norms, shapes):
            norm.build(shape)

    def call(self, inputs, masks=None, training=None):
        sequences = list(inputs)
        for layer in self.encoder_layers:
            updates = layer(sequences, masks=masks, training=training)
            if self.outer_residual:
                updates = [sequence + self.residual_dropout(update, training=training)
                           for sequence, update in zip(sequences, updates)]
            sequences = updates
        if self.outer_residual:
            sequences = [norm(sequence) for norm, sequence in zip(self.output_norms, sequences)]
        return sequences

    def compute_output_shape(self, input_shape):
        return [tuple(shape) for shape in input_shape]

    def get_config(self):
        config = super().get_config()
        config.update({"num_layers": self.num_layers, "outer_residual": self.outer_residual, **self.layer_config})
        return config
