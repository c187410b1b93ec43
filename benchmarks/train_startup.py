"""Training start-up: seconds from ``fit`` to the end of the first training step (the step's trace
and one step), with the optimizer and loss trackers built before ``fit``
(``kerasser.training.prebuild.build_for_fit``, what ``kerasser train`` does) against Keras' lazy
build inside the first trace (which makes ``tf.function`` trace the step twice).

    python benchmarks/train_startup.py [--rounds 3] [--recipe default]

Each round builds a fresh model of the recipe (tasks a, v, d, e) in this process and fits one step
on a batch of 8 random 2 s clips; the two ways alternate within each round (which goes first
alternates between rounds), and the medians and their ratio are printed and written to
benchmarks/results/train_startup.txt. The step's losses are printed too: the two ways give the
same first-step loss.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerasser.model.network import build_model, compile_model  # noqa: E402
from kerasser.training.prebuild import build_for_fit  # noqa: E402
from kerasser.training.recipes import build_train_config  # noqa: E402

tf.get_logger().setLevel("ERROR")  # each round's fresh model retraces by design: no warning about it
RESULT = Path(__file__).resolve().parent / "results" / "train_startup.txt"
TASKS = ("arousal", "valence", "dominance", "emotion")


def _dataset(config) -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    n, samples = 8, 32000
    x = {"waveform": rng.normal(0, 0.1, (n, samples)).astype(np.float32), "length": np.full(n, samples, np.int32)}
    y = {t: rng.integers(0, len(config.model.classes(t)), n) for t in TASKS}
    w = {t: np.ones(n, np.float32) for t in TASKS}
    return tf.data.Dataset.from_tensor_slices((x, y, w)).batch(n)


def first_step(recipe: str, prebuild: bool) -> tuple[float, float]:
    """(seconds from fit to the end of the first step, its loss) for a fresh model."""
    config = build_train_config(recipe, corpora=(("emodb", "-"),), out="-", tasks=TASKS)
    keras.utils.set_random_seed(0)
    model = build_model(config.model)
    compile_model(model, {t: 1.0 for t in TASKS}, 1e-3, optimizer=config.optimizer,
                  weight_decay=config.weight_decay)
    dataset = _dataset(config)
    start = time.perf_counter()
    if prebuild:
        build_for_fit(model, dataset)
    history = model.fit(dataset, epochs=1, verbose=0)
    return time.perf_counter() - start, float(history.history["loss"][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--recipe", default="default")
    args = parser.parse_args()
    times = {True: [], False: []}
    losses = {True: set(), False: set()}
    for r in range(args.rounds):
        for prebuild in ((True, False) if r % 2 == 0 else (False, True)):
            seconds, loss = first_step(args.recipe, prebuild)
            times[prebuild].append(seconds)
            losses[prebuild].add(round(loss, 4))
            print(f"round {r + 1}: {'built before fit' if prebuild else 'lazy (Keras)':17} {seconds:6.2f} s  "
                  f"loss {loss:.4f}", flush=True)
    new, old = statistics.median(times[True]), statistics.median(times[False])
    lines = [
        f"$ python benchmarks/train_startup.py --rounds {args.rounds} --recipe {args.recipe}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, Keras {keras.__version__}",
        f"fit to the end of the first step, {args.recipe} recipe, batch 8 x 2 s, median of {args.rounds} interleaved rounds:",
        f"  built before fit (kerasser train)  {new:6.2f} s",
        f"  lazy, inside the first trace      {old:6.2f} s",
        f"  ratio new / old                   {new / old:6.2f}",
        f"first-step loss: {sorted(losses[True])} built before, {sorted(losses[False])} lazy",
    ]
    print("\n".join(lines))
    RESULT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
