"""The model and losses are backend-agnostic: they build and train a step under KERAS_BACKEND=jax."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import keras, numpy as np
    assert keras.backend.backend() == "jax"
    from avtfuse.losses import missing_modality_loss, batch_hard_triplet_loss
    from avtfuse.models.avtnet import AVTNet, AVTNetConfig, BranchFeatures, build_recognizer
    from avtfuse.models.base import ContractClassifier
    from avtfuse.training.speed import random_batch
    config = AVTNetConfig(audio_shape=(16, 8), image_size=(16, 16))
    model = AVTNet(config)
    inputs, labels = random_batch(model.input_shapes(), config.modalities, 8, np.random.default_rng(0))
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.99))
    logs = model.train_on_batch(inputs, labels, return_dict=True)
    assert np.isfinite(logs["loss"]) and "loss_joint" in logs, logs
    emb = model(inputs)["audio"]
    value = float(missing_modality_loss(labels, emb, inputs["present"][:, 0]))
    assert np.isfinite(value) and np.isfinite(float(batch_hard_triplet_loss(labels, emb)))
    backbone = BranchFeatures(config)
    combined = ContractClassifier(backbone, build_recognizer(backbone.feature_dim, 4))
    combined.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(combined.train_on_batch(inputs, labels))
    print("jax ok", logs["loss"])
""")


def test_avtnet_trains_a_step_under_jax():
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "jax ok" in done.stdout
