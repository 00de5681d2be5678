"""Shared test set-up: quiet TensorFlow logs, keep tests on the CPU, seed every test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402  (after the environment above)
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def seeded():
    """Same weight initialisation in every run, whatever the test order."""
    keras.utils.set_random_seed(0)
