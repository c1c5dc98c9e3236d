"""tfdgm's Glow against TFP's `tfb.Glow` side by side: training speed and test
bits/dim on Fashion-MNIST at the same budget, architecture and optimizer.

Both models see the same batches (uniformly dequantized, scaled to [0, 1]),
train with the same hand-written loop (Adam on the mean negative log-density,
`tf.function`, optionally XLA) for `--steps` steps, and are scored on the same
fixed test subset. Bits/dim for both come from one function,
`Preprocessing.bits_per_dim`, which adds the [0, 1] scaling Jacobian
(-log 256 per dimension), so both are in 0..255 pixel space.

Timing: one first (tracing/compiling) step each, then `--rounds` rounds that
alternate between the two models, each round `steps / rounds` steps; the speed
is the median examples/s over the rounds.

The architecture, as close as the two APIs allow (TFP's recipe from its
`tfb.Glow` documentation: `GlowDefaultNetwork` couplings, `GlowDefaultExitNetwork`
exits, a N(0, I) base over the flattened latent):

* both: `--levels` levels of (squeeze, `--steps-per-level` steps of actnorm,
  LU 1x1 convolution, affine coupling with conv3x3-relu-conv1x1-relu-zero
  conv3x3 of width `--channels`), half the channels factored out between
  levels with a zero-initialized conv3x3 prior conditioned on the kept half.
* the same coupling scale (sigmoid(h + 2) in the data -> latent direction,
  Glow's; tfdgm's `coupling_scale="tanh"` is the alternative) and He-normal
  hidden convs.
* what differs: TFP's coupling net sees only the conditioning half while
  tfdgm's sees the masked full tensor (so tfdgm has more parameters at the
  same width).

  nice .venv/bin/python benchmarks/glow_vs_tfp.py \\
      [--steps 300] [--levels 2] [--steps-per-level 8] [--channels 400] [--batch-size 64] \\
      [--learning-rate 1e-4] [--test-examples 1000] [--rounds 5] [--xla] [--seed 0] \\
      [--out benchmarks/results/glow_vs_tfp.json]
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from tfdgm import data as tfdgm_data  # noqa: E402
from tfdgm.models import Glow  # noqa: E402
from side_by_side import Runner, round_schedule, scores, train_rounds  # noqa: E402

tfb = tfp.bijectors
tfd = tfp.distributions
PREPROCESS = "dequantize,scale"


def tfp_glow(event_shape, levels, steps_per_level, channels, seed):
    """TFP's Glow distribution over images in [0, 1]: (distribution, trainable variables)."""
    bijector = tfb.Glow(
        output_shape=event_shape, num_glow_blocks=levels, num_steps_per_block=steps_per_level,
        coupling_bijector_fn=lambda shape: tfb.GlowDefaultNetwork(shape, num_hidden=channels),
        exit_bijector_fn=tfb.GlowDefaultExitNetwork, seed=seed)
    base = tfd.Sample(tfd.Normal(0.0, 1.0), bijector.inverse_event_shape(event_shape))
    distribution = tfd.TransformedDistribution(base, bijector)
    return distribution, bijector


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--levels", type=int, default=2)
    parser.add_argument("--steps-per-level", type=int, default=8)
    parser.add_argument("--channels", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--test-examples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--xla", action="store_true", help="jit_compile the train steps")
    parser.add_argument("--seed", type=int, default=0, help="both models' initialization and the batch order")
    parser.add_argument("--out", default="benchmarks/results/glow_vs_tfp.json")
    args = parser.parse_args()
    if args.steps < args.rounds + 1:
        raise ValueError(f"expected --steps >= --rounds + 1, got {args.steps} and {args.rounds}")

    keras.utils.set_random_seed(args.seed)
    info = tfdgm_data.dataset_info("fashion_mnist")
    transform = tfdgm_data.parse_preprocessing(PREPROCESS, info)
    train = tfdgm_data.load("fashion_mnist", "train", preprocess=PREPROCESS, batch_size=args.batch_size,
                            shuffle=True, drop_remainder=True, seed=args.seed).repeat()
    batches = [x for x in train.take(args.steps)]
    test = tf.concat(list(tfdgm_data.load("fashion_mnist", "test", preprocess=PREPROCESS, batch_size=500,
                                          num_examples=args.test_examples, seed=1)), axis=0)

    model = Glow(event_shape=info.event_shape, num_levels=args.levels, num_steps=args.steps_per_level,
                 hidden_channels=args.channels, data_transform=transform)
    model.initialize(batches[0])  # actnorm's data-dependent init on the first batch
    distribution, bijector = tfp_glow(tuple(info.event_shape), args.levels, args.steps_per_level,
                                      args.channels, args.seed)
    distribution.log_prob(batches[0])  # TFP's actnorm initializes on its first call; builds the nets
    runners = [
        Runner("tfdgm", model.log_prob, model.log_prob, lambda: model.trainable_variables, args.learning_rate,
               args.xla),
        Runner("tfp", distribution.log_prob, distribution.log_prob, lambda: bijector.trainable_variables,
               args.learning_rate, args.xla),
    ]

    losses = train_rounds(runners, round_schedule(batches, args.rounds))
    results = {"config": vars(args), "preprocess": PREPROCESS, "dataset": "fashion_mnist",
               "models": {runner.name: scores(runner, losses, test, transform) for runner in runners}}
    tfdgm_rate = results["models"]["tfdgm"]["examples_per_second"]
    results["speed_ratio_tfdgm_over_tfp"] = tfdgm_rate / results["models"]["tfp"]["examples_per_second"]
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps({name: {k: v for k, v in m.items() if not isinstance(v, list)}
                      for name, m in results["models"].items()}, indent=2))
    print("speed ratio tfdgm/tfp:", round(results["speed_ratio_tfdgm_over_tfp"], 3))


if __name__ == "__main__":
    main()
