"""Parameters and MACs of layers and models (MCT-HFR Table 4 layout), counted on the traced TensorFlow graph.

TensorFlow only: the function is traced as a tf.function and the
multiply-accumulates of its graph's ops are counted from their static
shapes: matrix products, convolutions and Einsums, and the gradients of
convolutions (so a training step, forward and backward, can be counted).
Element-wise work (bias adds, normalisation, softmax, activations) is left
out. `flops_by_op_type` gives TensorFlow's profiler's own view. The paper
counted with thop, which sees only nn.Module hooks: its 0.07 G per MRAU
equals the nn.Linear MACs alone (out projection + FFN over 490 steps),
without the in-projections (F.linear on raw Parameters) or the attention
products (torch.bmm), which are counted here.
"""

import functools
import math

import tensorflow as tf

from avtfuse.evaluation.report import markdown_table

# Ops whose graphs the count cannot see into: loop and branch bodies, nested function calls.
UNCOUNTABLE_OP_TYPES = frozenset({
    "While", "StatelessWhile", "If", "StatelessIf", "Case", "StatelessCase",
    "PartitionedCall", "StatefulPartitionedCall",
})


def flops_by_op_type(function, input_specs):
    """FLOPs per op type as TensorFlow's profiler counts them (float_operation view).

    `function` is traced as a tf.function on `input_specs` (see `count_macs`).
    Returns {op type: FLOPs}, only the types with a non-zero count; e.g. a
    Dense(8 -> 4) on [1, 8] gives {"MatMul": 64, "BiasAdd": 4}: 2 per
    multiply-add and 1 per bias element. The profiler has no entry for Einsum.
    """
    return _profiled_flops(_trace(function, input_specs))


def count_macs(function, input_specs):
    """Multiply-accumulates of one call of `function` on inputs of the given specs.

    Counted from static shapes on the ops the function's results depend on
    (what TensorFlow runs: e.g. the unused input gradient of a first layer
    is pruned): MatMul and BatchMatMul* (output elements x the contracted
    size), Conv2D/3D (Conv1D included) and DepthwiseConv2dNative (output
    elements x the filter's taps per output), Einsum (the product of its
    index sizes), and convolution gradients and transposed convolutions
    (Conv*Backprop*: as many as their forward convolution). So a function
    that returns gradients (a training step) counts forward and backward: a
    Conv2D's input and kernel gradients are 2 x its forward MACs. Bias adds
    and other element-wise ops are not counted: Dense(8 -> 4) on [1, 8] is
    32 MACs.

    Args:
        function: a callable of tensors (a layer, a model, or e.g.
            `lambda x: model(x, training=True)`); built or buildable on first call.
        input_specs: fully defined tf.TensorSpec, or a list/tuple of them
            (positional arguments), or a dict of them (one dict argument); use
            batch 1 for per-sample MACs.

    Returns:
        int MACs. Raises ValueError when the graph holds loops, branches or
        nested function calls (e.g. an RNN), which the count cannot see into.
    """
    graph = _trace(function, input_specs)
    uncountable = sorted({op.type for op in graph.get_operations()} & UNCOUNTABLE_OP_TYPES)
    if uncountable:
        raise ValueError(
            f"function: the traced graph has {uncountable} ops, whose inner graphs are not counted (a loop such "
            "as an RNN, a branch or a nested tf.function); MACs would be wrong"
        )
    macs = 0
    for op in _ops_the_results_need(graph):
        if op.type not in _MACS:
            continue
        for tensor in (*op.inputs, *op.outputs):
            if not tensor.shape.is_fully_defined():
                raise ValueError(f"function: {op.type} op {op.name} has a tensor of shape {tensor.shape}; "
                                 "MACs need static shapes")
        macs += _MACS[op.type](op)
    return macs


def complexity_rows(entries):
    """Rows {"name", "parameters", "macs"} for a complexity table.

    entries: (name, layer_or_model, inputs) triples; inputs are the
    `input_specs` of `count_macs(layer_or_model, ...)`, or a (function,
    input_specs) pair to count another call, e.g. a training-mode pass
    through the reconstruction branch. "parameters" counts the trainable
    weights of layer_or_model (after the trace has built it).
    """
    rows = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, (tuple, list)) or len(entry) != 3:
            raise ValueError(f"entries[{index}]: expected (name, layer_or_model, input_specs or (function, specs))")
        name, layer, inputs = entry
        if isinstance(inputs, (tuple, list)) and len(inputs) == 2 and callable(inputs[0]):
            function, specs = inputs
        else:
            function, specs = layer, inputs
        macs = count_macs(function, specs)
        parameters = sum(math.prod(weight.shape) for weight in layer.trainable_weights)
        rows.append({"name": str(name), "parameters": int(parameters), "macs": int(macs)})
    return rows


def complexity_markdown(rows):
    """Markdown table of `complexity_rows`: name, parameters (M), MACs (G), then the exact counts.

    Table 4 style: the callers' row names carry the layout (e.g. "one layer",
    "whole model (training)", "whole model (inference)"). Ends with a newline.
    """
    table = [
        {"name": row["name"], "parameters_m": row["parameters"] / 1e6, "macs_g": row["macs"] / 1e9,
         "parameters": row["parameters"], "macs": row["macs"]}
        for row in rows
    ]
    headers = {"name": "", "parameters_m": "parameters (M)", "macs_g": "MACs (G)",
               "parameters": "parameters", "macs": "MACs"}
    return markdown_table(table, columns=list(headers), headers=headers)


def _trace(function, input_specs):
    """The graph of `function` traced on `input_specs`, or a ValueError naming input_specs."""
    specs = tf.nest.flatten(input_specs)
    if not specs or not all(isinstance(spec, tf.TensorSpec) and spec.shape.is_fully_defined() for spec in specs):
        raise ValueError(f"input_specs: expected fully defined tf.TensorSpec (batch 1), got {input_specs!r}")
    if isinstance(input_specs, (list, tuple)):
        return tf.function(function).get_concrete_function(*input_specs).graph
    return tf.function(function).get_concrete_function(input_specs).graph


def _ops_the_results_need(graph):
    """The ops that the function's results (outputs and stateful side effects) depend on."""
    needed, pending = {}, [tensor.op for tensor in graph.outputs] + list(graph.control_outputs)
    while pending:
        op = pending.pop()
        if op.name not in needed:
            needed[op.name] = op
            pending.extend(tensor.op for tensor in op.inputs)
            pending.extend(op.control_inputs)
    return needed.values()


def _output_elements(op):
    return op.outputs[0].shape.num_elements()


def _matmul_macs(op):
    """Output elements x the contracted size, for MatMul (transpose_a) and BatchMatMul* (adj_x)."""
    left = op.inputs[0].shape.as_list()
    if op.type == "MatMul":
        contracted = left[0] if op.get_attr("transpose_a") else left[1]
    else:
        contracted = left[-2] if op.get_attr("adj_x") else left[-1]
    return _output_elements(op) * contracted


def _conv_macs(op, depthwise):
    """Output elements x the filter's taps per output: kh * kw (* kd) * in_channels, or kh * kw when depthwise
    (filter [..., in_channels, multiplier])."""
    filter_shape = op.inputs[1].shape.as_list()
    return _output_elements(op) * math.prod(filter_shape[:-2] if depthwise else filter_shape[:-1])


def _conv_backprop_macs(op, depthwise):
    """A convolution gradient or transposed convolution: the multiply-adds of the forward convolution whose
    output has out_backprop's shape. Inputs (input or input_sizes, filter or filter_sizes, out_backprop)."""
    filter_shape = (op.inputs[1] if "BackpropInput" in op.type else op.outputs[0]).shape.as_list()
    per_output = filter_shape[:-2] if depthwise else filter_shape[:-1]
    return op.inputs[2].shape.num_elements() * math.prod(per_output)


def _einsum_macs(op):
    """Multiply-adds of a two-operand Einsum: the product of the sizes of all its indices."""
    equation = op.get_attr("equation").decode()
    operands = equation.split("->")[0].split(",")
    if len(operands) == 1:
        return 0
    if len(operands) != 2 or "." in equation:
        raise ValueError(f"function: Einsum {equation!r} (op {op.name}) is not a two-operand contraction "
                         "without ellipsis; its MACs are not counted")
    sizes = {}
    for letters, tensor in zip(operands, op.inputs):
        sizes.update(zip(letters, tensor.shape.as_list()))
    return math.prod(sizes.values())


# {op type: its MACs from the op}: the ops count_macs counts.
_MACS = {
    "MatMul": _matmul_macs, "BatchMatMul": _matmul_macs, "BatchMatMulV2": _matmul_macs,
    "BatchMatMulV3": _matmul_macs, "Einsum": _einsum_macs,
    "Conv2D": functools.partial(_conv_macs, depthwise=False), "Conv3D": functools.partial(_conv_macs, depthwise=False),
    "DepthwiseConv2dNative": functools.partial(_conv_macs, depthwise=True),
    **dict.fromkeys(("Conv2DBackpropInput", "Conv2DBackpropFilter", "Conv3DBackpropInputV2", "Conv3DBackpropFilterV2"),
                    functools.partial(_conv_backprop_macs, depthwise=False)),
    **dict.fromkeys(("DepthwiseConv2dNativeBackpropInput", "DepthwiseConv2dNativeBackpropFilter"),
                    functools.partial(_conv_backprop_macs, depthwise=True)),
}


def _profiled_flops(graph):
    """{op type: FLOPs} of a graph, from the profiler's per-op-type view."""
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=graph, cmd="op", options=options)
    counts = {}
    pending = list(profile.children)
    while pending:
        node = pending.pop()
        if node.float_ops:
            counts[node.name] = counts.get(node.name, 0) + int(node.float_ops)
        pending.extend(node.children)
    return counts
