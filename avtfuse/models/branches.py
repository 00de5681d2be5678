"""The part AVTNet and its baselines share: inputs, input standardisation and feature branches."""

import keras

from avtfuse.layers import AudioBranch, ImageBranch


def input_shape(config, modality):
    """Input shape (no batch axis) of one modality of an AVTNetConfig."""
    if modality == "audio":
        return config.audio_shape
    channels = 3 if modality == "visible" else config.thermal_channels
    return (*config.image_size, channels)


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
        dtype=dtype,
        name=f"{modality}_branch",
    )


def feature_maps(config, dtype):
    """Symbolic inputs and feature maps of the run's modalities: (inputs, maps), dicts by modality.

    With `config.standardize_inputs` a keras Normalization layer named
    "<modality>_standardize" (per mel band / per channel) precedes each
    branch; fit it with `adapt_standardization`.
    """
    inputs = {m: keras.Input(shape=input_shape(config, m), name=m) for m in config.modalities}
    maps = {}
    for modality, tensor in inputs.items():
        if config.standardize_inputs:
            tensor = keras.layers.Normalization(axis=-1, dtype=dtype, name=f"{modality}_standardize")(tensor)
        maps[modality] = branch(config, modality, dtype)(tensor)
    return inputs, maps


def adapt_standardization(model, samples, max_samples=2048):
    """Fits the model's "<modality>_standardize" layers on real (present) training samples.

    samples: an unbatched tf.data.Dataset of (inputs, label) in the data
    contract; for each modality only samples whose present bit is 1 are used
    (at most `max_samples`). A no-op when the model has no standardisation.
    """
    if not model.config.standardize_inputs:
        return
    for index, modality in enumerate(model.config.modalities):
        real = samples.filter(lambda x, y, i=index: x["present"][i] > 0).map(lambda x, y, m=modality: x[m])
        model.get_layer(f"{modality}_standardize").adapt(real.take(max_samples).batch(256))
