"""The systems train under KERAS_BACKEND=jax from NumPy arrays with TensorFlow's numbers, up to rounding.

backend_steps.py builds each system's trained model(s) as its recipe does (AVTNet's phase 1, phase-2 recogniser
and E2E baseline; SA-fusion's, MCT-HFR's and CFN-SR's classifiers), with the same seeded weights, and fits one
step on one NumPy batch (`model.fit(x=dict of arrays, y=labels)`); it runs once per backend, in a subprocess each
(the backend is fixed per process), the two side by side, the JAX one with tensorflow unimportable (as on a
machine with JAX alone). Dropout is 0 throughout: nothing draws random numbers. AVTNet's joint attention is blocked
in ragged blocks of 5 tokens (recomputed in the backward pass: jax.checkpoint against tf.recompute_grad).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

STEPS = os.path.join(os.path.dirname(__file__), "backend_steps.py")
WITHOUT_TENSORFLOW = os.path.join(os.path.dirname(__file__), "without_tensorflow.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = ("avtnet", "avtnet_recognizer", "avtnet_e2e", "sa_fusion", "mct_hfr", "cfn_sr")
# Rounding: float32 kernels of two libraries (oneDNN / Eigen against XLA) sum in different orders.
RTOL, ATOL = 1e-4, 1e-5
# XLA's CPU code generation at its lowest optimisation level: the same arithmetic (no fast-math at either level),
# compiled faster (the JAX run: 35 s of CPU instead of 57 s).
XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    """{backend: the .npz backend_steps.py wrote under it}."""
    folder = tmp_path_factory.mktemp("backend_steps")
    runs = {}
    for backend in ("tensorflow", "jax"):
        env = dict(os.environ, KERAS_BACKEND=backend, JAX_PLATFORMS="cpu", XLA_FLAGS=XLA_FLAGS,
                   TF_CPP_MIN_LOG_LEVEL="3",
                   PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
        path = str(folder / f"{backend}.npz")
        command = [sys.executable, STEPS, path] if backend == "tensorflow" else \
            [sys.executable, WITHOUT_TENSORFLOW, STEPS, path]
        runs[backend] = (path, subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                text=True))
    outputs = {backend: process.communicate(timeout=600)[0] for backend, (_, process) in runs.items()}
    for backend, (_, process) in runs.items():
        assert process.returncode == 0, f"{backend}:\n{outputs[backend][-3000:]}"
    return {backend: dict(np.load(path)) for backend, (path, _) in runs.items()}


def entries(results, model, what):
    """{name: array} of one model's entries of one kind."""
    prefix = f"{model}:{what}:"
    return {key[len(prefix):]: value for key, value in results.items() if key.startswith(prefix)}


def test_both_backends_record_the_same_models_weights_and_logs(steps):
    assert set(steps["tensorflow"]) == set(steps["jax"])
    for model in MODELS:
        assert entries(steps["jax"], model, "output") and entries(steps["jax"], model, "after"), model
        assert "loss" in entries(steps["jax"], model, "log"), model
    assert {"loss_audio", "loss_visible", "loss_thermal", "loss_joint"} <= set(entries(steps["jax"], "avtnet", "log"))


@pytest.mark.parametrize("model", MODELS)
def test_a_training_step_gives_the_same_numbers_under_jax(steps, model):
    tf_run, jax_run = steps["tensorflow"], steps["jax"]
    before = entries(tf_run, model, "before")
    for path, value in entries(jax_run, model, "before").items():
        np.testing.assert_array_equal(value, before[path], err_msg=f"{model} {path}: not the same start")
    for what in ("output", "log", "after"):
        expected = entries(tf_run, model, what)
        for name, value in entries(jax_run, model, what).items():
            np.testing.assert_allclose(value, expected[name], rtol=RTOL, atol=ATOL, err_msg=f"{model} {what} {name}")
    # The step itself: each trained weight's update against the largest update, so that a weight whose gradient
    # is zero up to rounding (a bias under batch norm, a key bias under softmax) is held to the model's scale.
    after = {backend: entries(run, model, "after") for backend, run in steps.items()}
    updates = {backend: {path: after[backend][path] - entries(run, model, "before")[path]
                         for path in run[f"{model}:trainable"]} for backend, run in steps.items()}
    scale = max(np.abs(update).max() for update in updates["tensorflow"].values())
    assert scale > 1e-3, f"{model}: the step moved no weight"
    for path, update in updates["jax"].items():
        np.testing.assert_allclose(update, updates["tensorflow"][path], rtol=0, atol=RTOL * scale,
                                   err_msg=f"{model} update of {path}")
