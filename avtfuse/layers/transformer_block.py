"""Post-norm transformer encoder block over a token sequence."""

import keras

from avtfuse.layers.checks import positive_int


@keras.saving.register_keras_serializable(package="avtfuse")
class TransformerBlock(keras.layers.Layer):
    """Multi-head self-attention and a feed-forward network, each followed by a
    residual connection and layer normalisation (post-norm, as in the original
    transformer and keras-hub's `TransformerEncoder` default).

    Input: float [B, T, D] tokens. Output: [B, T, D].
    Paper defaults: 4 heads of key_dim D / 4, feed-forward Dense(400, ReLU) ->
    Dense(D), no dropout.

    Args:
        num_heads: attention heads.
        key_dim: size of each head; None gives D // num_heads (D must divide).
        ff_dim: hidden units of the feed-forward network.
        dropout: dropout rate on attention weights and both residual branches.
        activation: activation of the feed-forward hidden layer.
        layer_norm_epsilon: epsilon of both layer normalisations.
    """

    def __init__(
        self,
        num_heads=4,
        key_dim=None,
        ff_dim=400,
        dropout=0.0,
        activation="relu",
        layer_norm_epsilon=1e-5,
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
        self.feed_forward_output = keras.layers.Dense(
            token_dim, dtype=self.dtype_policy, name="feed_forward_output"
        )
        self.feed_forward_output.build((*input_shape[:-1], self.ff_dim))
        self.feed_forward_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.feed_forward_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="feed_forward_norm"
        )
        self.feed_forward_norm.build(input_shape)

    def call(self, inputs, training=None):
        attended = self.attention(inputs, inputs, training=training)
        tokens = self.attention_norm(inputs + self.attention_dropout(attended, training=training))
        transformed = self.feed_forward_output(self.feed_forward_hidden(tokens))
        return self.feed_forward_norm(
            tokens + self.feed_forward_dropout(transformed, training=training)
        )

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
            }
        )
        return config
