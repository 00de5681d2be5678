"""CFN-SR (Fu et al., ICASSP 2022): MFCCNet and 3-D video encoders, an audio-guided attention block with residual
per camera, and the concatenation the linear classifier reads (SYSTEMS.md 4.2)."""

import keras

from avtfuse.layers import (
    AudioGuidedSpatialAttention,
    CausalTransformerEncoder,
    MFCCEncoder,
    Video3DEncoder,
)
from avtfuse.models.base import GraphBackbone
from avtfuse.models.cfn_sr.config import CFNSRConfig


def _guide(config, audio_features, dtype):
    """The audio summary a [B, d] that guides the attention: the causal transformer's last step, or (without
    self-attention) Dense(d) of the time-mean of the MFCCNet features."""
    steps, width = audio_features.shape[1:]
    if not config.self_attention:
        mean = keras.layers.GlobalAveragePooling1D(dtype=dtype, name="audio_mean")(audio_features)
        return keras.layers.Dense(width, dtype=dtype, name="audio_guide")(mean)
    attended = CausalTransformerEncoder(
        config.transformer_layers, config.transformer_heads, config.transformer_ff, config.transformer_dropout,
        config.embed_dropout, causal=True, dtype=dtype, name="audio_transformer")(audio_features)
    last = keras.layers.Cropping1D((steps - 1, 0), dtype=dtype, name="audio_last_step")(attended)
    return keras.layers.Reshape((width,), dtype=dtype, name="audio_guide")(last)


def build_graph(config, dtype=None):
    """Symbolic inputs and outputs of CFN-SR: ({modality: Input}, {"features", ["<camera>_weights"]})."""
    inputs = {m: keras.Input(shape=config.input_shape(m), name=m) for m in config.modalities}
    maps = {m: Video3DEncoder(config.video_widths, config.video_strides, dtype=dtype, name=f"{m}_encoder")(inputs[m])
            for m in config.visual_modalities}
    parts, outputs = [], {}
    guide = None
    if "audio" in inputs:
        audio_features = MFCCEncoder(config.audio_filters, config.audio_dropout, dtype=dtype,
                                     name="audio_encoder")(inputs["audio"])
        if config.guided:
            guide = _guide(config, audio_features, dtype)
    for modality, feature_map in maps.items():
        if guide is not None:
            feature_map, weights = AudioGuidedSpatialAttention(
                config.attention_units, config.softmax_over, config.residual, dtype=dtype,
                name=f"{modality}_audio_attention")([feature_map, guide])
            outputs[f"{modality}_weights"] = keras.layers.Identity(dtype="float32", name=f"{modality}_weights")(
                weights)
        parts.append(keras.layers.GlobalAveragePooling3D(dtype="float32", name=f"{modality}_pool")(feature_map))
    if "audio" in inputs:
        audio = guide if config.audio_to_head == "attended" else keras.layers.Flatten(
            dtype=dtype, name="audio_flatten")(audio_features)
        parts.append(keras.layers.Dropout(config.head_dropout, dtype="float32", name="audio_head_dropout")(audio))
    if len(parts) > 1:
        features = keras.layers.Concatenate(axis=-1, dtype="float32", name="features")(parts)
    else:
        features = parts[0]
    return inputs, {"features": features, **outputs}


@keras.saving.register_keras_serializable(package="avtfuse")
class CFNSRNet(GraphBackbone, keras.Model):
    """CFN-SR backbone, a `ContractModel` (SYSTEMS.md 4.2; reference code `networks/msaf_ravdess.py`).

    Encoders: audio MFCCs [212, 13] -> MFCCEncoder (MFCCNet) -> [26, 64] (the
    "raw" audio features); each camera [T, H, W, C] -> Video3DEncoder -> a map
    [S, h, w, C_v] ([2, 7, 7, 256] at 16 x 112 x 112; the stand-in for the 3-D
    ResNeXt-50).

    Cross-modal block (with `config.guided`: the block on, audio and a camera):
    the guide a [d] = the last step of the causal audio transformer over the
    raw features (or, without self-attention, Dense(d) of their time-mean);
    per camera AudioGuidedSpatialAttention(map, a): map (1 + alpha), or map
    alpha without the residual, alpha a softmax per sample over H x W of each
    slice ("hw") or over the whole map ("thw"). The public code sums the maps
    over the batch (SYSTEMS.md 4.5 trap 2); here a sample's output never
    depends on the rest of its batch.

    Features: concat[average-pooled map of each camera (S, h, w), Dropout(0.4)
    of the audio: the raw features flattened (26 x 64 = 1,664; the code) or,
    with `audio_to_head="attended"`, the guide a]. Without the block (Table
    2's "w/o cross-modal blocks") the pooled maps are those of the encoders.
    Without audio there is no guide: the cameras' pooled encoder maps,
    concatenated. One modality gives its unimodal net's features (MFCCNet:
    Flatten -> Dropout(0.4); video: the pooled map), the input of its linear
    pre-training head.

    Inputs: the data-contract dict with the run's modalities; other keys
    ("present", "recording", ...) are ignored: a missing modality arrives as
    zeros in its tensor. Outputs: {"features": float32 [B, D]} plus, with the
    block, "<camera>_weights" float32 [B, S, h, w] (the attention maps).

    Args:
        config: a `CFNSRConfig`, a dict of its fields, or None for the defaults.
        name: model name.
        dtype: dtype policy of every layer but the float32 pooling, head
            dropout, weights and concatenation (None: the global policy).
    """

    config_class = CFNSRConfig
    default_name = "cfn_sr"
    build_graph = staticmethod(build_graph)

    def encoder(self, modality):
        """The encoder layer of one modality (MFCCEncoder or Video3DEncoder), the part pre-training trains."""
        if modality not in self.config.modalities:
            raise ValueError(f"CFNSRNet.encoder modality: {modality!r} is not among {self.config.modalities}")
        return self.get_layer(f"{modality}_encoder")
