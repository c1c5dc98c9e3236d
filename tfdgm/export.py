"""SavedModel export with per-family signatures, loadable by bare TensorFlow.

The written SavedModel needs neither tfdgm, TFP nor Keras to load: TF Serving
or `tf.saved_model.load(path).signatures["sample"](n=..., seed=...)` in a
process that imports only `tensorflow` runs it. Sampling signatures take an
explicit int32 seed, passed to TFP as the stateless pair `[seed, 0]`, so a
fixed seed gives the same samples in the exporting and the loading process.
"""

import os

import keras
import tensorflow as tf

__all__ = ["save", "signature_names"]


def signature_names(model):
    """The names of the signatures `save` writes for `model`."""
    return sorted(model.export_signatures())


def save(model, path, verbose=False):
    """Writes `model` as a SavedModel at `path` with its family's signatures.

    Arguments:
      model: a built or unbuilt tfdgm model (it is built from its event shape).
      path: output directory (created; an existing SavedModel is replaced).
      verbose: print Keras' summary of the endpoints.
    Returns:
      `path`.
    Raises:
      ValueError: if `model` is not a tfdgm model or has no signatures.
    """
    from tfdgm.models.base import GenerativeModel

    if not isinstance(model, GenerativeModel):
        raise ValueError(f"expected a tfdgm model, got {type(model).__name__}")
    if not model.built:
        model.build((None, *model.event_shape))
    signatures = model.export_signatures()
    if not signatures:
        raise ValueError(f"{type(model).__name__} declares no export signatures")
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (fn, input_signature) in sorted(signatures.items()):
        archive.add_endpoint(name=name, fn=fn, input_signature=input_signature)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    archive.write_out(path, verbose=verbose)
    return path
