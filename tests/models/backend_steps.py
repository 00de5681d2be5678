"""One training step of every system under the backend of this process, written to an .npz for
test_backend_parity.py to compare across backends.

Run as `KERAS_BACKEND=<backend> python tests/models/backend_steps.py OUT.npz [SYSTEM ...]` (default: every system
of `SYSTEMS`). Per system the trained model is built as its recipe builds it, at tiny shapes and without dropout;
every weight its initializer did not set to a constant is drawn from NumPy, seeded by the weight's path (the same
numbers under every backend); the input standardisation is fitted on the batch's arrays (`ContractModel.adapt`);
then the inference outputs on one fixed NumPy batch, and one step of `model.fit(x=dict of arrays, y=labels)`: its
loss logs and every weight after it.
Keys of OUT: "<model>:<what>[:<name>]" with what "output", "log", "before" or "after" (weights, by path), and
"<model>:trainable" (the paths of the trained weights).
"""

import sys
import zlib

import keras
import numpy as np

from avtfuse.models.avtnet import AVTNet, AVTNetConfig, BranchFeatures, build_recognizer
from avtfuse.models.base import ContractClassifier
from avtfuse.models.cfn_sr import CFNSRConfig, CFNSRNet
from avtfuse.models.heads import build_linear_head
from avtfuse.models.mct_hfr import HybridReconstructionClassifier, MCTHFRConfig, MCTHFRNet, build_head
from avtfuse.models.sa_fusion import SAFusionConfig, SAFusionNet
from avtfuse.training.sgd import DampenedSGD
from avtfuse.training.speed import random_batch

BATCH = 8
CLASSES = 3


def seeded_weights(model):
    """Sets every weight of `model` that its initializer did not set to a constant (kernels, [..., fan_in, units])
    to N(0, 1 / fan_in) (LeCun's), drawn by NumPy from a seed made of its path; returns {path: value} of all
    weights."""
    for variable in model.weights:
        value = keras.ops.convert_to_numpy(variable)
        if value.size and np.ptp(value) > 0:
            rng = np.random.default_rng(zlib.crc32(variable.path.encode()))
            fan_in = value.size // value.shape[-1]
            variable.assign((rng.standard_normal(value.shape) / np.sqrt(fan_in)).astype(value.dtype))
    return weights(model)


def weights(model):
    return {variable.path: keras.ops.convert_to_numpy(variable) for variable in model.weights}


def sequence_batch(config, rng, steps=False):
    """A batch of the sequence contract: audio N(0, 5), frames in [0, 1], "present" all ones; with `steps` also
    the complete view "<m>_full", "<m>_mask" (ones) and "<m>_missing" (about 30 % of the steps, zeros in "<m>")."""
    inputs = {"present": np.ones((BATCH, len(config.modalities)), "float32")}
    for modality in config.modalities:
        shape = (BATCH, *config.input_shape(modality))
        full = (rng.normal(size=shape) * 5 if modality == "audio" else rng.uniform(size=shape)).astype("float32")
        inputs[modality] = full
        if steps:
            missing = (rng.uniform(size=shape[:2]) < 0.3).astype("float32")
            inputs[modality] = full * (1 - missing).reshape(shape[:2] + (1,) * (len(shape) - 2))
            inputs.update({f"{modality}_full": full, f"{modality}_mask": np.ones(shape[:2], "float32"),
                           f"{modality}_missing": missing})
    return inputs, np.arange(BATCH) % CLASSES


def one_step(results, name, model, backbone, inputs, labels, optimizer, loss=None):
    """Seeds the weights, fits the standardisation, records the inference outputs, fits one step."""
    model(inputs, training=False)  # builds a subclassed model
    results.update({f"{name}:before:{path}": value for path, value in seeded_weights(model).items()})
    if backbone is not None:
        backbone.adapt(inputs)
    outputs = model(inputs, training=False)
    outputs = outputs if isinstance(outputs, dict) else {"probabilities": outputs}
    results.update({f"{name}:output:{key}": keras.ops.convert_to_numpy(value) for key, value in outputs.items()})
    # TensorFlow runs the step eagerly (its kernels, not tf.function's tracing time); JAX compiles it.
    model.compile(optimizer=optimizer, loss=loss, run_eagerly=keras.backend.backend() == "tensorflow")
    history = model.fit(x=inputs, y=labels, batch_size=BATCH, epochs=1, shuffle=False, verbose=0).history
    results.update({f"{name}:log:{key}": np.float64(values[0]) for key, values in history.items()})
    results.update({f"{name}:after:{path}": value for path, value in weights(model).items()})
    results[f"{name}:trainable"] = np.array([variable.path for variable in model.trainable_weights])


def avtnet(results):
    """Phase 1 (AVTNet, its own metric losses), phase 2 (the recogniser on the trained backbone's features) and the
    E2E baseline (the feature branches and the recogniser, end to end)."""
    config = AVTNetConfig(audio_shape=(16, 8), image_size=(16, 16), image_filters=8, token_dim=8, embedding_dim=8,
                          hidden_dim=16, num_heads=2, ff_dim=16, joint_tokens="present",
                          attention="blocked", attention_block=5)
    model = AVTNet(config)
    inputs, labels = random_batch(model.input_shapes(), config.modalities, BATCH, np.random.default_rng(0))
    one_step(results, "avtnet", model, model, inputs, labels, keras.optimizers.SGD(0.1))
    features = keras.ops.convert_to_numpy(model.features(model(inputs, training=False)))
    people = int(labels.max()) + 1
    recognizer = build_recognizer(features.shape[1], people)
    one_step(results, "avtnet_recognizer", recognizer, None, features, labels, keras.optimizers.SGD(0.1),
             "sparse_categorical_crossentropy")
    backbone = BranchFeatures(config)
    model = ContractClassifier(backbone, build_recognizer(backbone.feature_dim, people))
    one_step(results, "avtnet_e2e", model, backbone, inputs, labels, keras.optimizers.SGD(0.1),
             "sparse_categorical_crossentropy")


def sa_fusion(results):
    """The end-to-end classifier (IA, one head, audio standardised) with the recipe's DampenedSGD."""
    config = SAFusionConfig(audio_shape=(24, 10), visible_shape=(8, 16, 16, 3), frame_filters=8, frame_units=16,
                            audio_width=8, visual_width=8, standardize_audio=True)
    inputs, labels = sequence_batch(config, np.random.default_rng(1))
    backbone = SAFusionNet(config)
    model = ContractClassifier(backbone, build_linear_head(backbone.feature_dim, CLASSES))
    one_step(results, "sa_fusion", model, backbone, inputs, labels,
             DampenedSGD(0.04, momentum=0.9, dampening=0.9, l2=1e-3), "sparse_categorical_crossentropy")


def mct_hfr(results):
    """The HybridReconstructionClassifier (cross-entropy, GFA and LFI) on incomplete sequences and their complete
    view, gradients clipped as the recipe's."""
    config = MCTHFRConfig(modalities=("audio", "visible"), audio_shape=(12, 6), visible_shape=(4, 5), units=16,
                          heads=2, layers=1, decoder_layers=1, embedding_dropout=0.0,
                          attention_dropout=(0.0, 0.0, 0.0), dropout=0.0)
    inputs, labels = sequence_batch(config, np.random.default_rng(2), steps=True)
    backbone = MCTHFRNet(config)
    model = HybridReconstructionClassifier(backbone, build_head(backbone.feature_dim, CLASSES, dropout=0.0))
    one_step(results, "mct_hfr", model, backbone, inputs, labels, keras.optimizers.SGD(0.1, clipvalue=0.8),
             "sparse_categorical_crossentropy")


def cfn_sr(results):
    """The fusion stage's classifier (audio-guided attention over the visible map, residual)."""
    config = CFNSRConfig(audio_shape=(28, 13), visible_shape=(4, 8, 8, 3), audio_filters=(8, 8, 16),
                         video_widths=(4, 8), video_strides=((1, 2, 2), (2, 2, 2)), attention_units=8,
                         transformer_layers=1, transformer_heads=2, transformer_ff=16, audio_dropout=0.0,
                         head_dropout=0.0, transformer_dropout=0.0, embed_dropout=0.0)
    inputs, labels = sequence_batch(config, np.random.default_rng(3))
    backbone = CFNSRNet(config)
    model = ContractClassifier(backbone, build_linear_head(backbone.feature_dim, CLASSES))
    one_step(results, "cfn_sr", model, backbone, inputs, labels, keras.optimizers.SGD(0.1),
             "sparse_categorical_crossentropy")


SYSTEMS = {system.__name__: system for system in (avtnet, sa_fusion, mct_hfr, cfn_sr)}


def main(path, names):
    results = {}
    for name in names or SYSTEMS:
        SYSTEMS[name](results)
    np.savez(path, **results)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
