"""Cross-modal attention (timm style, as SA-fusion's `transformer_timm.py`): the attention layer, which
returns its weights, and the pre-norm block around it."""

import keras
from keras import ops

from avtfuse.layers.checks import positive_int


def _split_heads(tensor, num_heads):
    """[B, T, H * d] -> [B, H, T, d]."""
    steps, width = ops.shape(tensor)[1], tensor.shape[-1]
    return ops.transpose(ops.reshape(tensor, (-1, steps, num_heads, width // num_heads)), (0, 2, 1, 3))


def _check_pair(input_shape, owner):
    """(query shape, key shape) from a [query, key] input shape, or a ValueError naming `owner`."""
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or not all(
            isinstance(shape, (list, tuple)) for shape in input_shape):
        raise ValueError(f"{owner} input: expected [query, key], two [batch, time, channels] tensors, "
                         f"got {input_shape}")
    query_shape, key_shape = (tuple(shape) for shape in input_shape)
    for role, shape in (("query", query_shape), ("key", key_shape)):
        if len(shape) != 3 or shape[-1] is None:
            raise ValueError(f"{owner} {role}: expected [batch, time, channels] with static channels, got {shape}")
    return query_shape, key_shape


@keras.saving.register_keras_serializable(package="avtfuse")
class CrossAttention(keras.layers.Layer):
    """Multi-head attention of one sequence (queries) over another (keys and values), returning the weights.

    q = Dense(units, no bias)(x_q); k, v = Dense(2 * units, no bias)(x_k), one
    projection split in half (first half keys); per head h of d = units /
    num_heads channels, A_h = softmax(q_h k_hᵀ · d^-0.5) over the keys; y =
    Dense(units, with bias)(concat_h A_h v_h). No dropout. The logits and the
    softmax are computed in float32 whatever the dtype policy, so float16
    stays finite; the weights are returned in float32.

    With `values=False` only q and k are built (no value or output
    projection) and the layer returns A alone: SA-fusion's intermediate
    attention (IA) uses the weights only (the reference code builds, but never
    uses, the other two projections).

    Input: [query, key], float [B, T_q, C_q] and [B, T_k, C_k].
    Output: (y [B, T_q, units] in the compute dtype, A float32 [B, num_heads,
    T_q, T_k]); with `values=False`, A alone.

    Args:
        units: width of q, k, v and y (the reference code's `out_dim`).
        num_heads: attention heads; must divide `units`.
        values: build the value and output projections and return (y, A).
    """

    def __init__(self, units, num_heads=1, values=True, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "CrossAttention units")
        self.num_heads = positive_int(num_heads, "CrossAttention num_heads")
        if self.units % self.num_heads:
            raise ValueError(f"CrossAttention num_heads: expected a divisor of units {self.units}, got {num_heads!r}")
        if not isinstance(values, bool):
            raise ValueError(f"CrossAttention values: expected True or False, got {values!r}")
        self.values = values
        self.scale = (self.units // self.num_heads) ** -0.5
        self.query_dense = keras.layers.Dense(self.units, use_bias=False, dtype=self.dtype_policy, name="query")
        self.key_value_dense = keras.layers.Dense(
            2 * self.units if values else self.units, use_bias=False, dtype=self.dtype_policy,
            name="key_value" if values else "key")
        self.output_dense = keras.layers.Dense(
            self.units, dtype=self.dtype_policy, name="output") if values else None

    def build(self, input_shape):
        query_shape, key_shape = _check_pair(input_shape, "CrossAttention")
        self.query_dense.build(query_shape)
        self.key_value_dense.build(key_shape)
        if self.output_dense is not None:
            self.output_dense.build((*query_shape[:-1], self.units))

    def call(self, inputs):
        query, key = inputs
        projected = self.key_value_dense(key)
        queries = _split_heads(ops.cast(self.query_dense(query), "float32"), self.num_heads)
        keys = _split_heads(ops.cast(projected[..., :self.units], "float32"), self.num_heads)
        logits = ops.matmul(queries, ops.transpose(keys, (0, 1, 3, 2))) * self.scale
        weights = ops.softmax(logits, axis=-1)
        if not self.values:
            return weights
        values = _split_heads(projected[..., self.units:], self.num_heads)
        attended = ops.matmul(ops.cast(weights, self.compute_dtype), values)
        attended = ops.reshape(ops.transpose(attended, (0, 2, 1, 3)), (-1, ops.shape(query)[1], self.units))
        return self.output_dense(attended), weights

    def compute_output_spec(self, inputs):
        query, key = inputs
        weights = keras.KerasTensor((query.shape[0], self.num_heads, query.shape[1], key.shape[1]), "float32")
        if not self.values:
            return weights
        return keras.KerasTensor((*query.shape[:-1], self.units), self.compute_dtype), weights

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "num_heads": self.num_heads, "values": self.values})
        return config


@keras.saving.register_keras_serializable(package="avtfuse")
class CrossAttentionBlock(keras.layers.Layer):
    """SA-fusion's cross-modal transformer block (the reference code's `AttentionBlock`).

    y = CrossAttention(LN_q(x_q), LN_k(x_k)); y = y + MLP(LN(y)), MLP =
    Dense(mlp_ratio * units, GELU) -> Dense(units). As in the reference code
    (SYSTEMS.md 2.6 trap 7) there is **no residual from x_q** around the
    attention and no final LayerNorm: the block's output is new tokens of
    width `units` on the query time axis. `query_residual=True` gives the
    usual pre-norm block instead, y = x_q + CrossAttention(...) before the
    MLP (x_q must then have `units` channels). No dropout.

    Input: [query, key], float [B, T_q, C_q] and [B, T_k, C_k].
    Output: [B, T_q, units].

    Args:
        units: output width (the reference code's `out_dim`).
        num_heads: attention heads; must divide `units`.
        query_residual: add x_q to the attention output (see above).
        mlp_ratio: MLP hidden width over `units` (2 in the reference code).
        layer_norm_epsilon: epsilon of the three layer norms (PyTorch's 1e-5).
    """

    def __init__(self, units, num_heads=1, query_residual=False, mlp_ratio=2, layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "CrossAttentionBlock units")
        self.num_heads = positive_int(num_heads, "CrossAttentionBlock num_heads")
        if not isinstance(query_residual, bool):
            raise ValueError(f"CrossAttentionBlock query_residual: expected True or False, got {query_residual!r}")
        self.query_residual = query_residual
        self.mlp_ratio = positive_int(mlp_ratio, "CrossAttentionBlock mlp_ratio")
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        policy = self.dtype_policy
        self.query_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name="query_norm")
        self.key_norm = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, dtype=policy, name="key_norm")
        self.attention = CrossAttention(self.units, self.num_heads, dtype=policy, name="attention")
        self.mlp_norm = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, dtype=policy, name="mlp_norm")
        self.mlp_hidden = keras.layers.Dense(
            self.mlp_ratio * self.units, activation="gelu", dtype=policy, name="mlp_hidden")
        self.mlp_output = keras.layers.Dense(self.units, dtype=policy, name="mlp_output")

    def build(self, input_shape):
        query_shape, key_shape = _check_pair(input_shape, "CrossAttentionBlock")
        if self.query_residual and query_shape[-1] != self.units:
            raise ValueError(f"CrossAttentionBlock query: with query_residual expected {self.units} channels "
                             f"(units), got {query_shape}")
        self.query_norm.build(query_shape)
        self.key_norm.build(key_shape)
        self.attention.build([query_shape, key_shape])
        output_shape = (*query_shape[:-1], self.units)
        self.mlp_norm.build(output_shape)
        self.mlp_hidden.build(output_shape)
        self.mlp_output.build((*query_shape[:-1], self.mlp_ratio * self.units))

    def call(self, inputs):
        query, key = inputs
        tokens, _ = self.attention([self.query_norm(query), self.key_norm(key)])
        if self.query_residual:
            tokens = query + tokens
        return tokens + self.mlp_output(self.mlp_hidden(self.mlp_norm(tokens)))

    def compute_output_shape(self, input_shape):
        query_shape, _ = input_shape
        return (*query_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "num_heads": self.num_heads,
            "query_residual": self.query_residual,
            "mlp_ratio": self.mlp_ratio,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        })
        return config
