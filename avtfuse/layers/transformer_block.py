"""Transformer encoder block over a token sequence: post-norm (default) or pre-norm, optionally causal, with full or
blocked (memory-efficient) attention."""

import keras
from keras import ops

from avtfuse.layers.blocked_attention import BlockedMultiHeadAttention
from avtfuse.layers.checks import positive_int

ATTENTION_KINDS = ("full", "blocked")


@keras.saving.register_keras_serializable(package="avtfuse")
class TransformerBlock(keras.layers.Layer):
    """Multi-head self-attention and a feed-forward network, each with a
    residual connection and layer normalisation.

    Post-norm (default, as in the original transformer and keras-hub's
    `TransformerEncoder` default):
        x = LN(x + Drop(Attn(x))); x = LN(x + Drop(FFN(x))).
    Pre-norm (`norm_first=True`, fairseq / MulT as CFN-SR uses it, SYSTEMS.md 4.2):
        x = x + Drop(Attn(LN(x))); x = x + Drop(FFN(LN(x))).
    FFN(x) = Dense(D)(HiddenDrop(Dense(ff_dim, activation)(x))). With `causal`,
    step t attends to steps <= t only.

    Input: float [B, T, D] tokens. Output: [B, T, D].
    AVTNet paper defaults: 4 heads of key_dim D / 4, feed-forward Dense(400, ReLU) ->
    Dense(D), no dropout, post-norm, not causal.

    Args:
        num_heads: attention heads.
        key_dim: size of each head; None gives D // num_heads (D must divide).
        ff_dim: hidden units of the feed-forward network.
        dropout: dropout rate on attention weights and both residual branches.
        activation: activation of the feed-forward hidden layer.
        layer_norm_epsilon: epsilon of both layer normalisations.
        norm_first: pre-norm (True) or post-norm (False) residual branches.
        causal: mask attention to later steps (keras `use_causal_mask=True`).
        hidden_dropout: dropout rate on the feed-forward hidden activations
            (fairseq's `relu_dropout`; 0.1 in CFN-SR's audio encoder).
        attention_kind: "full" (`keras.layers.MultiHeadAttention`: the whole [B, heads, T, T] score tensor, kept
            for the gradient) or "blocked" (`BlockedMultiHeadAttention`: `query_block` queries at a time,
            recomputed in the backward pass; the same weights and outputs; needs dropout 0).
        query_block: queries per block of "blocked" attention.
    """

    def __init__(
        self,
        num_heads=4,
        key_dim=None,
        ff_dim=400,
        dropout=0.0,
        activation="relu",
        layer_norm_epsilon=1e-5,
        norm_first=False,
        causal=False,
        hidden_dropout=0.0,
        attention_kind="full",
        query_block=256,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = positive_int(num_heads, "TransformerBlock num_heads")
        self.key_dim = None if key_dim is None else positive_int(key_dim, "TransformerBlock key_dim")
        self.ff_dim = positive_int(ff_dim, "TransformerBlock ff_dim")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"TransformerBlock dropout: expected a rate in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.activation = activation
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        for name, value in (("norm_first", norm_first), ("causal", causal)):
            if not isinstance(value, bool):
                raise ValueError(f"TransformerBlock {name}: expected True or False, got {value!r}")
        self.norm_first = norm_first
        self.causal = causal
        if isinstance(hidden_dropout, bool) or not 0.0 <= hidden_dropout < 1.0:
            raise ValueError(f"TransformerBlock hidden_dropout: expected a rate in [0, 1), got {hidden_dropout!r}")
        self.hidden_dropout = float(hidden_dropout)
        if attention_kind not in ATTENTION_KINDS:
            raise ValueError(f"TransformerBlock attention_kind: expected one of {list(ATTENTION_KINDS)}, "
                             f"got {attention_kind!r}")
        if attention_kind == "blocked" and self.dropout:
            raise ValueError(f"TransformerBlock dropout: expected 0 with attention_kind 'blocked' (no attention "
                             f"dropout there), got {dropout!r}")
        self.attention_kind = attention_kind
        self.query_block = positive_int(query_block, "TransformerBlock query_block")

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "TransformerBlock input: expected [batch, tokens, dim] with a static dim, "
                f"got {input_shape}"
            )
        token_dim = input_shape[-1]
        key_dim = self.key_dim
        if key_dim is None:
            if token_dim % self.num_heads:
                raise ValueError(
                    f"TransformerBlock: token dim {token_dim} is not divisible by "
                    f"num_heads {self.num_heads}; pass key_dim"
                )
            key_dim = token_dim // self.num_heads
        if self.attention_kind == "blocked":
            self.attention = BlockedMultiHeadAttention(
                self.num_heads, key_dim, query_block=self.query_block, dtype=self.dtype_policy, name="attention"
            )
        else:
            self.attention = keras.layers.MultiHeadAttention(
                self.num_heads, key_dim, dropout=self.dropout, dtype=self.dtype_policy, name="attention"
            )
        self.attention.build(input_shape, input_shape)
        self.attention_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="attention_norm"
        )
        self.attention_norm.build(input_shape)
        self.feed_forward_hidden = keras.layers.Dense(
            self.ff_dim, activation=self.activation, dtype=self.dtype_policy, name="feed_forward_hidden"
        )
        self.feed_forward_hidden.build(input_shape)
        self.feed_forward_hidden_dropout = keras.layers.Dropout(self.hidden_dropout, dtype=self.dtype_policy)
        self.feed_forward_output = keras.layers.Dense(
            token_dim, dtype=self.dtype_policy, name="feed_forward_output"
        )
        self.feed_forward_output.build((*input_shape[:-1], self.ff_dim))
        self.feed_forward_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.feed_forward_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="feed_forward_norm"
        )
        self.feed_forward_norm.build(input_shape)

    def _attend(self, tokens, training, token_mask):
        attended = self.attention(tokens, tokens, value_mask=token_mask, use_causal_mask=self.causal,
                                  training=training)
        return self.attention_dropout(attended, training=training)

    def _feed_forward(self, tokens, training):
        hidden = self.feed_forward_hidden_dropout(self.feed_forward_hidden(tokens), training=training)
        return self.feed_forward_dropout(self.feed_forward_output(hidden), training=training)

    def call(self, inputs, training=None, token_mask=None):
        """inputs: float [B, T, D]; token_mask: None or [B, T] (1: a real token; 0: never attended to, its own
        output still computed)."""
        if token_mask is not None:
            token_mask = ops.cast(token_mask, "bool")
        if self.norm_first:
            tokens = inputs + self._attend(self.attention_norm(inputs), training, token_mask)
            return tokens + self._feed_forward(self.feed_forward_norm(tokens), training)
        tokens = self.attention_norm(inputs + self._attend(inputs, training, token_mask))
        return self.feed_forward_norm(tokens + self._feed_forward(tokens, training))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "ff_dim": self.ff_dim,
                "dropout": self.dropout,
                "activation": self.activation,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "norm_first": self.norm_first,
                "causal": self.causal,
                "hidden_dropout": self.hidden_dropout,
                "attention_kind": self.attention_kind,
                "query_block": self.query_block,
            }
        )
        return config
