"""WGAN-GP: tfdgm's `WGANGP` against the keras-io recipe, with the same players.

The peer is keras-io's "WGAN-GP overriding `Model.train_step`"
(examples/generative/wgan_gp.py, A_K_Nain), re-implemented here from its
documentation: a `keras.Model` with a custom `train_step` that takes
`d_steps` = 3 critic steps per generator step (the example's
`discriminator_extra_steps=3`; Gulrajani et al.'s Alg. 1 uses 5), each on a
fresh noise batch, with the loss E[f(G(z))] - E[f(x)] + 10 GP; the GP's
interpolation weight is drawn from N(0, 1) as in the example (the paper draws
it from U[0, 1]); Adam(2e-4, beta_1=0.5, beta_2=0.9) for both players;
`compile()` with Keras' defaults (on a CPU-only machine Keras 3 resolves
`jit_compile="auto"` to False, one step per call). The example's players:

* generator: z (128) -> Dense(4*4*256, no bias) - BN - LeakyReLU(0.2) ->
  3 x [UpSampling2D - Conv2D 3x3 (128, 64, 1 filters, no bias) - BN] with
  LeakyReLU(0.2), LeakyReLU(0.2), tanh -> Cropping2D to 28x28x1 (0.9M weights);
* critic: ZeroPadding2D to 32x32 -> 4 x Conv2D 5x5 stride 2 (64, 128, 256,
  512 filters) with LeakyReLU(0.2), Dropout(0.3) after the 2nd and 3rd ->
  Flatten - Dropout(0.2) - Dense(1) (4.3M weights).

tfdgm's side is `WGANGP(generator=G, discriminator=D, n_critic=3,
gradient_penalty_weight=10)` with copies of the SAME two networks (same
initial weights) and the same optimizers, compiled with tfdgm's defaults (XLA,
several steps per compiled call). Both sides read the same Fashion-MNIST
batches of 64 scaled to [-1, 1] (`tfdgm.data`, "scale:-1:1"), run the same
number of generator steps in interleaved timing rounds, and are clocked after
a first (compiling) call of one round. Quality: Fréchet distance, precision
and recall in the features of tfdgm's fixed Fashion-MNIST classifier
(`tfdgm.metrics.classifier`, NOT Inception FID) of `--num-eval` samples
against as many test images.

The section `toy` measures the plain user recipe on Gulrajani et al.'s
8-Gaussians set (their gan_toy.py: 8 modes on a circle of radius 2, std 0.02,
both divided by 1.414): `Model(event_shape=(2,)); compile(); fit(x,
epochs=..., batch_size=256)` with each class's defaults, for GAN and WGANGP;
it reports the fraction of 5000 samples within 0.25 of a mode and the number
of modes holding at least 1% of the samples.

Run (as in benchmarks/results/wgan_gp_vs_keras.json):
  flock /tmp/tfdgm-bench.lock nice .venv/bin/python benchmarks/wgan_gp_vs_keras.py \\
      --steps 12 --round-steps 4 --num-eval 1000 --toy-epochs 200 --toy-examples 4096 --toy-seeds 0
"""

import argparse
import json
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from tfdgm import data
from tfdgm.models import GAN, WGANGP
from tfdgm.models.adversarial.quality import collect_examples, sample_quality

NOISE_DIM = 128


# ------------------------------------------------------------------ the players
def keras_io_generator():
    """The example's generator: Dense projection, three up-sampling conv blocks, crop to 28x28."""
    z = keras.Input((NOISE_DIM,), name="noise")
    h = keras.layers.Dense(4 * 4 * 256, use_bias=False)(z)
    h = keras.layers.LeakyReLU(0.2)(keras.layers.BatchNormalization()(h))
    h = keras.layers.Reshape((4, 4, 256))(h)
    for filters, activation in ((128, "leaky"), (64, "leaky"), (1, "tanh")):
        h = keras.layers.UpSampling2D((2, 2))(h)
        h = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(h)
        h = keras.layers.BatchNormalization()(h)
        h = keras.layers.LeakyReLU(0.2)(h) if activation == "leaky" else keras.layers.Activation("tanh")(h)
    images = keras.layers.Cropping2D((2, 2))(h)  # 32x32 -> 28x28
    return keras.Model(z, images, name="generator")


def keras_io_critic():
    """The example's critic: pad to 32x32, four stride-2 5x5 convolutions, dropout, one score."""
    x = keras.Input((28, 28, 1), name="images")
    h = keras.layers.ZeroPadding2D((2, 2))(x)
    for filters, dropout in ((64, False), (128, True), (256, True), (512, False)):
        h = keras.layers.Conv2D(filters, 5, strides=2, padding="same")(h)
        h = keras.layers.LeakyReLU(0.2)(h)
        if dropout:
            h = keras.layers.Dropout(0.3)(h)
    h = keras.layers.Dropout(0.2)(keras.layers.Flatten()(h))
    return keras.Model(x, keras.layers.Dense(1)(h), name="critic")


def same_players(seed):
    """Two (generator, critic) pairs with identical initial weights."""
    keras.utils.set_random_seed(seed)
    first = (keras_io_generator(), keras_io_critic())
    second = (keras_io_generator(), keras_io_critic())
    for source, target in zip(first, second):
        target.set_weights(source.get_weights())
    return first, second


def adam():
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.9)


# ------------------------------------------------------------------- the peer
class KerasIOWGANGP(keras.Model):
    """The keras-io recipe: `d_steps` critic updates then one generator update per batch."""

    def __init__(self, discriminator, generator, latent_dim, d_steps=3, gp_weight=10.0):
        super().__init__()
        self.discriminator, self.generator = discriminator, generator
        self.latent_dim, self.d_steps, self.gp_weight = latent_dim, d_steps, gp_weight

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    def penalty(self, real, fake):
        alpha = tf.random.normal([tf.shape(real)[0], 1, 1, 1])  # N(0, 1), as in the example
        mixed = real + alpha * (fake - real)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            scores = self.discriminator(mixed, training=True)
        slopes = tf.sqrt(tf.reduce_sum(tf.square(tape.gradient(scores, mixed)), axis=[1, 2, 3]))
        return tf.reduce_mean(tf.square(slopes - 1.0))

    def train_step(self, real):
        batch = tf.shape(real)[0]
        for _ in range(self.d_steps):
            z = tf.random.normal((batch, self.latent_dim))
            with tf.GradientTape() as tape:
                fake = self.generator(z, training=True)
                cost = (tf.reduce_mean(self.discriminator(fake, training=True))
                        - tf.reduce_mean(self.discriminator(real, training=True)))
                d_loss = cost + self.gp_weight * self.penalty(real, fake)
            grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables))
        z = tf.random.normal((batch, self.latent_dim))
        with tf.GradientTape() as tape:
            g_loss = -tf.reduce_mean(self.discriminator(self.generator(z, training=True), training=True))
        grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))
        return {"d_loss": d_loss, "g_loss": g_loss}


# -------------------------------------------------------------- the comparison
def image_comparison(steps, round_steps, num_eval, seed=0, tfdgm_jit_compile=None):
    info = data.dataset_info("fashion_mnist")
    transform = data.parse_preprocessing("scale:-1:1", info)
    stream = data.load("fashion_mnist", preprocess=transform, batch_size=64, shuffle=True, seed=seed,
                       drop_remainder=True).repeat()
    (peer_g, peer_d), (own_g, own_d) = same_players(seed)
    peer = KerasIOWGANGP(peer_d, peer_g, NOISE_DIM, d_steps=3, gp_weight=10.0)
    peer.compile(d_optimizer=adam(), g_optimizer=adam())
    ours = WGANGP(event_shape=(28, 28, 1), generator=own_g, discriminator=own_d, n_critic=3,
                  gradient_penalty_weight=10.0, data_transform=transform)
    ours.compile(generator_optimizer=adam(), discriminator_optimizer=adam(), jit_compile=tfdgm_jit_compile)
    sides = {"keras_io": peer, "tfdgm": ours}
    batches = iter(stream)

    def next_round():  # the same batches for both sides
        return tf.data.Dataset.from_tensor_slices(np.stack([next(batches).numpy() for _ in range(round_steps)]))

    first = next_round()
    for name, model in sides.items():  # compile, not timed
        start = time.perf_counter()
        model.fit(first, epochs=1, verbose=0)
        print(name, "first call (compiling)", round(time.perf_counter() - start, 1), "s", flush=True)
    seconds = {name: 0.0 for name in sides}
    done = round_steps
    while done < steps:
        batch_round = next_round()
        for name, model in sides.items():  # interleaved: both see the same machine load
            start = time.perf_counter()
            model.fit(batch_round, epochs=1, verbose=0)
            seconds[name] += time.perf_counter() - start
        done += round_steps
        print(done, {k: round((done - round_steps) / v, 3) for k, v in seconds.items()}, flush=True)
    timed = done - round_steps
    test = data.load("fashion_mnist", "test", preprocess=transform, batch_size=500)
    real, _ = collect_examples(test, num_eval)
    results = {}
    for name, model in sides.items():
        fake = np.concatenate([model.generator(tf.random.stateless_normal([500, NOISE_DIM], [seed, i]),
                                               training=False).numpy()
                               for i in range(0, num_eval, 500)])[:num_eval]
        quality = sample_quality(ours, real, fake)  # `ours` only maps [-1, 1] back to [0, 1]
        results[name] = {
            "generator_steps": done, "timed_generator_steps": timed,
            "generator_steps_per_second": round(timed / seconds[name], 3),
            "critic_steps_per_generator_step": 3,
            **{k: quality[k] for k in ("frechet_distance", "precision", "recall", "coverage", "feature_space")},
        }
        print(name, results[name], flush=True)
    results["speed_ratio_tfdgm_over_keras_io"] = round(
        results["tfdgm"]["generator_steps_per_second"] / results["keras_io"]["generator_steps_per_second"], 2)
    results["setup"] = {
        "batch_size": 64, "noise_dim": NOISE_DIM, "gradient_penalty_weight": 10.0, "d_steps": 3,
        "optimizer": "Adam(2e-4, beta_1=0.5, beta_2=0.9) for both players, both sides",
        "generator_weights": int(peer_g.count_params()), "critic_weights": int(peer_d.count_params()),
        "keras_io_compile": {"jit_compile": bool(peer.jit_compile), "steps_per_execution": int(peer.steps_per_execution)},
        "tfdgm_compile": {"jit_compile": bool(ours.jit_compile), "steps_per_execution": int(ours.steps_per_execution)},
        "round_steps": round_steps, "num_eval": num_eval, "seed": seed,
    }
    return results


# ------------------------------------------------------------------ toy recipe
def gulrajani_eight_gaussians(n, seed):
    """gan_toy.py's 8gaussians: modes 2(cos, sin)(k pi/4), std 0.02, all divided by 1.414."""
    rng = np.random.default_rng(seed)
    angle = rng.integers(0, 8, n) * np.pi / 4
    centers = 2.0 * np.stack([np.cos(angle), np.sin(angle)], -1)
    return ((centers + 0.02 * rng.normal(size=(n, 2))) / 1.414).astype(np.float32)


def near_modes(samples, radius=0.25):
    """-> (fraction of samples within `radius` of a mode, modes holding >= 1% of the samples)."""
    angle = np.arange(8) * np.pi / 4
    modes = 2.0 / 1.414 * np.stack([np.cos(angle), np.sin(angle)], -1)
    distances = np.linalg.norm(samples[:, None, :] - modes[None], axis=-1)
    near = distances.min(1) <= radius
    counts = np.bincount(distances.argmin(1)[near], minlength=8)
    return float(near.mean()), int(np.sum(counts >= 0.01 * len(samples)))


def toy_recipe(epochs, num_examples, seeds):
    """The user's recipe with each class's defaults: Model(event_shape=(2,)); compile(); fit(x, epochs, 256)
    (and WGANGP with Alg. 1's image values, its defaults before issue 23, for contrast)."""
    results = {}
    contenders = (
        ("gan", lambda: GAN(event_shape=(2,)), lambda: None),
        ("wgan_gp", lambda: WGANGP(event_shape=(2,)), lambda: None),
        # The defaults before issue 23: Alg. 1's values (lambda 10, Adam(1e-4, 0, 0.9)) on vectors too.
        ("wgan_gp_alg1_values", lambda: WGANGP(event_shape=(2,), gradient_penalty_weight=10.0),
         lambda: keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9)),
    )
    for name, make, optimizer in contenders:
        runs = []
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            x = gulrajani_eight_gaussians(num_examples, seed)
            model = make()
            model.compile(optimizer=optimizer())
            start = time.perf_counter()
            model.fit(x, epochs=epochs, batch_size=256, verbose=0)
            fraction, modes = near_modes(model.generate(5000, seed=0).numpy())
            runs.append({"seed": seed, "fraction_within_0.25": round(fraction, 4), "modes_covered": modes,
                         "seconds": round(time.perf_counter() - start, 1)})
            print(name, runs[-1], flush=True)
        results[name] = {"epochs": epochs, "examples": num_examples, "batch_size": 256,
                         "generator_steps": epochs * (num_examples // 256 + bool(num_examples % 256)),
                         "defaults": model.hyperparameters(),
                         "optimizer": type(model.generator_optimizer).__name__,
                         "learning_rate": float(model.generator_optimizer.learning_rate),
                         "runs": runs}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="generator steps per side")
    parser.add_argument("--round-steps", type=int, default=4)
    parser.add_argument("--num-eval", type=int, default=1000)
    parser.add_argument("--toy-epochs", type=int, default=200)
    parser.add_argument("--toy-examples", type=int, default=4096)
    parser.add_argument("--toy-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--sections", nargs="+", default=["toy", "fashion_mnist"], choices=["toy", "fashion_mnist"])
    parser.add_argument("--tfdgm-jit-compile", choices=["default", "on", "off"], default="default",
                        help="tfdgm's XLA setting (default: compile()'s, XLA on)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "wgan_gp_vs_keras.json"))
    args = parser.parse_args()
    results = {}
    if os.path.exists(args.out):  # a partial rerun keeps the other section's figures
        with open(args.out, encoding="utf-8") as handle:
            results = json.load(handle)
    results["threads"] = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    sections = {"toy": lambda: toy_recipe(args.toy_epochs, args.toy_examples, args.toy_seeds),
                "fashion_mnist": lambda: image_comparison(
                    args.steps, args.round_steps, args.num_eval,
                    tfdgm_jit_compile={"default": None, "on": True, "off": False}[args.tfdgm_jit_compile])}
    for section in args.sections:
        start = time.perf_counter()
        results[section] = sections[section]()
        results.setdefault("seconds", {})[section] = round(time.perf_counter() - start, 1)
        results.setdefault("commands", {})[section] = "python benchmarks/wgan_gp_vs_keras.py " + " ".join(sys.argv[1:])
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2, sort_keys=True)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
