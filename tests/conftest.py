"""Shared test set-up: quiet TensorFlow logs, keep tests on the CPU, off oneDNN's kernels and on the pooled CPU
allocator, seed every test, and the registry of tiny trained runs every test reading a run's outputs shares
(tests/registry.py; docs/testing.md)."""

import os

from avtfuse.cpu_allocator import ONEDNN_VARIABLE, use_pooled_cpu_allocator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# TensorFlow's oneDNN kernels off (docs/testing.md): on an AMD EPYC with AVX-512 its brgemm convolution segfaulted
# serving the registry's SavedModels, and capped at AVX2 its bfloat16 matmul stopped on an illegal instruction.
os.environ.setdefault(ONEDNN_VARIABLE, "0")
# Without oneDNN, TensorFlow's pooled CPU allocator instead of malloc's page faults (avtfuse.cpu_allocator).
use_pooled_cpu_allocator()

import keras  # noqa: E402  (after the environment above)
import pytest  # noqa: E402

from tests.registry import Registry, session_root  # noqa: E402


@pytest.fixture(autouse=True)
def seeded():
    """Same weight initialisation in every run, whatever the test order."""
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """The session's registry of tiny trained runs and data trees, shared by the xdist workers: each entry is
    built once, by the first worker that asks for it (tests/registry.py)."""
    return Registry(session_root(tmp_path_factory))
