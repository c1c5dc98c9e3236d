"""SavedModel export for TF Serving, loadable by bare TensorFlow.

`save(model, base)` writes `base/<version>/`, the layout TF Serving's
`--model_base_path` expects (it serves the highest integer version). The
SavedModel needs neither tfdgm, TFP nor Keras to load: TF Serving or
`tf.saved_model.load(path).signatures["sample"](n=..., seed=...)` in a process
that imports only `tensorflow` runs it. No exported function carries
`jit_compile`: TF Serving runs XLA JIT only behind an experimental flag.

Signatures, one naming table for every family (`docs/serving.md`):
`log_prob(x[, label | context]) -> {"log_prob"}`, `sample(n, seed[, label |
context]) -> {"samples"}`, `encode(x[, label | context]) -> {"z"}`,
`decode(z[, label | context]) -> {"x"}` (`context`: a flow's real context
vectors [batch, F], with `context_shape`),
`features(x) -> {"features"}`, `generate(z[, label]) -> {"samples"}` (a GAN's
generator), `translate(x) -> {"a2b", "b2a"}`. Sampling signatures take an
explicit int32 seed, passed to TFP as the stateless pair `[seed, 0]`, so a
fixed seed gives the same samples in the exporting and the loading process.
`serving_default` is the family's `model.serving_default` signature.
"""

import os
import re

import keras

__all__ = ["save", "signature_names", "next_version", "xla_functions"]

#: The attribute TensorFlow puts on a function that must be XLA-compiled.
XLA_ATTRIBUTE = "_XlaMustCompile"


def signature_names(model):
    """The names of the signatures `save` writes for `model` (without the
    `serving_default` alias)."""
    return sorted(model.export_signatures())


def next_version(base):
    """1 + the largest integer-named directory in `base` (1 if there is none)."""
    if not os.path.isdir(base):
        return 1
    versions = [int(name) for name in os.listdir(base) if re.fullmatch(r"\d+", name)
                and os.path.isdir(os.path.join(base, name))]
    return max(versions, default=0) + 1


def save(model, base, version=None, verbose=False, head=None, x_spec=None):
    """Writes `model` as a SavedModel at `base/<version>/` with its signatures.

    Arguments:
      model: a built or unbuilt tfdgm model (it is built from its event
        shape), or a user's Keras model ending in a `tfdgm.layers` head.
      base: the model's base directory, as given to TF Serving's
        `--model_base_path` (created if missing).
      version: positive int; default: `next_version(base)`. An existing
        version directory is replaced.
      verbose: print Keras' summary of the endpoints.
      head: for a user's model: the `tfdgm.layers` head its output comes
        from; the SavedModel then has `log_prob(x, y)` (`serving_default`) and
        `sample(x, seed)` (`tfdgm.layers.head_signatures`).
      x_spec: for a user's model without known `inputs` (subclassed): the
        `tf.TensorSpec` of x.
    Returns:
      The version directory `base/<version>` (what `tf.saved_model.load` takes).
    Raises:
      ValueError: if `model` is neither a tfdgm model nor given with a head,
        has no signatures, its `serving_default` is not one of them, or
        `version` is not a positive int.
    """
    from tfdgm.models.base import GenerativeModel

    if version is None:
        version = next_version(base)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"expected version as a positive int, got {version!r}")
    if head is not None:
        from tfdgm.layers import head_signatures

        signatures, default = head_signatures(model, head, x_spec), "log_prob"
    elif isinstance(model, GenerativeModel):
        if not model.built:
            model.build((None, *model.event_shape))
        signatures, default = model.export_signatures(), model.serving_default
    else:
        raise ValueError(f"expected a tfdgm model, or head= for a Keras model ending in a tfdgm.layers head, "
                         f"got {type(model).__name__}")
    if not signatures:
        raise ValueError(f"{type(model).__name__} declares no export signatures")
    if default not in signatures:
        raise ValueError(
            f"{type(model).__name__}.serving_default is {default!r}, expected one of {sorted(signatures)}"
        )
    archive = keras.export.ExportArchive()
    archive.track(model)
    # Keras makes the first endpoint added the `serving_default` alias.
    for name in [default, *sorted(set(signatures) - {default})]:
        fn, input_signature = signatures[name]
        archive.add_endpoint(name=name, fn=fn, input_signature=input_signature)
    path = os.path.join(base, str(version))
    os.makedirs(os.path.abspath(base), exist_ok=True)
    archive.write_out(path, verbose=verbose)
    return path


def xla_functions(path):
    """Names of the functions in the SavedModel at `path` marked `_XlaMustCompile`."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    marked = []
    for meta_graph in saved.meta_graphs:
        library = meta_graph.graph_def.library
        for function in library.function:
            attr = function.attr.get(XLA_ATTRIBUTE)
            if attr is not None and attr.b:
                marked.append(function.signature.name)
            for node in function.node_def:
                attr = node.attr.get(XLA_ATTRIBUTE)
                if attr is not None and attr.b:
                    marked.append(f"{function.signature.name}/{node.name}")
    return marked
