"""Multi-head attention computed in blocks of queries, each block recomputed in the backward pass (Rabe and Staats
2021, "Self-attention does not need O(n^2) memory"): the same weights and the same numbers as
`keras.layers.MultiHeadAttention`, without keeping a [B, N, T, S] score tensor for the gradient."""

import keras
from keras import ops

from avtfuse.layers.checks import positive_int


@keras.saving.register_keras_serializable(package="avtfuse")
class BlockedMultiHeadAttention(keras.layers.MultiHeadAttention):
    """`keras.layers.MultiHeadAttention` whose score / softmax / value step runs one block of `query_block` queries
    at a time (the last block holds the rest), each block wrapped in `keras.remat` so that the backward pass
    recomputes its scores instead of storing them. The projections (`query`, `key`, `value`, `attention_output`
    sublayers) are the parent's, so weights load across the two. Each block is `ops.dot_product_attention` with the
    parent's scale and mask (logits and softmax in float32 under mixed precision, as the parent's), so a query's
    output is the parent's to rounding.

    Peak memory of the scores: B x N x query_block x S per block instead of B x N x T x S, for the forward pass and
    for the gradient. Masks (key padding, causal, an explicit [B, T, S] mask) work as in the parent.

    Args:
        query_block: queries per block (>= 1).
        All other arguments are `keras.layers.MultiHeadAttention`'s; attention dropout is not offered (dropout
        must be 0), nor returning the attention scores.

    Input and output as the parent's: query [B, T, D], value [B, S, D] -> [B, T, D (or output_shape)]; the query
    length T must be static.
    """

    def __init__(self, num_heads, key_dim, query_block=256, **kwargs):
        if kwargs.get("dropout", 0.0):
            raise ValueError(f"BlockedMultiHeadAttention dropout: expected 0 (blocked attention has no attention "
                             f"dropout), got {kwargs['dropout']!r}")
        super().__init__(num_heads, key_dim, **kwargs)
        self.query_block = positive_int(query_block, "BlockedMultiHeadAttention query_block")

    def _block_attention(self, mask, recompute):
        """The attention of one block: (query [B, Tb, N, H], key / value [B, S, N, H]) -> [B, Tb, N, H], with
        `mask` None or bool [B|1, 1, Tb|1, S] (closed over: remat differentiates its arguments); with `recompute`
        (training) wrapped in `keras.remat`, so the backward pass recomputes it instead of storing its scores.
        Inference and export skip the wrapper: nothing is kept for a gradient there."""

        def attend(query, key, value):
            return ops.dot_product_attention(query, key, value, mask=mask, scale=self._inverse_sqrt_key_dim,
                                             flash_attention=self._flash_attention)

        return keras.remat(attend) if recompute else attend

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           return_attention_scores=False, use_causal_mask=False):
        """query [B, T, N, H], key / value [B, S, N, H], attention_mask None or bool [B|1, T|1, S] ->
        ([B, T, N, H], None). `use_causal_mask` stays False here: `call` folds causality into attention_mask for
        a subclass."""
        if return_attention_scores:
            raise ValueError("BlockedMultiHeadAttention return_attention_scores: expected False (blocked attention "
                             "never holds the whole score matrix)")
        tokens = query.shape[1]
        if tokens is None:
            raise ValueError(f"BlockedMultiHeadAttention query: expected a static query length, got shape "
                             f"{query.shape}")
        mask = None
        if attention_mask is not None:
            mask = ops.expand_dims(ops.cast(attention_mask, "bool"), 1)  # [B|1, 1 (heads), T|1, S]
        blocks = []
        for start in range(0, tokens, self.query_block):
            stop = min(start + self.query_block, tokens)
            block_mask = mask if mask is None or mask.shape[2] == 1 else mask[:, :, start:stop]
            blocks.append(self._block_attention(block_mask, bool(training))(query[:, start:stop], key, value))
        return (blocks[0] if len(blocks) == 1 else ops.concatenate(blocks, axis=1)), None

    def get_config(self):
        config = super().get_config()
        config["query_block"] = self.query_block
        return config
