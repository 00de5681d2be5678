"""The MulT / fairseq `TransformerEncoder` as CFN-SR uses it on the audio steps: scaled input, sinusoidal positions,
pre-norm causal blocks, final layer norm (SYSTEMS.md 4.2, cross-modal block item 1)."""

import math
import numbers

import keras
from keras import ops

from avtfuse.layers.checks import positive_int
from avtfuse.layers.position_embedding import SinusoidalPositionEmbedding
from avtfuse.layers.transformer_block import TransformerBlock


@keras.saving.register_keras_serializable(package="avtfuse")
class CausalTransformerEncoder(keras.layers.Layer):
    """x = Dropout_embed(x · sqrt(d) + PE) -> `num_layers` x pre-norm TransformerBlock -> LayerNormalization.

    MulT's `TransformerEncoder` (fairseq layout) as CFN-SR's cross-modal block uses it
    (eq. 5-6): PE is the fairseq sinusoidal embedding of positions 1 … T (every step is
    real: the code pads nothing), each block is x + Drop(Attn(LN(x))), x + Drop(FFN(LN(x)))
    with FFN = Dense(ff_dim, ReLU) -> Drop -> Dense(d), attention, ReLU and residual dropout
    all `dropout`; with `causal` (the code's `attn_mask=True`) step t sees steps <= t only, so
    the last step summarises the sequence. At d = 64, 8 heads, ff_dim 256 and 5 layers:
    5 x 49,984 + 128 = 250,048 parameters.

    Input: float [B, T, d] (CFN-SR: the [26, 64] MFCCNet features). Output: [B, T, d].

    Args:
        num_layers: number of blocks (5 in CFN-SR).
        num_heads: attention heads; d must be divisible by them (8).
        ff_dim: hidden units of each feed-forward network (256 = 4 d).
        dropout: attention, feed-forward hidden and residual dropout rate (0.1).
        embed_dropout: dropout rate on the scaled, position-embedded input (0.3).
        causal: mask attention to later steps (True in CFN-SR).
        layer_norm_epsilon: epsilon of every layer normalisation (PyTorch's 1e-5).
    """

    def __init__(self, num_layers=5, num_heads=8, ff_dim=256, dropout=0.1, embed_dropout=0.3, causal=True,
                 layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.num_layers = positive_int(num_layers, "CausalTransformerEncoder num_layers")
        self.num_heads = positive_int(num_heads, "CausalTransformerEncoder num_heads")
        self.ff_dim = positive_int(ff_dim, "CausalTransformerEncoder ff_dim")
        for name, value in (("dropout", dropout), ("embed_dropout", embed_dropout)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
                raise ValueError(f"CausalTransformerEncoder {name}: expected a rate in [0, 1), got {value!r}")
        self.dropout = float(dropout)
        self.embed_dropout = float(embed_dropout)
        if not isinstance(causal, bool):
            raise ValueError(f"CausalTransformerEncoder causal: expected True or False, got {causal!r}")
        self.causal = causal
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        policy = self.dtype_policy
        self.embedding_dropout = keras.layers.Dropout(self.embed_dropout, dtype=policy, name="embedding_dropout")
        self.blocks = [
            TransformerBlock(self.num_heads, ff_dim=self.ff_dim, dropout=self.dropout, hidden_dropout=self.dropout,
                             layer_norm_epsilon=self.layer_norm_epsilon, norm_first=True, causal=self.causal,
                             dtype=policy, name=f"block_{index}")
            for index in range(self.num_layers)
        ]
        self.output_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name="output_norm")
        self.position_embedding = None

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"CausalTransformerEncoder input: expected [batch, steps, dim] with a static dim, got {input_shape}")
        units = input_shape[-1]
        if units % self.num_heads:
            raise ValueError(
                f"CausalTransformerEncoder: dim {units} is not divisible by num_heads {self.num_heads}")
        if units < 4:
            raise ValueError(f"CausalTransformerEncoder: expected dim >= 4 (position embedding), got {input_shape}")
        self.position_embedding = SinusoidalPositionEmbedding(
            units, dtype=self.dtype_policy, name="position_embedding")
        for block in self.blocks:
            block.build(input_shape)
        self.output_norm.build(input_shape)

    def call(self, inputs, training=None):
        units = inputs.shape[-1]
        positions = self.position_embedding(ops.ones(ops.shape(inputs)[:2], dtype="float32"))
        tokens = inputs * ops.cast(math.sqrt(units), inputs.dtype) + positions
        tokens = self.embedding_dropout(tokens, training=training)
        for block in self.blocks:
            tokens = block(tokens, training=training)
        return self.output_norm(tokens)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout,
            "embed_dropout": self.embed_dropout,
            "causal": self.causal,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        })
        return config
