"""Run directories: train, resume, evaluate, sample and export a model by name.

A run directory holds
  config.json        everything needed to rebuild the model and its data
  checkpoints/       the resumable backup (weights, optimizer, epoch)
  logs/              TensorBoard
  model.weights.h5   the final (or last good) weights
  metrics.json       test NLL in nats and bits/dim, epoch times
  samples.png        a grid of samples (one per epoch as samples_epoch_NNN.png)
The CLI (`tfdgm.cli`) is a thin layer over these functions.
"""

import json
import os

import keras
import numpy as np

from tfdgm import data as tfdgm_data
from tfdgm import models
from tfdgm.distribute import ChiefStateBroadcast, make_strategy, translate_worker_failures, worker_output_directory
from tfdgm.precision import apply_precision, check_precision, loss_scaled
from tfdgm.training import EpochTimer, StopOnNaN, standard_callbacks, write_json, write_sample_picture
from tfdgm.visualize import write_png

__all__ = ["train", "evaluate", "sample", "export", "load_run", "RunError"]

CONFIG = "config.json"
WEIGHTS = "model.weights.h5"
METRICS = "metrics.json"


class RunError(ValueError):
    """A run directory that is missing, incomplete or would be overwritten."""


def _info(config):
    return tfdgm_data.dataset_info(config["data"], data_dir=config.get("data_dir"))


def _construct(model_class, info, transform, params, legacy=False):
    """The model of a run; `legacy`: through `from_config`, which knows the
    defaults of earlier tfdgm versions (a run written before runs recorded
    every hyper-parameter)."""
    try:
        if legacy:
            return model_class.from_config({"event_shape": list(info.event_shape),
                                            "data_transform": transform.get_config(), **params})
        return model_class(event_shape=tuple(info.event_shape), data_transform=transform, **params)
    except (TypeError, ValueError) as error:  # unknown or invalid hyper-parameters
        raise ValueError(f"bad parameters for {model_class.__name__}: {error}") from None


def _build_model(config, new_run=False):
    """The run's model. A new run records every constructor argument (the
    dataset's defaults, the user's `params` and the class defaults) in
    `config["hyperparameters"]`, so a later tfdgm with other defaults
    rebuilds the same model; a run written before runs recorded them is
    rebuilt through `from_config`, which knows the defaults of then."""
    info = _info(config)
    transform = tfdgm_data.parse_preprocessing(config["preprocess"], info)
    model_class = models.get(config["model"])
    if "hyperparameters" in config:
        model = _construct(model_class, info, transform, config["hyperparameters"])
    else:
        params = {**model_class.default_hyperparameters(info), **config["params"]}
        model = _construct(model_class, info, transform, params, legacy=not new_run)
        if new_run:
            config["hyperparameters"] = model.hyperparameters()
    model.build((None, *info.event_shape))
    return model, info, transform


def _dataset(config, split, transform, shuffle=False, with_labels=False):
    return tfdgm_data.load(
        config["data"],
        split=split,
        preprocess=transform,
        batch_size=config["batch_size"],
        shuffle=shuffle,
        with_labels=with_labels,
        seed=config["seed"],
        num_examples=config.get("num_examples"),
        data_dir=config.get("data_dir"),
        download=config.get("download", False),
    )


def _uses_labels(net, info):
    """Whether `net` trains on (x, label) pairs (`net.conditioning`). No
    registered dataset provides context vectors, so a model conditioned on
    them cannot train from the command line."""
    if net.conditioning == "context":
        raise ValueError(
            f"{type(net).__name__} is conditioned on context vectors (context_shape={list(net.context_shape)}), "
            f"but dataset {info.name!r} provides none (no registered dataset does); train it in Python with "
            "model.fit((x, context))"
        )
    if net.conditioning is None:
        return False
    if info.num_classes is None:
        raise ValueError(
            f"{type(net).__name__} is class-conditional (num_classes={net.num_classes}), "
            f"but dataset {info.name!r} has no labels"
        )
    return True


@translate_worker_failures
def train(
    model,
    data,
    out=None,
    epochs=10,
    batch_size=128,
    learning_rate=None,
    seed=0,
    resume=False,
    strategy="default",
    preprocess=None,
    num_examples=None,
    params=None,
    checkpoint_every=200,
    steps_per_execution=10,
    verbose=1,
    data_dir=None,
    download=False,
    precision=None,
):
    """Trains `model` (a registered name) on dataset `data` in a run directory.

    Arguments:
      model: registered model name, e.g. "independent_bernoulli".
      data: dataset name (see `tfdgm.data.list_datasets()`) or "tfds:NAME".
      out: run directory (default `runs/MODEL-DATA`).
      epochs: total epochs (a resumed run trains the remaining ones).
      batch_size, seed: training settings.
      learning_rate: step size of the model's optimizer (`make_optimizer`:
        Adam at 1e-3 by default; SGD at the model's rate for RBMs; each
        GAN's own optimizer and rate).
      resume: continue the run in `out` from its last checkpoint.
      strategy: "default", "mirrored", "multiworker" or "tpu".
      preprocess: preprocessing spec; default by model and data kind.
      num_examples: use only the first N examples of each split.
      params: model hyper-parameters (dict).
      checkpoint_every: batches between backups (also saved every epoch).
      steps_per_execution: train steps per compiled call (Keras); fewer
        Python round trips, which dominate small models' steps
        (benchmarks/baseline_speed.py).
      data_dir: where the data are (Fashion-MNIST IDX files, or TFDS's data_dir).
      download: let TFDS download and prepare missing data (needs network).
      precision: "float32" (default), "mixed_bfloat16" or "mixed_float16"
        (`tfdgm.precision`: mixed policies on the networks, float32
        mathematics, loss scaling for float16).
    Returns:
      (run_dir, metrics dict).
    """
    run_dir = out or os.path.join("runs", f"{model}-{data.replace(':', '_')}")
    config_path = os.path.join(run_dir, CONFIG)
    if resume:
        if not os.path.exists(config_path):
            raise RunError(f"cannot resume: {run_dir} holds no {CONFIG}; train without --resume first")
        config = _read_json(config_path)
        config["epochs"] = epochs if epochs is not None else config["epochs"]
        _announce_resume(run_dir, config["epochs"])
    else:
        if os.path.exists(config_path):
            raise RunError(
                f"{run_dir} already holds a run; pass --resume to continue it or choose another --out"
            )
        model_class = models.get(model)
        info = tfdgm_data.dataset_info(data, data_dir=data_dir)
        if preprocess is None:
            preprocess = model_class.default_preprocess(info, params=dict(params or {}))
        config = {
            "model": model,
            "data": data,
            "preprocess": tfdgm_data.parse_preprocessing(preprocess, info).to_spec(),
            "params": dict(params or {}),
            "epochs": int(epochs),
            "batch_size": int(batch_size),
            "learning_rate": None if learning_rate is None else float(learning_rate),
            "seed": int(seed),
            "strategy": strategy,
            "num_examples": num_examples,
            "checkpoint_every": int(checkpoint_every),
            "steps_per_execution": int(steps_per_execution),
            "data_dir": data_dir,
            "download": bool(download),
            "precision": check_precision(precision),
        }
    distribution = make_strategy(config["strategy"])
    steps_per_execution = config.get("steps_per_execution", 1)
    if distribution.num_replicas_in_sync > 1 and steps_per_execution > 1:
        # Keras 3.15's multi-step loop fails under MirroredStrategy ("You must
        # feed a value for placeholder tensor ... while/cond/Placeholder").
        print("tfdgm: several replicas: running one train step per call")
        steps_per_execution = 1
    keras.utils.set_random_seed(config["seed"])
    with distribution.scope():
        net, info, transform = _build_model(config, new_run=not resume)
        apply_precision(net, config.get("precision"))
    labels = _uses_labels(net, info)
    train_data = _dataset(config, "train", transform, shuffle=True, with_labels=labels)
    validation_data = _dataset(config, "validation", transform, with_labels=labels)
    batches = int(train_data.cardinality())
    config["steps_per_epoch"] = batches if batches > 0 else None  # unknown for some TFDS pipelines
    with distribution.scope():
        net.compile(optimizer=_optimizer(net, config), steps_per_execution=steps_per_execution)
    os.makedirs(run_dir, exist_ok=True)
    if not resume:
        write_json(config_path, config)
    # Multi-worker: only the chief writes outputs; the others write to a temporary directory.
    outputs = worker_output_directory(run_dir, distribution)
    examples = next(iter(_dataset(config, "validation", transform.for_evaluation())))
    if isinstance(examples, tuple):
        examples = examples[0]
    callbacks = standard_callbacks(
        outputs,
        save_freq=config["checkpoint_every"],
        num_levels=info.num_levels,
        seed=config["seed"],
        examples=examples[:8],
    )
    callbacks.insert(1, ChiefStateBroadcast())  # after the backup's restore: the chief's state to all
    history = net.fit(
        train_data,
        epochs=config["epochs"],
        validation_data=validation_data,
        callbacks=callbacks,
        shuffle=False,  # tfdgm.data.load shuffles (seeded) already
        verbose=verbose,
    )
    net.save_weights(os.path.join(outputs, WEIGHTS))
    _write_family_figures(net, outputs, info, config, transform)
    metrics = _evaluate_model(net, config, transform, verbose=verbose)
    # Evaluation may store estimates in the weights (an RBM's AIS log Z).
    net.save_weights(os.path.join(outputs, WEIGHTS))
    timer = next(c for c in callbacks if isinstance(c, EpochTimer))
    nan_guard = next(c for c in callbacks if isinstance(c, StopOnNaN))
    metrics.update(
        epoch_seconds=timer.seconds,
        epochs_trained=len(history.epoch),
        stopped_on_nan=nan_guard.stopped_on_nan,
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
    )
    write_json(os.path.join(outputs, METRICS), metrics)
    return run_dir, metrics


def _write_family_figures(net, run_dir, info, config=None, transform=None):
    """What a model shows beyond samples that needs the dataset: its
    `dataset_figures` (a latent model's 2-D posterior means as
    `latent_scatter.png`, coloured by label when the data has labels) and its
    `text_reports` (a Replicated Softmax's topics as `topics.txt`, for data
    with a vocabulary). Pictures of the parameters (`pictures()`) and
    `figures(examples)` are written by `tfdgm.training.FigureGrids`."""
    labelled = info.num_classes is not None

    def load_examples(count):
        test = _dataset(config, "test", transform.for_evaluation(), with_labels=labelled)
        parts = [batch for batch, _ in zip(test, range(-(-count // config["batch_size"])))]
        x = np.concatenate([np.asarray(b[0] if labelled else b) for b in parts])[:count]
        labels = np.concatenate([np.asarray(b[1]) for b in parts])[:count] if labelled else None
        return x, labels

    if config is not None:
        for name, picture in net.dataset_figures(load_examples).items():
            write_png(os.path.join(run_dir, f"{name}.png"), picture)
    for name, text in net.text_reports(tfdgm_data.registry.vocabulary(info.name)).items():
        with open(os.path.join(run_dir, name), "w", encoding="utf-8") as handle:
            handle.write(text)


def _evaluate_model(net, config, transform, split="test", verbose=1, **options):
    """Test metrics of `net` (NLL in nats and bits/dim for likelihood models)."""
    info = _info(config)
    dataset = _dataset(config, split, transform.for_evaluation(), with_labels=_uses_labels(net, info))
    return {"split": split, **net.evaluation(dataset, verbose=verbose, **options)}


def _optimizer(net, config):
    """The model's optimizer for this run (its step schedule, if any, spans the run's epochs)."""
    optimizer = net.make_optimizer(config["learning_rate"], epochs=config["epochs"],
                                   steps_per_epoch=config.get("steps_per_epoch"))
    return loss_scaled(optimizer, config.get("precision"), net)


def load_run(run_dir):
    """Rebuilds the model of a run with its final weights. -> (model, config, info)."""
    config_path = os.path.join(run_dir, CONFIG)
    weights_path = os.path.join(run_dir, WEIGHTS)
    if not os.path.exists(config_path):
        raise RunError(f"{run_dir} is not a run directory: no {CONFIG} (train one with `tfdgm train`)")
    if not os.path.exists(weights_path):
        raise RunError(f"{run_dir} has no {WEIGHTS} yet: finish training (`tfdgm train ... --resume`)")
    config = _read_json(config_path)
    net, info, _ = _build_model(config)
    net.compile(optimizer=_optimizer(net, config))
    net.optimizer.build(net.trainable_variables)  # so its saved state loads too
    net.load_weights(weights_path)
    return net, config, info


def evaluate(run_dir, split="test", verbose=1, **options):
    """Evaluates a run's final model on `split`; updates metrics.json. -> metrics.

    `options` go to the model's estimator (e.g. `ais_runs`, `num_samples`)."""
    net, config, _ = load_run(run_dir)
    metrics = _evaluate_model(net, config, net.data_transform, split=split, verbose=verbose, **options)
    net.save_weights(os.path.join(run_dir, WEIGHTS))  # keeps estimates such as log Z
    path = os.path.join(run_dir, METRICS)
    stored = _read_json(path) if os.path.exists(path) else {}
    stored.update(metrics)
    write_json(path, stored)
    return metrics


def sample(run_dir, num_samples=64, seed=0, out=None, **options):
    """Draws samples from a run's model; writes a PNG and a .npy in data space.

    `options` go to the model's `sample` (e.g. `temperature` for flows,
    `num_steps` for Gibbs chains).
    Returns:
      (png path, npy path).
    """
    if num_samples < 1:
        raise ValueError(f"expected a positive number of samples, got {num_samples}")
    net, config, info = load_run(run_dir)
    png = out or os.path.join(run_dir, f"samples_n{num_samples}_seed{seed}.png")
    try:
        samples = write_sample_picture(net, [png], num_samples, seed, info.num_levels, **options)
    except TypeError as error:  # an option this model's `sample` does not take
        raise ValueError(f"{type(net).__name__}.sample does not take {sorted(options)}: {error}") from None
    npy = os.path.splitext(png)[0] + ".npy"
    np.save(npy, samples)
    return (png if os.path.exists(png) else None), npy


def export(run_dir, to=None, version=None):
    """Exports a run's model as a SavedModel at `BASE/<version>/` for TF
    Serving (BASE default `savedmodels/<run name>`, version default the next
    integer). Returns the version directory."""
    from tfdgm import export as tfdgm_export

    net, _, _ = load_run(run_dir)
    base = to or os.path.join("savedmodels", os.path.basename(os.path.normpath(run_dir)))
    return tfdgm_export.save(net, base, version=version)


def _announce_resume(run_dir, epochs):
    metadata = os.path.join(run_dir, "checkpoints", "training_metadata.json")
    if os.path.exists(metadata):
        state = _read_json(metadata)
        print(
            f"tfdgm: resuming {run_dir} at epoch {state['epoch'] + 1} of {epochs} from the "
            f"checkpoint taken after batch {state.get('batch', 0) + 1} of that epoch"
            if state.get("batch")
            else f"tfdgm: resuming {run_dir} at epoch {state['epoch'] + 1} of {epochs}"
        )
    else:
        print(f"tfdgm: resuming {run_dir} from the start: no checkpoint was taken yet")


def _read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
