"""Runs a Python script as on a machine without TensorFlow: `python without_tensorflow.py SCRIPT [ARGS ...]`;
any import of tensorflow in it fails with ImportError."""

import runpy
import sys


class NoTensorFlow:
    """A meta-path finder that refuses tensorflow and its submodules."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError(f"{name}: not installed on this machine (without_tensorflow.py)")
        return None


if __name__ == "__main__":
    sys.meta_path.insert(0, NoTensorFlow())
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
