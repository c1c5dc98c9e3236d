"""The `tfdgm` command: list, train, evaluate, sample, export.

Bad input (unknown names, wrong shapes, missing runs, ...) prints one line
`tfdgm: error: ...` and exits with code 2, without a traceback.
"""

import argparse
import contextlib
import json
import os
import sys

__all__ = ["main"]


def _parse_param(text):
    """`key=value` with a JSON value (numbers, lists, true/false) or a string."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected --param KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(prog="tfdgm", description="Deep generative models for TensorFlow.")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("list", help="list models and datasets")

    train = commands.add_parser("train", help="train a model in a run directory")
    train.add_argument("model", help="model name (see `tfdgm list`)")
    train.add_argument("--data", required=True, help="dataset name or tfds:NAME")
    train.add_argument("--data-dir", default=None, help="where the data are: Fashion-MNIST IDX files or TFDS's data_dir")
    train.add_argument("--download", action="store_true", help="let TFDS download and prepare missing data")
    train.add_argument("--epochs", type=_positive, default=None, help="total epochs (default 10)")
    train.add_argument("--out", default=None, help="run directory (default runs/MODEL-DATA)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--strategy", default="default", help="default|mirrored|multiworker|tpu")
    train.add_argument("--batch-size", type=_positive, default=128)
    train.add_argument("--learning-rate", type=float, default=None, help="default: the model's")
    train.add_argument("--preprocess", default=None, help='e.g. "binarize", "dequantize,scale,logit"')
    train.add_argument("--num-examples", type=_positive, default=None, help="first N examples per split")
    train.add_argument("--checkpoint-every", type=_positive, default=200, help="batches between backups")
    train.add_argument("--steps-per-execution", type=_positive, default=10, help="train steps per compiled call")
    train.add_argument("--precision", default=None, choices=("float32", "mixed_bfloat16", "mixed_float16"),
                       help="mixed precision of the networks (default float32; see docs/scaling.md)")
    train.add_argument("--param", type=_parse_param, action="append", default=[], help="KEY=VALUE")
    train.add_argument("--quiet", action="store_true", help="no progress bars")

    evaluate = commands.add_parser("evaluate", help="test NLL of a trained run")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--num-samples", type=_positive, default=None, help="k of the L_k estimate (latent models)")
    evaluate.add_argument("--ais-runs", type=_positive, default=None, help="parallel AIS runs (energy models)")
    evaluate.add_argument("--ais-betas", type=_positive, default=None, help="AIS temperatures (energy models)")

    sample = commands.add_parser("sample", help="draw samples from a trained run")
    sample.add_argument("run_dir")
    sample.add_argument("-n", "--num-samples", type=_positive, default=64)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", default=None, help="PNG path")
    sample.add_argument("--temperature", type=float, default=None, help="flows: scale of the latent std")
    sample.add_argument("--num-steps", type=_positive, default=None, help="energy models: Gibbs steps")
    sample.add_argument("--label", type=int, default=None, help="conditional models: class to sample")

    export = commands.add_parser("export", help="write a run's model as a SavedModel")
    export.add_argument("run_dir")
    export.add_argument("--to", default=None,
                        help="base directory, as TF Serving's --model_base_path (default savedmodels/RUN)")
    export.add_argument("--version", type=_positive, default=None,
                        help="version subdirectory to write (default: the next integer)")
    return parser


def _summary(metrics):
    """One line of a run's test metrics: NLL for likelihood models, else all scalars."""
    if "nll_nats" in metrics and "bits_per_dim" in metrics:
        return f"test NLL {metrics['nll_nats']:.2f} nats, {metrics['bits_per_dim']:.4f} bits/dim"
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return "test " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(scalars.items()))


@contextlib.contextmanager
def _native_stderr_silenced():
    """Hides what TensorFlow's C++ runtime prints while it loads (oneDNN and
    CUDA notices): TF 2.21 writes it before absl logging is initialized, so
    TF_CPP_MIN_LOG_LEVEL cannot silence it. Set TFDGM_VERBOSE=1 to see it."""
    if os.environ.get("TFDGM_VERBOSE") == "1":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def _run(args):
    # Imported here so that `tfdgm --help` and argument errors are instant.
    with _native_stderr_silenced():
        import tensorflow as tf

        from tfdgm import data, models, runs

        tf.config.list_physical_devices()  # device set-up notices happen here

    if args.command == "list":
        print("models:   " + " ".join(models.list_models()))
        print("datasets: " + " ".join(data.list_datasets()) + " tfds:NAME")
        return
    if args.command == "train":
        run_dir, metrics = runs.train(
            args.model,
            args.data,
            out=args.out,
            epochs=args.epochs if args.epochs is not None else (None if args.resume else 10),
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            seed=args.seed,
            resume=args.resume,
            strategy=args.strategy,
            preprocess=args.preprocess,
            num_examples=args.num_examples,
            params=dict(args.param),
            checkpoint_every=args.checkpoint_every,
            steps_per_execution=args.steps_per_execution,
            verbose=0 if args.quiet else 1,
            data_dir=args.data_dir,
            download=args.download,
            precision=args.precision,
        )
        if not os.path.exists(os.path.join(run_dir, "metrics.json")):  # a multi-worker run's other worker
            print(f"{_summary(metrics)}; this worker is not the chief: the outputs are in the chief's run directory")
            return
        print(
            f"{_summary(metrics)}; outputs in {run_dir}/ (config.json, metrics.json, samples.png, "
            "model.weights.h5, checkpoints/, logs/)"
        )
        return
    if args.command == "evaluate":
        options = {
            key: value
            for key, value in (
                ("num_samples", args.num_samples),
                ("ais_runs", args.ais_runs),
                ("ais_betas", args.ais_betas),
            )
            if value is not None
        }
        metrics = runs.evaluate(args.run_dir, split=args.split, **options)
        print(json.dumps(metrics, indent=2, sort_keys=True))
        return
    if args.command == "sample":
        options = {
            key: value
            for key, value in (
                ("temperature", args.temperature),
                ("num_steps", args.num_steps),
                ("context", args.label),
            )
            if value is not None
        }
        png, npy = runs.sample(args.run_dir, args.num_samples, seed=args.seed, out=args.out, **options)
        print(f"samples written to {png} and {npy}" if png else f"samples written to {npy}")
        return
    if args.command == "export":
        path = runs.export(args.run_dir, to=args.to, version=args.version)
        print(f"SavedModel written to {path} (inspect with: saved_model_cli show --dir {path} --all; "
              f"serve with: tensorflow_model_server --model_base_path={os.path.abspath(os.path.dirname(path))})")


def main(argv=None):
    """Entry point of the `tfdgm` console script. Returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        _run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"tfdgm: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfdgm: interrupted; continue with --resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
