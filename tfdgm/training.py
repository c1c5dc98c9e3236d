"""Shared training callbacks: resumable checkpoints, NaN guard, sample grids, timing.

Keras supplies the progress bar, TensorBoard and `BackupAndRestore`; what is
written here is only what those lack: a backup that never overwrites the last
good checkpoint with non-finite weights, a NaN stop that rolls the model back
to that checkpoint, and per-epoch sample pictures in data space.
"""

import json
import math
import os
import time

import keras
import numpy as np

from tfdgm.visualize import samples_picture, write_png

__all__ = [
    "ResumableBackup",
    "StopOnNaN",
    "EpochTimer",
    "SampleGrid",
    "FigureGrids",
    "standard_callbacks",
    "logs_are_finite",
]


def logs_are_finite(logs):
    """True when every numeric value in a Keras `logs` dict is finite."""
    for value in (logs or {}).values():
        try:
            if not math.isfinite(float(value)):
                return False
        except (TypeError, ValueError):
            continue
    return True


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that keeps the last *good* state for `--resume`.

    Saves model and optimizer weights and the epoch every `save_freq` batches
    and at every epoch end, skipping any save whose logs are non-finite, and
    keeps the backup after training (`delete_checkpoint=False`) so a killed
    run can be resumed. On `fit` start it restores the newest backup: weights,
    optimizer state (moments, iteration count) and the epoch to restart. An
    interrupted epoch is re-run from its start with the restored weights.
    """

    def __init__(self, backup_dir, save_freq="epoch"):
        super().__init__(backup_dir, save_freq=save_freq, delete_checkpoint=False)
        self._last_logs_finite = True

    def on_train_batch_end(self, batch, logs=None):
        self._last_logs_finite = logs_are_finite(logs)
        if self._last_logs_finite:
            super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        # Always back up at an epoch end (Keras does so only for
        # save_freq="epoch"), so a finished epoch is never re-run.
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        self._batches_seen_since_last_saving = 0
        if logs_are_finite(logs) and self._last_logs_finite:
            self._save_model()

    def _save_model(self):
        # Keras writes the weights and the metadata in place; a kill during
        # the write leaves a truncated file that cannot be resumed from. Write
        # each to a temporary file and rename it (atomic on POSIX).
        os.makedirs(self.backup_dir, exist_ok=True)
        temporary = os.path.join(self.backup_dir, "partial.weights.h5")
        self.model.save_weights(temporary, overwrite=True)
        os.replace(temporary, self._weights_path)
        write_json(
            self._training_metadata_path,
            {"epoch": self._current_epoch, "batch": self._last_batch_seen},
        )

    def has_backup(self):
        return os.path.exists(self._weights_path)

    def restore_last_good(self):
        """Loads the newest finite backup into the model (if any)."""
        if self.has_backup():
            self.model.load_weights(self._weights_path)
            return True
        return False


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and rolls the model back.

    Like `keras.callbacks.TerminateOnNaN`, plus: the weights are restored from
    `backup` (the last good checkpoint) so that what is saved after `fit` is
    never NaN. `self.stopped_on_nan` tells the caller what happened.
    """

    def __init__(self, backup=None):
        super().__init__()
        self.backup = backup
        self.stopped_on_nan = False

    def on_train_batch_end(self, batch, logs=None):
        if not logs_are_finite(logs):
            self.stopped_on_nan = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_on_nan:
            restored = self.backup.restore_last_good() if self.backup is not None else False
            print(
                "tfdgm: non-finite loss; training stopped"
                + (" and weights rolled back to the last good checkpoint" if restored else "")
            )


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every epoch in `self.seconds` (and in logs)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        if logs is not None:
            logs["epoch_seconds"] = self.seconds[-1]


class SampleGrid(keras.callbacks.Callback):
    """Writes a PNG of model samples, in data space, after every epoch.

    Arguments:
      directory: where `samples_epoch_NNN.png` and `samples.png` go.
      num_samples: samples per picture.
      seed: sampling seed (the same every epoch, so pictures compare).
      num_levels: discrete levels of the data (for display scaling).
    """

    def __init__(self, directory, num_samples=64, seed=0, num_levels=None):
        super().__init__()
        self.directory = directory
        self.num_samples = num_samples
        self.seed = seed
        self.num_levels = num_levels

    def on_epoch_end(self, epoch, logs=None):
        write_sample_picture(
            self.model,
            [
                os.path.join(self.directory, f"samples_epoch_{epoch + 1:03d}.png"),
                os.path.join(self.directory, "samples.png"),
            ],
            self.num_samples,
            self.seed,
            self.num_levels,
        )


class FigureGrids(keras.callbacks.Callback):
    """At the end of training, writes the model's extra pictures: `NAME.png`
    for each batch of its `figures(examples, seed=)` (data space; e.g.
    reconstructions and interpolations of latent models, a GAN's
    interpolation strip) and for each uint8 picture of its `pictures()`
    (e.g. convolutional RBM/DBN filters).

    Arguments:
      directory: run directory.
      examples: [n, *event_shape] model-space examples (latent models), or None.
      seed: seed of the GAN interpolation endpoints.
      num_levels: discrete levels of the data (display scaling).
    """

    def __init__(self, directory, examples=None, seed=0, num_levels=None):
        super().__init__()
        self.directory = directory
        self.examples = examples
        self.seed = seed
        self.num_levels = num_levels

    def _write(self, name, batch):
        write_data_space_picture(self.model, batch, [os.path.join(self.directory, name)], self.num_levels)

    def on_train_end(self, logs=None):
        for name, picture in self.model.pictures().items():
            write_png(os.path.join(self.directory, f"{name}.png"), picture)  # e.g. learned filters
        for name, batch in self.model.figures(self.examples, seed=self.seed).items():
            self._write(f"{name}.png", batch)


def write_sample_picture(model, paths, num_samples, seed, num_levels=None, **options):
    """Samples `model` (with its `sample_grid_options`, e.g. a class per row,
    under `options`), maps the samples to data space and writes PNG(s).

    Returns the data-space samples as a NumPy array."""
    options = {**model.sample_grid_options(num_samples), **options}
    return write_data_space_picture(model, model.sample(num_samples, seed=seed, **options), paths, num_levels)


def write_data_space_picture(model, batch, paths, num_levels=None):
    """Maps a model-space batch to data space (inverse of the model's data
    transform) and writes its picture to `paths` when the data has one.

    Returns the data-space batch as a NumPy array."""
    transform = model.data_transform
    data = np.asarray(transform.bijector().inverse(batch))
    picture = samples_picture(data, 2 if transform.is_binary else num_levels)
    for path in paths if picture is not None else ():
        write_png(path, picture)
    return data


def standard_callbacks(run_dir, save_freq="epoch", num_levels=None, seed=0, tensorboard=True, examples=None):
    """The callbacks of a tfdgm run: backup, NaN guard, timer, TensorBoard,
    samples, and the family's extra pictures (`examples` for latent models)."""
    backup = ResumableBackup(os.path.join(run_dir, "checkpoints"), save_freq=save_freq)
    callbacks = [backup, StopOnNaN(backup), EpochTimer()]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=os.path.join(run_dir, "logs")))
    callbacks.append(SampleGrid(run_dir, seed=seed, num_levels=num_levels))
    callbacks.append(FigureGrids(run_dir, examples=examples, seed=seed, num_levels=num_levels))
    return callbacks


def write_json(path, payload):
    """Writes `payload` as indented JSON atomically (write then rename)."""
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
    os.replace(temporary, path)
