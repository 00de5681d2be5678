"""SA-fusion's intermediate attention (IA): each modality's time steps scaled by how much the others attend to them."""

import keras
from keras import ops

from avtfuse.layers.checks import positive_int
from avtfuse.layers.cross_attention import CrossAttention


def attention_vector(weights):
    """Σ over the query axis of the head-mean of attention weights [B, H, T_q, T_k] -> [B, T_k].

    Each row of A sums to 1 over the keys, so the vector sums to T_q.
    """
    return ops.sum(ops.mean(weights, axis=1), axis=1)


@keras.saving.register_keras_serializable(package="avtfuse")
class AttentionVectorFusion(keras.layers.Layer):
    """Intermediate attention fusion (Chumachenko et al., ICPR 2022, eq. 3; reference code `forward_feature_2`).

    For every ordered pair (n, m) of the M >= 2 input modalities, a
    `CrossAttention(C_n, num_heads, values=False)` (q and k projections only,
    no LayerNorm) gives A_{n->m} [B, H, T_n, T_m], modality n's steps as
    queries over modality m's steps as keys. Modality m's attention vector is
    w_m = mean over n != m of Σ_q mean_h A_{n->m}  ([B, T_m]; for two
    modalities it sums to T_n: 150 for audio over video's 15 steps), and the
    output is x_m ⊙ w_m: the weights scale **time steps**, not channels, and
    are not normalised (mean 10 per video step, 0.1 per audio step, as
    trained in the paper). For audio (a) and video (v): w_v from A_av
    (audio queries), w_a from A_va (video queries).

    Input: list of M float tensors [B, T_m, C_m] (any lengths and widths).
    Output: (list of M tensors x_m ⊙ w_m [B, T_m, C_m] in the compute dtype,
    list of M float32 weight vectors w_m [B, T_m]).

    Args:
        num_heads: heads of every cross-attention (the head-mean is taken);
            must divide every C_m.
    """

    def __init__(self, num_heads=1, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = positive_int(num_heads, "AttentionVectorFusion num_heads")
        self.attentions = {}

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) < 2 or not all(
                isinstance(shape, (list, tuple)) for shape in input_shape):
            raise ValueError(
                "AttentionVectorFusion input: expected a list of >= 2 [batch, time, channels] tensors, "
                f"got {input_shape}")
        for shape in input_shape:
            if len(shape) != 3 or shape[-1] is None:
                raise ValueError(f"AttentionVectorFusion input: expected [batch, time, channels] with static channels, "
                                 f"got {shape}")
            if shape[-1] % self.num_heads:
                raise ValueError(f"AttentionVectorFusion num_heads: {self.num_heads} does not divide the "
                                 f"{shape[-1]} channels of an input {shape}")
        self.attentions = {}
        for query, query_shape in enumerate(input_shape):
            for key, key_shape in enumerate(input_shape):
                if query == key:
                    continue
                layer = CrossAttention(query_shape[-1], self.num_heads, values=False, dtype=self.dtype_policy,
                                       name=f"attention_{query}_to_{key}")
                layer.build([tuple(query_shape), tuple(key_shape)])
                self.attentions[f"{query}_to_{key}"] = layer

    def call(self, inputs):
        count = len(inputs)
        fused, vectors = [], []
        for key in range(count):
            parts = [attention_vector(self.attentions[f"{query}_to_{key}"]([inputs[query], inputs[key]]))
                     for query in range(count) if query != key]
            vector = parts[0] if len(parts) == 1 else ops.mean(ops.stack(parts, axis=0), axis=0)
            vectors.append(vector)
            fused.append(inputs[key] * ops.cast(vector, self.compute_dtype)[:, :, None])
        return fused, vectors

    def compute_output_spec(self, inputs):
        fused = [keras.KerasTensor(tensor.shape, self.compute_dtype) for tensor in inputs]
        vectors = [keras.KerasTensor(tensor.shape[:2], "float32") for tensor in inputs]
        return fused, vectors

    def get_config(self):
        config = super().get_config()
        config.update({"num_heads": self.num_heads})
        return config
