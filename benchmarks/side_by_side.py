"""Not a benchmark: the training loop, round schedule and scoring that the
side-by-side scripts (`glow_vs_tfp.py`, `pixelcnn_vs_tfp.py`) run for both
contenders, so both sides are timed and scored by the same code."""

import statistics
import time

import keras
import numpy as np
import tensorflow as tf

__all__ = ["Runner", "round_schedule", "train_rounds", "test_bits_per_dim", "scores"]


class Runner:
    """One model's training log-probability, its compiled Adam step and its timings."""

    def __init__(self, name, train_log_prob, eval_log_prob, variables_fn, learning_rate, xla):
        """`train_log_prob` / `eval_log_prob`: x -> [batch] log-densities in
        training mode (e.g. with dropout) and for scoring; `variables_fn`:
        () -> the trainable variables; `xla`: jit_compile the step."""
        self.name = name
        self.train_log_prob = train_log_prob
        self.variables_fn = variables_fn
        self.learning_rate = learning_rate
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.step = tf.function(self._step, jit_compile=xla)
        self.evaluate = tf.function(eval_log_prob)
        self.rates = []
        self.seconds = 0.0
        self.steps = 0
        self.first_step_seconds = None

    def _step(self, x):
        variables = self.variables_fn()
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(self.train_log_prob(x))
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def run(self, batches, timed=True):
        start = time.perf_counter()
        for x in batches:
            loss = self.step(x)
        loss = float(loss)
        seconds = time.perf_counter() - start
        if timed:
            self.rates.append(sum(int(x.shape[0]) for x in batches) / seconds)
            self.seconds += seconds
        self.steps += len(batches)
        return loss


def round_schedule(batches, rounds):
    """The batches cut into one untimed first step, then `rounds` timed
    rounds of equal size (the last takes the remainder)."""
    per_round = (len(batches) - 1) // rounds
    schedule = [batches[:1]] + [batches[1 + r * per_round: 1 + (r + 1) * per_round] for r in range(rounds)]
    schedule[-1] += batches[1 + rounds * per_round:]
    return schedule


def train_rounds(runners, schedule):
    """The schedule's rounds, each model in turn (the order rotates every
    round); the first round is untimed. -> {name: [loss after each round]}"""
    losses = {runner.name: [] for runner in runners}
    for index, chunk in enumerate(schedule):
        for runner in runners[index % len(runners):] + runners[:index % len(runners)]:
            start = time.perf_counter()
            loss = runner.run(chunk, timed=index > 0)
            if index == 0:
                runner.first_step_seconds = time.perf_counter() - start
            losses[runner.name].append(loss)
            print(f"round {index} {runner.name}: loss {loss:.1f} nats", flush=True)
    return losses


def test_bits_per_dim(runner, test, transform):
    """Mean test bits/dim of one model, by the function both sides share
    (`Preprocessing.bits_per_dim`)."""
    log_prob = tf.concat([runner.evaluate(test[i:i + 250]) for i in range(0, len(test), 250)], 0)
    return float(tf.reduce_mean(transform.bits_per_dim(log_prob, test)))


def scores(runner, losses, test, transform):
    """One model's speed, losses and test bits/dim after `train_rounds`."""
    return {
        "learning_rate": runner.learning_rate,
        "examples_per_second": statistics.median(runner.rates),
        "examples_per_second_rounds": runner.rates,
        "first_step_seconds": runner.first_step_seconds,
        "timed_training_seconds": runner.seconds,
        "train_loss_nats_by_round": losses[runner.name],
        "test_bits_per_dim": test_bits_per_dim(runner, test, transform),
        "num_parameters": int(sum(np.prod(v.shape) for v in runner.variables_fn())),
    }
