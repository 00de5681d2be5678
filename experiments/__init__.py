"""Thin entry points: parse arguments, call the library.

TensorFlow's C++ notices are hidden unless --verbose 2 is among the
arguments; that has to be decided before any module imports TensorFlow.
"""

import sys

from avtfuse import console

console.silence_tensorflow_notices(console.requested_verbosity(sys.argv[1:]))
