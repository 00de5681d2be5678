"""TensorFlow's CPU memory with oneDNN's kernels off: a pooled allocator instead of the system's malloc.

With oneDNN's kernels on (TensorFlow's default on x86) TensorFlow's CPU
allocator already pools large blocks. With them off (TF_ENABLE_ONEDNN_OPTS=0:
the test suite, and the cure for oneDNN's crash on some AVX-512 CPUs,
docs/testing.md) it takes each tensor from malloc, and glibc hands large
freed blocks back to the system (above 32 MiB always: an attention map of a
batch of 32), so every step pays for their pages again in page faults. The
BFC allocator keeps them for the next step (docs/benchmarks.md). The setting
must be made before TensorFlow loads; the experiments package and the test
suite make it on import.
"""

import os

POOLED_ALLOCATOR_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def use_pooled_cpu_allocator(environ=None):
    """Asks TensorFlow for its pooled (BFC) CPU allocator unless `environ` (default os.environ) already says
    which to use (TF_CPU_ALLOCATOR_USE_BFC=false keeps malloc). Only effective before TensorFlow loads."""
    (os.environ if environ is None else environ).setdefault(POOLED_ALLOCATOR_VARIABLE, "true")


def cpu_speed_settings(environ=None):
    """{variable: its value in `environ` (default os.environ), or None when unset} for oneDNN's kernels and the
    pooled allocator, which a benchmark's figures depend on (unset: TensorFlow's defaults, oneDNN on and malloc)."""
    environ = os.environ if environ is None else environ
    return {name: environ.get(name) for name in (ONEDNN_VARIABLE, POOLED_ALLOCATOR_VARIABLE)}
