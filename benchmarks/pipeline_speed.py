"""Is the input pipeline ever the bottleneck? Utterances per second from audio files and from a
prepared TFRecord folder, against the rate the model trains at, on this machine.

    python benchmarks/pipeline_speed.py [--data ../shared/data] [--recipe default] [--passes 3]

EmoDB's training speakers (the recipe's train splits: 304 utterances of 2 s), the recipe's training pipeline
(``kerasser.data.dataset.batched``: shuffle, augmentation, length buckets, batches of --batch-size).
Rows: the audio files' first pass (decode and resample every file, which the cache then keeps),
their later passes (from the in-memory cache), and the TFRecord folder's passes (read from the
shards every time: nothing is cached, as for a corpus too big for memory); each with and without
the recipe's augmentation (its band-pass filter designs cached first, as after a run's first epochs).
The training rate is the recipe's model's full training steps
(forward, backward, update) on batches of 2 s clips. The aim (issue 11): the pipeline alone at
least 5x the training rate on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TASKS = ("arousal", "valence", "dominance", "emotion")


def training_rate(config, batch_size: int, steps: int) -> float:
    """Utterances per second of full training steps on [batch_size, 2 s] batches."""
    import keras

    from kerasser.model.network import build_model, compile_model

    keras.utils.set_random_seed(0)
    model = build_model(config.model)
    compile_model(model, {t: 1.0 for t in TASKS}, 1e-3, optimizer=config.optimizer, weight_decay=config.weight_decay,
                  label_smoothing=config.label_smoothing)
    n = 2 * config.model.audio.sample_rate
    rng = np.random.default_rng(0)
    x = {"waveform": rng.standard_normal((batch_size, n), dtype=np.float32) * 0.1,
         "length": np.full(batch_size, n, np.int32)}
    y = {t: rng.integers(0, 3, batch_size) for t in TASKS}
    for _ in range(2):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch_size / (time.perf_counter() - start)


def pass_rates(examples, config, batch_size: int, augment: bool, passes: int) -> list[float]:
    """Utterances per second of each full pass over the training batches."""
    from kerasser.data.dataset import batched

    ds = batched(examples, batch_size, training=True, seed=0, augment_config=config.augment if augment else None,
                 sample_rate=config.model.audio.sample_rate)
    rates = []
    for _ in range(passes):
        start, count = time.perf_counter(), 0
        for inputs, _, _ in ds:
            count += int(inputs["length"].shape[0])
        rates.append(count / (time.perf_counter() - start))
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("KERASSER_SHARED", "../shared") + "/data")
    parser.add_argument("--recipe", default="default")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    args = parser.parse_args()

    from kerasser.data.corpora import read_corpus, select
    from kerasser.data.dataset import decoded
    from kerasser.data.examples import ExampleSettings
    from kerasser.data.records import prepare
    from kerasser.training.recipes import build_train_config

    emodb = str(Path(args.data) / "emodb")
    config = build_train_config(args.recipe, corpora=(("emodb", emodb),), out="unused", tasks=TASKS)
    rate = config.model.audio.sample_rate
    utts = select(read_corpus("emodb", emodb), config.train_splits, TASKS)
    print(f"cores: {os.cpu_count()}; EmoDB {'+'.join(config.train_splits)}: {len(utts)} utterances of 2 s; "
          f"recipe {args.recipe}; batch {args.batch_size}")
    from kerasser.data.augment import _bandpass

    for low in range(50, 301, 10):  # the band-pass designs a run caches in its first epochs
        for high in range(3000, 7001, 50):
            _bandpass(float(low), float(high), rate)
    train = training_rate(config, args.batch_size, args.steps)
    print(f"model training rate: {train:.1f} utterances/s ({args.steps} steps after 2 warm-up)\n")

    rows = []
    for augment in (False, True):
        examples = decoded(utts, ExampleSettings(TASKS, rate))
        rates = pass_rates(examples, config, args.batch_size, augment, args.passes)
        rows.append((f"audio files, first pass (decode + resample){', augmented' if augment else ''}", rates[0]))
        rows.append((f"audio files, cached passes{', augmented' if augment else ''}", float(np.mean(rates[1:]))))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        prepare(utts, Path(tmp) / "prepared", rate, shard_mb=4.0, write=lambda line: None)
        prepare_rate = len(utts) / (time.perf_counter() - start)
        prepared = select(read_corpus("tfrecord", Path(tmp) / "prepared"), config.train_splits, TASKS)
        for augment in (False, True):
            examples = decoded(prepared, ExampleSettings(TASKS, rate), training=True)
            rates = pass_rates(examples, config, args.batch_size, augment, args.passes)
            rows.append((f"TFRecords, every pass (4 MB shards, interleaved){', augmented' if augment else ''}",
                         float(np.mean(rates))))
    rows.append(("kerasser prepare (decode, resample, write; once)", prepare_rate))
    print(f"{'pipeline':<60} {'utt/s':>8} {'x training':>11}")
    for name, r in rows:
        print(f"{name:<60} {r:>8.1f} {r / train:>10.1f}x")


if __name__ == "__main__":
    main()
