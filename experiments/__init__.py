"""Thin entry points: parse arguments, call the library.

TensorFlow's C++ notices are hidden unless --verbose 2 is among the
arguments; that has to be decided before any module imports TensorFlow.
"""

import sys

from avtfuse import console, cpu_allocator

console.silence_tensorflow_notices(console.requested_verbosity(sys.argv[1:]))
cpu_allocator.use_pooled_cpu_allocator()
