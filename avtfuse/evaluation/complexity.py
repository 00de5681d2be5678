"""Parameters and MACs of layers and models (MCT-HFR Table 4 layout), counted with TensorFlow's profiler.

TensorFlow only: the function is traced as a tf.function and its graph
profiled. MACs are the multiply-accumulates of matrix products and
convolutions; element-wise work (bias adds, normalisation, softmax,
activations) is left out. The paper counted with thop, which sees only
nn.Module hooks: its 0.07 G per MRAU equals the nn.Linear MACs alone (out
projection + FFN over 490 steps), without the in-projections (F.linear on raw
Parameters) or the attention products (torch.bmm), which are counted here.
"""

import math

import tensorflow as tf

from avtfuse.evaluation.report import markdown_table

# Op types whose profiler FLOPs are 2 per multiply-accumulate.
MAC_OP_TYPES = frozenset({
    "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D", "Conv3D", "DepthwiseConv2dNative",
})
# Ops the profiler miscounts: loop bodies once, nested calls and branches not at all,
# transposed convolutions (Conv2DBackpropInput) at 4 FLOPs per multiply-accumulate.
UNCOUNTABLE_OP_TYPES = frozenset({
    "While", "StatelessWhile", "If", "StatelessIf", "Case", "StatelessCase",
    "PartitionedCall", "StatefulPartitionedCall", "Conv2DBackpropInput", "Conv3DBackpropInputV2",
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

    MACs = profiler FLOPs of MatMul, BatchMatMul*, Conv2D/3D (Conv1D included)
    and DepthwiseConv2dNative, divided by 2 (the profiler counts a multiply-add
    as 2 FLOPs), plus each Einsum's product of index sizes (the profiler skips
    Einsum; Keras MultiHeadAttention scores use it). Bias adds and other
    element-wise ops are not counted: Dense(8 -> 4) on [1, 8] is 32 MACs.

    Args:
        function: a callable of tensors (a layer, a model, or e.g.
            `lambda x: model(x, training=True)`); built or buildable on first call.
        input_specs: fully defined tf.TensorSpec, or a list/tuple of them
            (positional arguments), or a dict of them (one dict argument); use
            batch 1 for per-sample MACs.

    Returns:
        int MACs. Raises ValueError when the graph holds loops, branches,
        nested function calls (e.g. an RNN) or transposed convolutions, which
        the profiler miscounts.
    """
    graph = _trace(function, input_specs)
    uncountable = sorted({op.type for op in graph.get_operations()} & UNCOUNTABLE_OP_TYPES)
    if uncountable:
        raise ValueError(
            f"function: the traced graph has {uncountable} ops, which the profiler miscounts (a loop such as "
            "an RNN, a branch, a nested tf.function or a transposed convolution); MACs would be wrong"
        )
    einsum_macs = 0
    for op in graph.get_operations():
        if op.type in MAC_OP_TYPES or op.type == "Einsum":
            for tensor in op.inputs:
                if not tensor.shape.is_fully_defined():
                    raise ValueError(f"function: {op.type} op {op.name} has input shape {tensor.shape}; "
                                     "MACs need static shapes")
        if op.type == "Einsum":
            einsum_macs += _einsum_macs(op)
    flops = _profiled_flops(graph)
    return sum(count for name, count in flops.items() if name in MAC_OP_TYPES) // 2 + einsum_macs


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
