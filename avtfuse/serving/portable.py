"""One signature of an exported SavedModel as a LiteRT (.tflite) or ONNX (.onnx) file, with the signature's
input and output names and a free batch axis; run either with avtfuse.serving.portable_runtime (no TensorFlow).

LiteRT: TensorFlow's converter, TFLITE_BUILTINS only (no Select TF ops, so the
plain `ai-edge-litert` runtime runs it). ONNX: tf2onnx 1.17 from the
SavedModel's frozen signature, opset 17. Float32 weights as trained, no
quantisation. The Keras routes (`TFLiteConverter.from_keras_model`,
`tf2onnx.convert.from_keras`) fail on Keras 3 models; both start from the
SavedModel that `avtfuse.export.export_saved_model` writes.
"""

import logging
import pathlib
import re

import tensorflow as tf

from avtfuse.files import atomic_write

ONNX_OPSET = 17


def signature_names(saved_model_dir, signature_key):
    """(input names, output names) of one signature, sorted; a ValueError naming the folder or key otherwise."""
    saved_model_dir = pathlib.Path(saved_model_dir)
    if not (saved_model_dir / "saved_model.pb").exists():
        raise ValueError(f"{saved_model_dir}: not a SavedModel folder (no saved_model.pb)")
    signatures = tf.saved_model.load(str(saved_model_dir)).signatures
    if signature_key not in signatures:
        raise ValueError(f"signature_key: {signature_key!r} is not a signature of {saved_model_dir} "
                         f"(it has {sorted(signatures)})")
    signature = signatures[signature_key]
    return tuple(sorted(signature.structured_input_signature[1])), tuple(sorted(signature.structured_outputs))


def _check_suffix(path, suffix):
    path = pathlib.Path(path)
    if path.suffix != suffix:
        raise ValueError(f"path: expected a {suffix} file, got {path}")
    return path


def _write_bytes(path, data):
    def write(temporary):
        with open(temporary, "wb") as handle:
            handle.write(data)
    atomic_write(path, write)
    return path


def export_litert(saved_model_dir, signature_key, path):
    """Converts the signature `signature_key` of the SavedModel at `saved_model_dir` to a LiteRT file at `path`
    (.tflite, written atomically); returns the path as pathlib.Path.

    TFLITE_BUILTINS only: where an op has no builtin kernel, a ValueError names
    the TensorFlow ops the converter refused (its full error chained) rather
    than the model needing the Select TF ops runtime.
    """
    path = _check_suffix(path, ".tflite")
    signature_names(saved_model_dir, signature_key)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[signature_key])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        data = converter.convert()
    except Exception as error:  # the converter's errors have no public class; the original stays chained
        refused = sorted(set(re.findall(r"'tf\.(\w+)'", str(error)))) or "(see the chained error)"
        raise ValueError(f"{saved_model_dir} signature {signature_key!r}: LiteRT's builtin ops do not convert "
                         f"TensorFlow ops {refused} (docs/portable.md)") from error
    return _write_bytes(path, data)


def _keep_where(graph, ops):
    """tf2onnx rewriter: every Select / SelectV2 becomes an ONNX Where. Without the mark tf2onnx writes
    where(c, x, y) as c * x + (1 - c) * y, and a NaN or inf in the branch not taken (what a client may send for a
    missing sensor, which `blank_missing` replaces by zeros) then reaches the outputs."""
    for op in ops:
        if op.type in ("Select", "SelectV2"):
            op.set_attr("handles_nan", True)
    return ops


def export_onnx(saved_model_dir, signature_key, path, opset=ONNX_OPSET):
    """Converts the signature `signature_key` of the SavedModel at `saved_model_dir` to an ONNX file at `path`
    (.onnx, written atomically, opset `opset`); returns the path as pathlib.Path.

    A ValueError names the TensorFlow ops tf2onnx left unconverted, or the
    names the model came out with when they are not the signature's.
    """
    import onnx
    import tf2onnx
    from tf2onnx import tf_loader

    path = _check_suffix(path, ".onnx")
    input_names, output_names = signature_names(saved_model_dir, signature_key)
    graph_def, inputs, outputs, renames = tf_loader.from_saved_model(
        str(saved_model_dir), None, None, tag=["serve"], signatures=[signature_key], return_tensors_to_rename=True)
    level = logging.getLogger("tf2onnx").level
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        model, _ = tf2onnx.convert.from_graph_def(graph_def, name=signature_key, input_names=inputs,
                                                  output_names=outputs, opset=opset, tensors_to_rename=renames,
                                                  custom_rewriter=[_keep_where])
    finally:
        logging.getLogger("tf2onnx").setLevel(level)
    unconverted = sorted({node.op_type for node in model.graph.node
                          if not onnx.defs.has(node.op_type, node.domain or "")})
    if unconverted:
        raise ValueError(f"{saved_model_dir} signature {signature_key!r}: tf2onnx does not convert TensorFlow ops "
                         f"{unconverted} (docs/portable.md)")
    got = (tuple(sorted(item.name for item in model.graph.input)),
           tuple(sorted(item.name for item in model.graph.output)))
    if got != (input_names, output_names):
        raise ValueError(f"{saved_model_dir} signature {signature_key!r}: the ONNX model has inputs {got[0]} and "
                         f"outputs {got[1]}, not the signature's {input_names} and {output_names}")
    onnx.checker.check_model(model, full_check=True)
    return _write_bytes(path, model.SerializeToString())
