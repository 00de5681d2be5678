"""MCT-HFR's local feature imagination (LFI) decoder (SYSTEMS.md 3.2 item 4; the public code's
`TransformerDecoder`)."""

import math

import keras
from keras import ops

from avtfuse.layers.checks import positive_int
from avtfuse.layers.cross_attention import _split_heads
from avtfuse.layers.rescaled_attention import (
    attend,
    attention_weights,
    dropout_rate,
    key_mask_or_ones,
)


def _check_streams(query_shape, memory_shape, units, owner):
    """A ValueError naming `owner` unless query and memory are [batch, time, units]."""
    for role, shape in (("query", query_shape), ("memory", memory_shape)):
        if len(shape) != 3 or shape[-1] != units:
            raise ValueError(f"{owner} {role}: expected [batch, time, {units}] (units), got {shape}")


@keras.saving.register_keras_serializable(package="avtfuse")
class CrossAttentionDecoderLayer(keras.layers.Layer):
    """One LFI decoder layer: a self-attention block on the query stream, then a cross-attention block with
    keys = values = the memory, each post-norm with **its own FFN** (the public code builds every layer
    from two `TransformerEncoderLayer`s, `layers_self_attn[n]` and `layers_cross_attn[n]`).

    Each block, for a source s (the query stream itself, then the memory):
    x = LN(x + Dropout(MHA(x, s, s))); x = LN(x + Dropout(Dense(units)(Dropout(Dense(ffn_units, ReLU)(x))))).
    MHA: q = Dense(units)(x), k, v = Dense(2 · units)(s), both with bias (the fairseq in-projection split),
    q · d_k^-1/2, padded keys masked (a query whose keys are all padded gets zero weights), float32
    softmax, weight dropout, heads merged, Dense(units).

    Call: `layer(query, memory, mask=None, training=None)`, query float [B, T_q, units], memory float
    [B, T_k, units], mask float [B, T_k] of the keys (1 = real step; None: no padding; in the LFI decoder
    T_q = T_k and the one mask serves both blocks, as in the code). Output: [B, T_q, units].

    Args:
        units: model width d.
        num_heads: attention heads; must divide `units`.
        ffn_units: hidden width of each FFN (4 · d = 512 in the code).
        dropout: rate of the residual dropouts and of the FFNs' hidden dropout (0.1 in the code).
        attention_dropout: dropout on the attention weights (0.0 in the code).
        layer_norm_epsilon: epsilon of the four layer norms (PyTorch's 1e-5).
    """

    def __init__(self, units, num_heads=4, ffn_units=512, dropout=0.1, attention_dropout=0.0,
                 layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        name = "CrossAttentionDecoderLayer"
        self.units = positive_int(units, f"{name} units")
        self.num_heads = positive_int(num_heads, f"{name} num_heads")
        if self.units % self.num_heads:
            raise ValueError(f"{name} num_heads: expected a divisor of units {self.units}, got {num_heads!r}")
        self.ffn_units = positive_int(ffn_units, f"{name} ffn_units")
        self.dropout = dropout_rate(dropout, f"{name} dropout")
        self.attention_dropout = dropout_rate(attention_dropout, f"{name} attention_dropout")
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.scale = (self.units // self.num_heads) ** -0.5
        policy = self.dtype_policy

        def block_layers(kind):
            return {
                "query": keras.layers.Dense(self.units, dtype=policy, name=f"{kind}_query"),
                "key_value": keras.layers.Dense(2 * self.units, dtype=policy, name=f"{kind}_key_value"),
                "output": keras.layers.Dense(self.units, dtype=policy, name=f"{kind}_output"),
                "attention_norm": keras.layers.LayerNormalization(
                    epsilon=self.layer_norm_epsilon, dtype=policy, name=f"{kind}_attention_norm"),
                "hidden": keras.layers.Dense(self.ffn_units, activation="relu", dtype=policy, name=f"{kind}_hidden"),
                "hidden_output": keras.layers.Dense(self.units, dtype=policy, name=f"{kind}_hidden_output"),
                "feed_forward_norm": keras.layers.LayerNormalization(
                    epsilon=self.layer_norm_epsilon, dtype=policy, name=f"{kind}_feed_forward_norm"),
            }

        self.self_block = block_layers("self")
        self.cross_block = block_layers("cross")
        self.weight_dropout = keras.layers.Dropout(self.attention_dropout, dtype=policy, name="attention_dropout")
        self.residual_dropout = keras.layers.Dropout(self.dropout, dtype=policy, name="residual_dropout")
        self.hidden_dropout = keras.layers.Dropout(self.dropout, dtype=policy, name="hidden_dropout")

    def build(self, query_shape, memory_shape):
        _check_streams(query_shape, memory_shape, self.units, "CrossAttentionDecoderLayer")
        for block, source_shape in ((self.self_block, query_shape), (self.cross_block, memory_shape)):
            block["query"].build(query_shape)
            block["key_value"].build(source_shape)
            block["output"].build(query_shape)
            block["attention_norm"].build(query_shape)
            block["hidden"].build(query_shape)
            block["hidden_output"].build((*query_shape[:-1], self.ffn_units))
            block["feed_forward_norm"].build(query_shape)

    def _block(self, block, tokens, source, key_mask, training):
        """One post-norm attention + FFN block of `tokens` over `source`."""
        queries = _split_heads(ops.cast(block["query"](tokens), "float32") * self.scale, self.num_heads)
        keys_values = block["key_value"](source)
        keys = _split_heads(keys_values[..., :self.units], self.num_heads)
        values = _split_heads(keys_values[..., self.units:], self.num_heads)
        weights = self.weight_dropout(attention_weights(queries, keys, key_mask), training=training)
        attended = block["output"](attend(weights, values))
        tokens = block["attention_norm"](tokens + self.residual_dropout(attended, training=training))
        hidden = self.hidden_dropout(block["hidden"](tokens), training=training)
        transformed = block["hidden_output"](hidden)
        return block["feed_forward_norm"](tokens + self.residual_dropout(transformed, training=training))

    def call(self, query, memory, mask=None, training=None):
        key_mask = key_mask_or_ones(mask, memory)
        tokens = self._block(self.self_block, query, query, key_mask, training)
        return self._block(self.cross_block, tokens, memory, key_mask, training)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, query_shape, memory_shape):
        return tuple(query_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "num_heads": self.num_heads,
            "ffn_units": self.ffn_units,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        })
        return config


@keras.saving.register_keras_serializable(package="avtfuse")
class LFIDecoder(keras.layers.Layer):
    """MCT-HFR's LFI decoder D_m = CAU(E_m, SAU(X'_m)) (eq. 13; the public code's `TransformerDecoder`
    built with `position_embedding=False`), one per modality, training only.

    x = Dropout_emb(sqrt(units) · query), s = Dropout_emb(sqrt(units) · memory) (no position embedding);
    `num_layers` × `CrossAttentionDecoderLayer` (self-attention on x, then cross-attention over s, each with
    its own FFN); final LayerNorm; Dense(output_dim, no bias) (= the code's `Conv1d(d_m, 1, bias=False)`
    generator) back to the input space. The code drops the key and value copies of the memory with two
    independent dropout masks; here one dropped memory serves as both.

    Call: `decoder(query, memory, mask=None, training=None)`, query float [B, T, units] (the conv-projected
    incomplete input X'_m, before the position embedding), memory float [B, T, units] (the MCT output E_m),
    mask float [B, T] (1 = real step; None: no padding), used as the key mask of both attentions.
    Output: [B, T, output_dim].

    Args:
        output_dim: d_m, the width of the input features reconstructed.
        units: model width d.
        num_layers: decoder layers (2 in the code).
        num_heads, ffn_units, dropout, attention_dropout, layer_norm_epsilon: as `CrossAttentionDecoderLayer`.
        embedding_dropout: dropout on both scaled streams (0.25 in the code).
    """

    def __init__(self, output_dim, units=128, num_layers=2, num_heads=4, ffn_units=512, dropout=0.1,
                 embedding_dropout=0.25, attention_dropout=0.0, layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.output_dim = positive_int(output_dim, "LFIDecoder output_dim")
        self.num_layers = positive_int(num_layers, "LFIDecoder num_layers")
        self.embedding_dropout = dropout_rate(embedding_dropout, "LFIDecoder embedding_dropout")
        policy = self.dtype_policy
        self.decoder_layers = [CrossAttentionDecoderLayer(
            units, num_heads, ffn_units, dropout=dropout, attention_dropout=attention_dropout,
            layer_norm_epsilon=layer_norm_epsilon, dtype=policy, name=f"layer_{n}") for n in range(self.num_layers)]
        first = self.decoder_layers[0]
        self.units = first.units
        self.num_heads = first.num_heads
        self.ffn_units = first.ffn_units
        self.dropout = first.dropout
        self.attention_dropout = first.attention_dropout
        self.layer_norm_epsilon = first.layer_norm_epsilon
        self.embedding_dropout_layer = keras.layers.Dropout(
            self.embedding_dropout, dtype=policy, name="embedding_dropout")
        self.output_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name="output_norm")
        self.generator = keras.layers.Dense(self.output_dim, use_bias=False, dtype=policy, name="generator")

    def build(self, query_shape, memory_shape):
        _check_streams(query_shape, memory_shape, self.units, "LFIDecoder")
        for layer in self.decoder_layers:
            layer.build(query_shape, memory_shape)
        self.output_norm.build(query_shape)
        self.generator.build(query_shape)

    def call(self, query, memory, mask=None, training=None):
        scale = math.sqrt(self.units)
        tokens = self.embedding_dropout_layer(query * scale, training=training)
        memory = self.embedding_dropout_layer(memory * scale, training=training)
        for layer in self.decoder_layers:
            tokens = layer(tokens, memory, mask=mask, training=training)
        return self.generator(self.output_norm(tokens))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, query_shape, memory_shape):
        return (*query_shape[:-1], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update({
            "output_dim": self.output_dim,
            "units": self.units,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "ffn_units": self.ffn_units,
            "dropout": self.dropout,
            "embedding_dropout": self.embedding_dropout,
            "attention_dropout": self.attention_dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        })
        return config
