"""MCT-HFR (Chen and Zhang): the modality-collaborative transformer backbone with hybrid feature reconstruction
(LFI decoders, GFA predictor), SYSTEMS.md 3.2."""

import math

import keras
from keras import ops

from avtfuse.distribute import batch_normalization
from avtfuse.layers import (CGatePooling, FrameEncoder, LFIDecoder, MaskedAttentionPooling, MCTEncoder,
                            SinusoidalPositionEmbedding, Standardization)
from avtfuse.losses.reconstruction import masked_smooth_l1
from avtfuse.models.base import ContractModel
from avtfuse.models.mct_hfr.config import MCTHFRConfig


@keras.saving.register_keras_serializable(package="avtfuse")
class MCTHFRNet(ContractModel, keras.Model):
    """MCT-HFR backbone, a `ContractModel` (SYSTEMS.md 3.2; public code `src/model.py`).

    Per modality m: input features X_m [B, T_m, d_m] (audio standardised per
    band; frames through a FrameEncoder) -> X'_m = Conv1D(d, k_m, same, no
    bias) -> H_m = sqrt(d) X'_m + PE(mask_m) -> Dropout -> the MCT encoder
    (N MRAU layers over the hyper-modality, outer residual) -> E_m -> masked
    pooling -> h_m; features h = concat_m h_m, float32 [B, M w] (w = d for
    attention pooling, cgate_units for C_GATE).

    Training with the complete view (config.lfi or config.gfa, and
    "<m>_full" inputs): the complete inputs go through the same layers
    (h̄); each LFI decoder D_m(X'_m, E_m) reconstructs the complete input
    features X̄_m, scored on the missing steps (masked SmoothL1, summed over
    modalities); the GFA predictor P = Dense(w/2, no bias) -> BN -> ReLU ->
    Dense(w) maps h and h̄ for the stop-gradient alignment.

    Inputs: the sequence data contract: "<m>" [B, T_m, d_m] or [B, T_m, H, W,
    C] (missing steps zero), "<m>_mask" [B, T_m] (1 real, 0 padding; all ones
    when absent); in training also "<m>_full" and "<m>_missing" [B, T_m].
    Whole-modality absence needs no "present": every step is zero (SYSTEMS.md
    3.7). Outputs: {"features": float32 [B, D]}; in training with the complete
    view also "complete_features" [B, D], "reconstruction_loss" (float32
    scalar, LFI) and, with GFA, "projection" = P(h) and "complete_projection"
    = P(h̄), float32 [B, D].

    Args:
        config: an `MCTHFRConfig`, a dict of its fields, or None for the defaults; the model builds and keeps
            its `at_width()` (hidden widths scaled by its width multiplier).
        name: model name.
        dtype: dtype policy of the layers (None: the global policy); pooled
            features and losses are float32.
    """

    def __init__(self, config=None, name="mct_hfr", dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        config = MCTHFRConfig.coerce(config).at_width()
        self.config = config
        policy = self.dtype_policy
        modalities = config.modalities
        self.frame_encoders = [
            FrameEncoder(config.frame_encoder, config.frame_filters, config.frame_units, dtype=policy,
                         name=f"{m}_frame_encoder") if config.is_frames(m) else None for m in modalities]
        self.audio_standardize = Standardization(axis=-1, name="audio_standardize") \
            if "audio" in modalities and config.standardize_audio else None
        self.projections = [
            keras.layers.Conv1D(config.units, config.setting("conv_kernels", m), padding="same", use_bias=False,
                                dtype=policy, name=f"{m}_projection") for m in modalities]
        self.position_embedding = SinusoidalPositionEmbedding(config.units, dtype=policy, name="position_embedding")
        self.embedding_dropout = keras.layers.Dropout(config.embedding_dropout, dtype=policy, name="embedding_dropout")
        self.encoder = MCTEncoder(
            num_layers=config.layers, units=config.units, num_heads=config.heads, num_modalities=len(modalities),
            max_lengths=tuple(config.input_shape(m)[0] for m in modalities),
            attention_dropout=tuple(config.setting("attention_dropout", m) for m in modalities),
            dropout=config.dropout, outer_residual=config.outer_residual, use_gamma_b=config.gamma_b,
            use_gamma_e=config.gamma_e, dtype=policy, name="mct_encoder")
        if config.pooling == "attention":
            self.poolings = [MaskedAttentionPooling(dtype=policy, name=f"{m}_pooling") for m in modalities]
        else:
            self.poolings = [CGatePooling(config.cgate_units, dtype=policy, name=f"{m}_pooling") for m in modalities]
        self.decoders = [
            LFIDecoder(self.input_dim(m), units=config.units, num_layers=config.decoder_layers, num_heads=config.heads,
                       ffn_units=config.decoder_ffn_units, dropout=config.dropout,
                       embedding_dropout=config.embedding_dropout, dtype=policy, name=f"{m}_decoder")
            for m in modalities] if config.lfi else []
        width = self.pooled_width * len(modalities)
        self.predictor = keras.Sequential([
            keras.layers.Dense(width // 2, use_bias=False, dtype=policy, name="dense_0"),
            batch_normalization(dtype=policy, name="batch_norm"),
            keras.layers.ReLU(dtype=policy, name="relu"),
            keras.layers.Dense(width, dtype=policy, name="dense_1"),
        ], name="gfa_predictor") if config.gfa else None

    def build(self, input_shape=None):
        """Builds the audio standardisation (its statistics are tensors that must not be made in a scratch graph)
        and the layers only training runs, the LFI decoders and the GFA predictor, at once: so every variable
        exists before the first training step, which JAX's trainer needs (it cannot create one inside its
        traced step; Keras builds a model by an inference call). The other layers build on the first call."""
        if self.audio_standardize is not None and not self.audio_standardize.built:
            self.audio_standardize.build((None, *self.config.audio_shape))
        for modality, decoder in zip(self.config.modalities, self.decoders):
            tokens = (None, self.config.input_shape(modality)[0], self.config.units)
            decoder.build(tokens, tokens)
        if self.predictor is not None:
            self.predictor.build((None, self.pooled_width * len(self.config.modalities)))
        self.built = True

    @property
    def pooled_width(self):
        """w, the width of one modality's pooled vector."""
        return self.config.units if self.config.pooling == "attention" else self.config.cgate_units

    def input_dim(self, modality):
        """d_m, the width of a modality's input features X_m (the frame encoder's output for frames)."""
        encoder = self.frame_encoders[self.config.modalities.index(modality)]
        return encoder.output_units if encoder is not None else self.config.input_shape(modality)[1]

    def input_shapes(self):
        shapes = {m: self.config.input_shape(m) for m in self.config.modalities}
        shapes.update({f"{m}_mask": (self.config.input_shape(m)[0],) for m in self.config.modalities})
        return shapes

    def features(self, outputs):
        """The head's input: outputs["features"], float32 [B, D]."""
        if "features" not in outputs:
            raise ValueError(f"MCTHFRNet.features outputs: no 'features' key (got {sorted(outputs)})")
        return outputs["features"]

    def _input_features(self, inputs, suffix, training):
        """X_m of each modality from inputs[m + suffix]: [B, T_m, d_m] in the compute dtype."""
        features = []
        for modality, encoder in zip(self.config.modalities, self.frame_encoders):
            tensor = ops.cast(inputs[modality + suffix], self.compute_dtype)
            if encoder is not None:
                tensor = encoder(tensor, training=training)
            elif modality == "audio" and self.audio_standardize is not None:
                tensor = ops.cast(self.audio_standardize(tensor), self.compute_dtype)
            features.append(tensor)
        return features

    def _encode(self, features, masks, training):
        """(X'_m, E_m, h) of one view: projected inputs, encoder outputs, pooled float32 features [B, D]."""
        scale = math.sqrt(self.config.units)
        projected = [projection(x) for projection, x in zip(self.projections, features)]
        tokens = [self.embedding_dropout(p * scale + self.position_embedding(mask), training=training)
                  for p, mask in zip(projected, masks)]
        encoded = self.encoder(tokens, masks=masks, training=training)
        pooled = [ops.cast(pooling(e, mask=mask, training=training), "float32")
                  for pooling, e, mask in zip(self.poolings, encoded, masks)]
        return projected, encoded, ops.concatenate(pooled, axis=-1) if len(pooled) > 1 else pooled[0]

    def call(self, inputs, training=None):
        if not isinstance(inputs, dict):
            raise ValueError(f"MCTHFRNet inputs: expected a dict keyed by modality, got {type(inputs).__name__}")
        modalities = self.config.modalities
        missing = [m for m in modalities if m not in inputs]
        if missing:
            raise ValueError(f"MCTHFRNet inputs: missing keys {missing} (got {sorted(inputs)})")
        masks = [ops.cast(inputs[f"{m}_mask"], self.compute_dtype) if f"{m}_mask" in inputs
                 else ops.ones(ops.shape(inputs[m])[:2], self.compute_dtype) for m in modalities]
        features = self._input_features(inputs, "", training)
        projected, encoded, pooled = self._encode(features, masks, training)
        outputs = {"features": pooled}
        complete_view = all(f"{m}_full" in inputs for m in modalities)
        if not (training and self.config.hybrid and complete_view):
            return outputs
        complete = self._input_features(inputs, "_full", training)
        if self.config.gfa:
            outputs["complete_features"] = self._encode(complete, masks, training)[2]
            outputs["projection"] = ops.cast(self.predictor(pooled, training=training), "float32")
            outputs["complete_projection"] = ops.cast(
                self.predictor(outputs["complete_features"], training=training), "float32")
        if self.config.lfi:
            losses = []
            for m, decoder, x_prime, e, mask, target in zip(modalities, self.decoders, projected, encoded, masks,
                                                           complete):
                reconstruction = decoder(x_prime, e, mask=mask, training=training)
                losses.append(masked_smooth_l1(ops.stop_gradient(target), reconstruction, inputs[f"{m}_missing"]))
            outputs["reconstruction_loss"] = ops.sum(ops.stack(losses))
        return outputs

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name, "dtype": self.dtype_policy.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
