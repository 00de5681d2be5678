"""SA-fusion (Chumachenko, Iosifidis, Gabbouj, ICPR 2022): two-stage 1-D CNN branches with cross-modal
attention fusion (LT, IT or IA), the backbone of the end-to-end emotion classifier (SYSTEMS.md 2.2)."""

import keras

from avtfuse.layers import (AttentionVectorFusion, CrossAttentionBlock, FrameEncoder, Standardization,
                            TemporalConvBlock)
from avtfuse.models.base import GraphBackbone
from avtfuse.models.sa_fusion.config import SAFusionConfig

# (filters as a multiple of the branch width, padding, pool) of the blocks of each stage (the reference code's
# conv1d_0 ... conv1d_3; width 64 in the paper).
AUDIO_STAGES = (((1, "valid", 2), (2, "valid", 2)), ((4, "valid", 2), (2, "valid", 2)))
VISUAL_STAGES = (((1, "same", None), (1, "same", None)), ((2, "same", None), (2, "same", None)))


def stage_blocks(config, modality, stage, dtype):
    """The TemporalConvBlocks of one branch stage (1 or 2) of a modality."""
    stages, width = (AUDIO_STAGES, config.audio_width) if modality == "audio" else (VISUAL_STAGES, config.visual_width)
    return [
        TemporalConvBlock(multiple * width, 3, padding, pool_size=pool, pool_strides=1 if pool else None, dtype=dtype,
                          name=f"{modality}_stage{stage}_{index}")
        for index, (multiple, padding, pool) in enumerate(stages[stage - 1])
    ]


def _apply(blocks, tensor):
    for block in blocks:
        tensor = block(tensor)
    return tensor


def _others(modalities, modality):
    return [other for other in modalities if other != modality]


def _mean(tensors, dtype, name):
    """The mean of a list of same-shape tensors (the tensor itself for one)."""
    if len(tensors) == 1:
        return tensors[0]
    return keras.layers.Average(dtype=dtype, name=name)(tensors)


def _intermediate_transformer(config, tokens, dtype):
    """IT: x_m <- x_m + mean over n != m of CrossAttentionBlock(kv = x_n, q = x_m, units = C_m)."""
    updated = {}
    for modality, query in tokens.items():
        updates = [
            CrossAttentionBlock(query.shape[-1], config.heads, query_residual=config.query_residual, dtype=dtype,
                                name=f"it_{other}_to_{modality}")([query, tokens[other]])
            for other in _others(tokens, modality)
        ]
        update = _mean(updates, dtype, f"it_{modality}_mean")
        updated[modality] = keras.layers.Add(dtype=dtype, name=f"it_{modality}_residual")([query, update])
    return updated


def _late_transformer(config, tokens, dtype):
    """LT: for each ordered pair, CrossAttentionBlock(kv = x_n, q = x_m, units lt_units), time-mean pooled."""
    pooled = []
    for modality, query in tokens.items():
        for other in _others(tokens, modality):
            fused = CrossAttentionBlock(config.lt_units, config.heads, query_residual=config.query_residual,
                                        dtype=dtype, name=f"lt_{other}_to_{modality}")([query, tokens[other]])
            pooled.append(keras.layers.GlobalAveragePooling1D(dtype="float32", name=f"lt_{other}_to_{modality}_pool")(
                fused))
    return pooled


def build_graph(config, dtype=None):
    """Symbolic inputs and outputs of SA-fusion: ({modality: Input}, {"features", ["<m>_weights"]})."""
    inputs = {m: keras.Input(shape=config.input_shape(m), name=m) for m in config.modalities}
    tokens = {}
    for modality, tensor in inputs.items():
        if modality == "audio":
            if config.standardize_audio:
                tensor = Standardization(axis=-1, name="audio_standardize")(tensor)
        else:
            tensor = FrameEncoder(config.frame_encoder, config.frame_filters, config.frame_units, dtype=dtype,
                                  name=f"{modality}_frame_encoder")(tensor)
        tokens[modality] = _apply(stage_blocks(config, modality, 1, dtype), tensor)

    outputs = {}
    fused = len(tokens) > 1
    if fused and config.fusion == "it":
        tokens = _intermediate_transformer(config, tokens, dtype)
    elif fused and config.fusion == "ia":
        scaled, weights = AttentionVectorFusion(config.heads, dtype=dtype, name="ia_fusion")(list(tokens.values()))
        tokens = dict(zip(tokens, scaled))
        outputs.update({f"{m}_weights": w for m, w in zip(config.modalities, weights)})

    tokens = {m: _apply(stage_blocks(config, m, 2, dtype), tensor) for m, tensor in tokens.items()}

    if fused and config.fusion == "lt":
        pooled = _late_transformer(config, tokens, dtype)
    else:
        pooled = [keras.layers.GlobalAveragePooling1D(dtype="float32", name=f"{m}_pool")(tensor)
                  for m, tensor in tokens.items()]
    if len(pooled) > 1:
        features = keras.layers.Concatenate(axis=-1, dtype="float32", name="features")(pooled)
    else:
        features = pooled[0]
    return inputs, {"features": features, **outputs}


@keras.saving.register_keras_serializable(package="avtfuse")
class SAFusionNet(GraphBackbone, keras.Model):
    """SA-fusion backbone, a `ContractModel` (SYSTEMS.md 2.2, reference code `models/multimodalcnn.py`).

    Branches: audio MFCCs [156, 10] -> stage 1 (TemporalConvBlock 64, 128:
    "valid" conv 3 + BN + ReLU + max-pool 2 / stride 1) -> [150, 128] ->
    stage 2 (256, 128) -> [144, 128]. Each visual modality: FrameEncoder ->
    [T, D_f] -> stage 1 ("same" conv 3 + BN + ReLU, 64, 64) -> [T, 64] ->
    stage 2 (128, 128) -> [T, 128]. These are the paper's widths
    (`config.audio_width` and `config.visual_width` 64, `config.lt_units`
    128, `config.frame_units` 256); other widths scale every block alike.

    Fusion (`config.fusion`; with M modalities each modality is updated with the
    mean over the others of its pairwise update, SYSTEMS.md 2.7):
    - "lt": after stage 2, CrossAttentionBlock(kv = x_n, q = x_m, 128) for every
      ordered pair (m, n); features = the time-means of the block outputs,
      concatenated (M(M-1) x 128).
    - "it": after stage 1, x_m <- x_m + CrossAttentionBlock(kv = x_n, q = x_m,
      C_m); stage 2; features = time-means concatenated (M x 128).
    - "ia": after stage 1, AttentionVectorFusion (time steps scaled by attention
      vectors); stage 2; time-means concatenated (M x 128).
    One modality: no fusion, features = its stage-2 time-mean (128).

    Inputs: the data-contract dict with the run's modalities, "audio" [B, T_a,
    n_mfcc], "visible" / "thermal" [B, T, H, W, C] frames in [0, 1]; other keys
    ("present", "recording", ...) are ignored: a missing modality arrives as
    zeros (or noise) in its tensor.
    Outputs: {"features": float32 [B, D]} plus, for "ia" with several
    modalities, "<modality>_weights" float32 [B, T_m'] (the stage-1 attention
    vectors).

    Args:
        config: an `SAFusionConfig`, a dict of its fields, or None for the defaults.
        name: model name.
        dtype: dtype policy of every layer but the float32 pooling and
            concatenation (None: the global policy).
    """

    config_class = SAFusionConfig
    default_name = "sa_fusion"
    build_graph = staticmethod(build_graph)
