"""The part AVTNet and its baselines share: inputs, input standardisation and feature branches."""

import keras

from avtfuse.layers import AudioBranch, ImageBranch, Standardization
from avtfuse.models.base import ContractModel


def input_shapes(config):
    """{modality: input shape without the batch axis} of the run's modalities of an AVTNetConfig."""
    shapes = {
        "audio": config.audio_shape,
        "visible": (*config.image_size, 3),
        "thermal": (*config.image_size, config.thermal_channels),
    }
    return {modality: tuple(shapes[modality]) for modality in config.modalities}


def branch(config, modality, dtype):
    """The feature branch of one modality: [B, frames, 64] for audio, [B, H/8, W/8, 64] for images."""
    if modality == "audio":
        return AudioBranch(
            config.token_dim, config.audio_kernel_size, config.audio_layers, dtype=dtype, name="audio_branch")
    return ImageBranch(
        config.image_filters,
        config.image_kernel_size,
        config.image_blocks,
        output_filters=config.token_dim,
        recompute_slices=config.image_recompute_slices,
        dtype=dtype,
        name=f"{modality}_branch",
    )


def feature_maps(config, dtype):
    """Symbolic inputs and feature maps of the run's modalities: (inputs, maps), dicts by modality.

    With `config.standardize_inputs` a `Standardization` layer named
    "<modality>_standardize" (per mel band / per channel) precedes each
    branch; `ContractModel.adapt` fits it.
    """
    inputs = {m: keras.Input(shape=shape, name=m) for m, shape in input_shapes(config).items()}
    maps = {}
    for modality, tensor in inputs.items():
        if config.standardize_inputs:
            tensor = Standardization(axis=-1, name=f"{modality}_standardize")(tensor)
        maps[modality] = branch(config, modality, dtype)(tensor)
    return inputs, maps


class BranchBackbone(ContractModel):
    """Mixin of the functional backbones built on these branches (AVTNet, BranchFeatures).

    Reads the keys of `input_shapes` from the contract dict (the run's
    modalities, and "present" where the model reads it; other keys, such as
    "recording", are dropped), and round-trips through its
    config: `get_config` gives {"config", "name", "dtype"}.
    """

    def input_shapes(self):
        return input_shapes(self.config)

    def call(self, inputs, training=None, mask=None):
        owner = type(self).__name__
        if not isinstance(inputs, dict):
            raise ValueError(f"{owner} inputs: expected a dict keyed by modality, got {type(inputs).__name__}")
        missing = [key for key in self.input_shapes() if key not in inputs]
        if missing:
            raise ValueError(f"{owner} inputs: missing keys {missing} (got {sorted(inputs)})")
        model_inputs = {key: inputs[key] for key in self.input_shapes()}
        return super().call(model_inputs, training=training, mask=mask)

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name, "dtype": self.dtype_policy.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
