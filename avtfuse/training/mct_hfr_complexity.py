"""MCT-HFR's complexity in the layout of its paper's Table 4: parameters and MACs of one MRAU layer and of the whole
model in training and in inference, at batch 1 and a run's shapes; written as complexity.md in the run folder."""

import os

import tensorflow as tf

from avtfuse.evaluation.complexity import complexity_markdown, count_macs
from avtfuse.files import atomic_text
from avtfuse.models.mct_hfr import MCTHFRNet

COMPLEXITY_FILE = "complexity.md"


def complexity_table(model_config):
    """Parameters and MACs of one MRAU layer and of the whole model in training (both views, LFI decoders, GFA
    predictor) and in inference (the incomplete view), at batch 1 and the run's shapes, in the layout of the
    paper's Table 4 (its counts leave out the extractors; ours include the trainable frame encoders): markdown."""
    model = MCTHFRNet(model_config)
    shapes = {m: model_config.input_shape(m) for m in model_config.modalities}
    serving = {name: tf.TensorSpec((1, *shape)) for name, shape in model.input_shapes().items()}
    training = {**serving, **{f"{m}_full": tf.TensorSpec((1, *shapes[m])) for m in shapes},
                **{f"{m}_missing": tf.TensorSpec((1, shapes[m][0])) for m in shapes}}
    model({name: tf.zeros(spec.shape) for name, spec in training.items()}, training=True)  # variables, eagerly
    layer = model.encoder.encoder_layers[0]
    layer_specs = [tf.TensorSpec((1, shapes[m][0], model_config.units)) for m in shapes]
    rows = [{"name": "one MRAU layer", "macs": count_macs(lambda tokens: layer(tokens), [layer_specs])},
            {"name": "whole model (training)", "macs": count_macs(lambda x: model(x, training=True), training)},
            {"name": "whole model (inference)", "macs": count_macs(lambda x: model(x, training=False), serving)}]
    trained_only = [*model.decoders, *([model.predictor] if model.predictor is not None else [])]
    rows[0]["parameters"] = layer.count_params()
    rows[1]["parameters"] = model.count_params()
    rows[2]["parameters"] = model.count_params() - sum(part.count_params() for part in trained_only)
    return complexity_markdown(rows)


def write_complexity(config):
    """Writes the complexity table of a run's model (an ExperimentConfig) as complexity.md in its run folder;
    returns the markdown (a note instead under pooling "cgate": the profiler counts one step of a GRU's loop)."""
    if config.model.pooling == "cgate":
        return "complexity: not counted with --pooling cgate (the profiler counts one step of a GRU's loop)"
    table = "## Complexity (batch 1, the run's shapes)\n\n" + complexity_table(config.model)
    atomic_text(os.path.join(config.run_dir, COMPLEXITY_FILE), table)
    return table
