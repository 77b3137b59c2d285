"""Compiled functions built once per (model, layer, shape, ...)."""


def one_trace_per_function(function):
    """Marks a `tf.function` built once per key (model, layer, shape...).

    Such functions have a fixed input signature and trace once each; but
    TensorFlow counts traces per *source location*, so building one per
    layer (e.g. projecting conv1..conv5 for Fig. 2) logs a misleading
    "triggered tf.function retracing" warning. This silences that warning
    for `function` only (there is no public switch for it).

    Returns:
        `function` itself.
    """
    if hasattr(function, "_omit_frequent_tracing_warning"):
        function._omit_frequent_tracing_warning = True
    return function
