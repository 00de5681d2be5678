"""MCT-HFR's multimodal re-scaled attention unit (MRAU, SYSTEMS.md 3.2 item 2) and the masked attention it shares
with the LFI decoder."""

import math
import numbers

import keras
from keras import ops

from avtfuse.layers.checks import positive_int
from avtfuse.layers.cross_attention import _split_heads


def masked_softmax(logits, mask):
    """Softmax over the last axis restricted to the entries where `mask` is 1, in float32.

    The masked entries become -inf before one fused softmax (`ops.softmax`), so they get exactly 0 and no
    finite constant can outweigh a real entry; a row with no valid entry is softmaxed unmasked (finite) and
    multiplied by 0, so it gives exactly zeros (no NaN, zero gradient), in any dtype. The mask's own shape
    (e.g. [B, 1, 1, K] beside [B, H, Q, K] logits) is where the row checks happen, so a per-key mask costs
    one pass over the logits (the where) besides the softmax.

    Args:
        logits: float [..., K].
        mask: float 0/1 (or bool), broadcastable to `logits`.

    Returns:
        float32 [..., K], rows summing to 1 (or 0 when fully masked).
    """
    logits = ops.cast(logits, "float32")
    valid = ops.cast(mask, "float32") > 0.0
    has_entry = ops.any(valid, axis=-1, keepdims=True)
    usable = ops.logical_or(valid, ops.logical_not(has_entry))  # a fully masked row: all entries, then times 0
    weights = ops.softmax(ops.where(usable, logits, ops.cast(float("-inf"), "float32")), axis=-1)
    return weights * ops.cast(has_entry, "float32")


def attention_weights(queries, keys, key_mask, key_scale=None):
    """Masked attention weights from per-head queries and keys.

    Args:
        queries: [B, H, T_q, d_k], already multiplied by d_k^-1/2.
        keys: [B, H, T_k, d_k].
        key_mask: float [B, T_k], 1 = real key, 0 = padded key.
        key_scale: optional float [B, T_k] multiplying the logits of each key (applied to the keys, the same
            product with T_q / d_k times fewer multiplications).

    Returns:
        float32 [B, H, T_q, T_k]; padded keys get weight 0, a row with every key padded is all zeros.
    """
    keys = ops.cast(keys, "float32")
    if key_scale is not None:
        keys = keys * ops.cast(key_scale, "float32")[:, None, :, None]
    logits = ops.matmul(ops.cast(queries, "float32"), ops.transpose(keys, (0, 1, 3, 2)))
    return masked_softmax(logits, key_mask[:, None, None, :])


def attend(weights, values):
    """Weighted sum of per-head values, heads merged: ([B, H, T_q, T_k], [B, H, T_k, d_k]) -> [B, T_q, H · d_k]
    in the dtype of `values`."""
    attended = ops.matmul(ops.cast(weights, values.dtype), values)
    heads, width = attended.shape[1], attended.shape[-1]
    return ops.reshape(ops.transpose(attended, (0, 2, 1, 3)), (-1, ops.shape(attended)[2], heads * width))


def key_mask_or_ones(mask, sequence):
    """The float32 [B, T] key mask `mask`, or all ones (no padding) for None."""
    if mask is None:
        return ops.ones(ops.shape(sequence)[:2], "float32")
    return ops.cast(mask, "float32")


def dropout_rate(value, name):
    """`value` as a float, or a ValueError naming `name` unless it is a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: expected a rate in [0, 1), got {value!r}")
    return float(value)


def per_modality(value, num_modalities, name, convert):
    """`value` (one item for every modality, or a sequence of `num_modalities` items) as a tuple of converted items,
    or a ValueError naming `name`."""
    items = tuple(value) if isinstance(value, (list, tuple)) else (value,) * num_modalities
    if len(items) != num_modalities:
        raise ValueError(f"{name}: expected {num_modalities} values (one per modality), got {value!r}")
    return tuple(convert(item, name) for item in items)


def check_modalities(input_shape, num_modalities, owner):
    """The M shapes of a list of [batch, time, channels] inputs, or a ValueError naming `owner`."""
    if (not isinstance(input_shape, (list, tuple)) or len(input_shape) != num_modalities
            or not all(isinstance(shape, (list, tuple)) for shape in input_shape)):
        raise ValueError(f"{owner} input: expected a list of {num_modalities} [batch, time, channels] tensors, "
                         f"got {input_shape}")
    shapes = [tuple(shape) for shape in input_shape]
    for index, shape in enumerate(shapes):
        if len(shape) != 3 or shape[-1] is None:
            raise ValueError(f"{owner} input {index}: expected [batch, time, channels] with static channels, "
                             f"got {shape}")
    return shapes


@keras.saving.register_keras_serializable(package="avtfuse")
class MultimodalRescaledAttention(keras.layers.Layer):
    """MCT-HFR's multimodal re-scaled attention unit (MRAU, eq. 5–8; the public code's `MCAttention`).

    Per modality m: Q_m, K_m, V_m = split(Dense_m(3 · units, with bias)(H_m)), Q_m · d_k^-1/2
    (d_k = units / num_heads). Keys and values of all modalities are concatenated along time (the
    hyper-modality) and the queries of every modality attend to all of them. Per sample b, the logits of
    m's keys are multiplied by γ_b(m, b) = max(T_m(b), 1)^-1/2 and by γ_e(b) = log(max(Σ_m T_m(b), 1)) /
    log(Σ_m T_m^max), T_m(b) = Σ_t mask_m (missing steps are zeros, not padding, so they count); then padded
    keys are masked (no large constants: a query whose keys are all padded gets zero weights and attends
    to nothing). Logits and softmax in float32. Weight dropout per query modality, heads merged, then m's
    out-projection Dense_m(units, with bias).

    Call: `layer([H_1 … H_M], masks=[mask_1 … mask_M], training=None, return_attention_scores=False)`,
    H_m float [B, T_m, C], mask_m float [B, T_m] (1 = real step, 0 = padding; None: no padding).
    Output: list of M [B, T_m, units]; with `return_attention_scores`, also the list of M float32 weights
    [B, num_heads, T_m, Σ_m T_m] (before dropout).

    Args:
        num_modalities: M, the number of input sequences.
        units: model width d.
        num_heads: attention heads; must divide `units`.
        max_lengths: the M padded lengths T_m^max of γ_e (400, 40, 50 in the paper); None: the static
            time lengths of the inputs.
        attention_dropout: dropout on the attention weights of each query modality, one rate or M rates.
        use_gamma_b: apply γ_b (off for the paper's "w/o γ_b" ablation).
        use_gamma_e: apply γ_e.
    """

    def __init__(self, num_modalities=3, units=128, num_heads=4, max_lengths=None, attention_dropout=0.0,
                 use_gamma_b=True, use_gamma_e=True, **kwargs):
        super().__init__(**kwargs)
        name = "MultimodalRescaledAttention"
        self.num_modalities = positive_int(num_modalities, f"{name} num_modalities")
        self.units = positive_int(units, f"{name} units")
        self.num_heads = positive_int(num_heads, f"{name} num_heads")
        if self.units % self.num_heads:
            raise ValueError(f"{name} num_heads: expected a divisor of units {self.units}, got {num_heads!r}")
        self.max_lengths = None if max_lengths is None else per_modality(
            max_lengths, self.num_modalities, f"{name} max_lengths", positive_int)
        if self.max_lengths is not None and sum(self.max_lengths) < 2:
            raise ValueError(f"{name} max_lengths: expected a total of at least 2 steps, got {max_lengths!r}")
        self.attention_dropout = per_modality(
            attention_dropout, self.num_modalities, f"{name} attention_dropout", dropout_rate)
        for flag, value in (("use_gamma_b", use_gamma_b), ("use_gamma_e", use_gamma_e)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} {flag}: expected True or False, got {value!r}")
        self.use_gamma_b = use_gamma_b
        self.use_gamma_e = use_gamma_e
        self.scale = (self.units // self.num_heads) ** -0.5
        policy = self.dtype_policy
        self.input_projections = [keras.layers.Dense(3 * self.units, dtype=policy, name=f"input_projection_{m}")
                                  for m in range(self.num_modalities)]
        self.output_projections = [keras.layers.Dense(self.units, dtype=policy, name=f"output_projection_{m}")
                                   for m in range(self.num_modalities)]
        self.weight_dropouts = [keras.layers.Dropout(rate, dtype=policy, name=f"attention_dropout_{m}")
                                for m, rate in enumerate(self.attention_dropout)]

    def build(self, input_shape):
        shapes = check_modalities(input_shape, self.num_modalities, "MultimodalRescaledAttention")
        total_length = sum(self.max_lengths) if self.max_lengths is not None else None
        if self.use_gamma_e and total_length is None:
            lengths = [shape[1] for shape in shapes]
            if None in lengths or sum(lengths) < 2:
                raise ValueError("MultimodalRescaledAttention max_lengths: needed for gamma_e when the inputs' "
                                 f"time lengths are not static (total >= 2), got input shapes {shapes}")
            total_length = sum(lengths)
        self.log_total_length = None if total_length is None else math.log(total_length)
        for shape, input_projection, output_projection in zip(shapes, self.input_projections,
                                                              self.output_projections):
            input_projection.build(shape)
            output_projection.build((*shape[:-1], self.units))

    def key_scales(self, key_masks):
        """The logit scale of every key, γ_b(m) · γ_e per sample: float32 [B, Σ_m T_m], or None with both γ off."""
        lengths = [ops.sum(mask, axis=1, keepdims=True) for mask in key_masks]
        scales = [ops.ones_like(mask) for mask in key_masks]
        if self.use_gamma_b:
            scales = [scale * ops.rsqrt(ops.maximum(length, 1.0)) for scale, length in zip(scales, lengths)]
        if self.use_gamma_e:
            gamma_e = ops.log(ops.maximum(sum(lengths), 1.0)) / self.log_total_length
            scales = [scale * gamma_e for scale in scales]
        return ops.concatenate(scales, axis=1) if self.use_gamma_b or self.use_gamma_e else None

    def call(self, inputs, masks=None, training=None, return_attention_scores=False):
        masks = [None] * self.num_modalities if masks is None else list(masks)
        key_masks = [key_mask_or_ones(mask, sequence) for mask, sequence in zip(masks, inputs)]
        projected = [projection(sequence) for projection, sequence in zip(self.input_projections, inputs)]
        queries = [_split_heads(ops.cast(qkv[..., :self.units], "float32") * self.scale, self.num_heads)
                   for qkv in projected]
        keys = ops.concatenate(
            [_split_heads(qkv[..., self.units:2 * self.units], self.num_heads) for qkv in projected], axis=2)
        values = ops.concatenate([_split_heads(qkv[..., 2 * self.units:], self.num_heads) for qkv in projected],
                                 axis=2)
        key_mask = ops.concatenate(key_masks, axis=1)
        key_scale = self.key_scales(key_masks)
        outputs, scores = [], []
        for query, dropout, output_projection in zip(queries, self.weight_dropouts, self.output_projections):
            weights = attention_weights(query, keys, key_mask, key_scale)
            scores.append(weights)
            outputs.append(output_projection(attend(dropout(weights, training=training), values)))
        return (outputs, scores) if return_attention_scores else outputs

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_modalities": self.num_modalities,
            "units": self.units,
            "num_heads": self.num_heads,
            "max_lengths": self.max_lengths,
            "attention_dropout": self.attention_dropout,
            "use_gamma_b": self.use_gamma_b,
            "use_gamma_e": self.use_gamma_e,
        })
        return config
