"""Runs a portable model (LiteRT .tflite or ONNX .onnx, written by avtfuse.serving.portable) with NumPy arrays.

Imports neither TensorFlow nor any other avtfuse module: a device needs only
NumPy and `ai-edge-litert` (for .tflite) or `onnxruntime` (for .onnx).

    model = PortableModel("avtnet.tflite")
    model.inputs          # {"audio": ((None, 16, 8), numpy.float32), ..., "present": ((None, 3), numpy.float32)}
    outputs = model(audio=..., visible=..., thermal=..., present=...)   # {"probabilities", "label", "embedding"}
"""

import pathlib

import numpy as np

ONNX_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int32)": np.int32,
              "tensor(int64)": np.int64, "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}


class PortableModel:
    """One exported signature as a LiteRT or ONNX file, chosen by the suffix of `path` (.tflite or .onnx).

    `inputs`: {name: (shape with None for a free axis such as the batch, NumPy dtype)}, the names of the
    SavedModel signature it came from. Calling it with every input by name (arrays, cast to the input's
    dtype) returns {output name: NumPy array}, e.g. "probabilities" float32 [B, P], "label" int32 [B],
    "embedding" float32 [B, D]. num_threads: CPU threads of the runtime (None: its default).
    """

    def __init__(self, path, num_threads=None):
        self.path = pathlib.Path(path)
        if not self.path.is_file():
            raise ValueError(f"{self.path}: no such model file")
        if self.path.suffix == ".tflite":
            self._open_litert(num_threads)
        elif self.path.suffix == ".onnx":
            self._open_onnx(num_threads)
        else:
            raise ValueError(f"{self.path}: expected a .tflite or .onnx file, got suffix {self.path.suffix!r}")

    def _open_litert(self, num_threads):
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
        signatures = interpreter.get_signature_list()
        if len(signatures) != 1:
            raise ValueError(f"{self.path}: expected one signature, found {sorted(signatures)}")
        self.signature_key = next(iter(signatures))
        runner = interpreter.get_signature_runner(self.signature_key)
        self.inputs = {name: (tuple(None if size < 0 else int(size) for size in detail["shape_signature"]),
                              np.dtype(detail["dtype"]).type)
                       for name, detail in sorted(runner.get_input_details().items())}
        self.output_names = tuple(sorted(runner.get_output_details()))
        self._run = runner

    def _open_onnx(self, num_threads):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.signature_key = None
        unknown = {item.name: item.type for item in session.get_inputs() if item.type not in ONNX_TYPES}
        if unknown:
            raise ValueError(f"{self.path}: inputs of unsupported types {unknown}")
        self.inputs = {item.name: (tuple(size if isinstance(size, int) else None for size in item.shape),
                                   ONNX_TYPES[item.type])
                       for item in sorted(session.get_inputs(), key=lambda item: item.name)}
        self.output_names = tuple(sorted(item.name for item in session.get_outputs()))
        self._run = lambda **feed: dict(zip(self.output_names, session.run(list(self.output_names), feed)))

    def __call__(self, **arrays):
        missing, unknown = sorted(set(self.inputs) - set(arrays)), sorted(set(arrays) - set(self.inputs))
        if missing or unknown:
            raise ValueError(f"{self.path.name} inputs: missing {missing}, unknown {unknown} "
                             f"(expected {sorted(self.inputs)})")
        feed = {}
        for name, (shape, dtype) in self.inputs.items():
            array = np.ascontiguousarray(arrays[name], dtype=dtype)
            if array.ndim != len(shape) or any(want not in (None, got) for want, got in zip(shape, array.shape)):
                raise ValueError(f"{self.path.name} input {name!r}: expected shape {shape} (None: any size), "
                                 f"got {array.shape}")
            feed[name] = array
        return {name: np.asarray(value) for name, value in self._run(**feed).items()}
