"""TensorFlow's pooled CPU allocator: asked for by the experiments package before TensorFlow loads, a user's own
choice kept, and seen, with oneDNN's kernels off, in the page faults of repeated large tensors."""

import json
import os
import subprocess
import sys

from avtfuse.cpu_allocator import (ONEDNN_VARIABLE, POOLED_ALLOCATOR_VARIABLE, cpu_speed_settings,
                                   use_pooled_cpu_allocator)

# Ten steps each making a fresh 64 MiB tensor (16,384 pages of 4 KiB) after one untimed step; prints the variable's
# value and the minor page faults of the ten.
FAULTS_SCRIPT = """
import json, os, resource
import experiments
import tensorflow as tf
step = tf.function(lambda seed: tf.reduce_sum(tf.random.stateless_uniform((4096, 4096), seed)))
step(tf.constant([0, 0]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for index in range(10):
    step(tf.constant([index, 1]))
print(json.dumps({"variable": os.environ.get(%r),
                  "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
""" % POOLED_ALLOCATOR_VARIABLE


def test_use_pooled_cpu_allocator_keeps_a_set_value():
    environ = {}
    use_pooled_cpu_allocator(environ)
    assert environ == {POOLED_ALLOCATOR_VARIABLE: "true"}
    environ = {POOLED_ALLOCATOR_VARIABLE: "false"}
    use_pooled_cpu_allocator(environ)
    assert environ == {POOLED_ALLOCATOR_VARIABLE: "false"}
    assert cpu_speed_settings(environ) == {ONEDNN_VARIABLE: None, POOLED_ALLOCATOR_VARIABLE: "false"}


def test_experiments_reuse_tensor_memory_without_onednn_unless_told_not_to():
    def run(**extra):
        env = {key: value for key, value in os.environ.items() if key != POOLED_ALLOCATOR_VARIABLE}
        done = subprocess.run([sys.executable, "-c", FAULTS_SCRIPT], capture_output=True, text=True,
                              env={**env, ONEDNN_VARIABLE: "0", **extra}, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    pooled, malloc = run(), run(**{POOLED_ALLOCATOR_VARIABLE: "false"})
    assert pooled["variable"] == "true" and malloc["variable"] == "false"
    pages = 10 * 4096 * 4096 * 4 // 4096
    assert malloc["faults"] > pages // 2  # malloc: the memory of every step faulted in again
    assert pooled["faults"] < pages // 20  # pooled: the first step's block reused
