"""Training throughput by tf.distribute strategy and precision, on this machine.

    python benchmarks/distribute_speed.py [--steps 10] [--batch-size 16] [--cpu-devices 2]

Times full training steps (``model.fit`` on an in-memory dataset of 2 s clips: forward, backward,
AdamW update) of the default recipe's model under: the default strategy; ``MirroredStrategy`` over
every local GPU, or, without one, over --cpu-devices logical CPU devices (the CPU split into
replicas, as the tests do: it shows the strategy's overhead, not a speed-up, since the replicas
share the same cores); and mixed precision (``mixed_float16``), which pays on GPUs with tensor cores
and costs on CPUs. Prints utterances per second and the ratio to the default strategy.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TASKS = ("arousal", "valence", "dominance", "emotion")


def rate(strategy_name: str, mixed: bool, steps: int, batch_size: int) -> float:
    import keras
    import tensorflow as tf

    from kerasser.model.network import build_model, compile_model
    from kerasser.training import distribution
    from kerasser.training.recipes import build_train_config

    config = build_train_config("default", corpora=(), out="unused", tasks=TASKS)
    n = 2 * config.model.audio.sample_rate
    rng = np.random.default_rng(0)
    x = {"waveform": rng.standard_normal((batch_size * steps, n), dtype=np.float32) * 0.1,
         "length": np.full(batch_size * steps, n, np.int32)}
    y = {t: rng.integers(0, 3, batch_size * steps) for t in TASKS}
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).cache()
    keras.utils.set_random_seed(0)
    strategy = distribution.make_strategy(strategy_name)
    with distribution.precision(mixed), strategy.scope():
        model = build_model(config.model)
        compile_model(model, {t: 1.0 for t in TASKS}, 1e-3, optimizer="adamw", weight_decay=0.05)
        model.fit(ds.take(2), epochs=1, verbose=0, shuffle=False)  # trace and warm up
        start = time.perf_counter()
        model.fit(ds, epochs=1, verbose=0, shuffle=False)
        return batch_size * steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--cpu-devices", type=int, default=2)
    args = parser.parse_args()

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and args.cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.cpu_devices)
    where = f"{len(gpus)} GPU(s): {', '.join(g.name for g in gpus)}" if gpus else f"no GPU, {os.cpu_count()} CPU cores"
    print(f"{where}; default recipe, batch {args.batch_size} x 2 s, {args.steps} timed steps")
    rows = [("default strategy, float32", "default", False)]
    replicas = f"{len(gpus)} GPUs" if gpus else f"{args.cpu_devices} logical CPU devices"
    rows.append((f"mirrored over {replicas}, float32", "mirrored", False))
    rows.append(("default strategy, mixed_float16", "default", True))
    base = None
    print(f"{'strategy, precision':<44} {'utt/s':>7} {'vs default':>11}")
    for name, strategy, mixed in rows:
        r = rate(strategy, mixed, args.steps, args.batch_size)
        base = base or r
        print(f"{name:<44} {r:>7.1f} {r / base:>10.2f}x", flush=True)


if __name__ == "__main__":
    main()
