"""Training throughput of the two front ends, and the model's FLOPs per audio second.

    python benchmarks/train_speed.py [--steps 5] [--batch-size 16] [--seconds 2.0]

Times full training steps (forward, backward, Adam update; three tasks, attention pooling) on
random 16 kHz audio after two warm-up steps, and prints audio seconds trained per wall second
for: shared (one 'valid' convolution over each utterance, the default), framed-valid (the same
function computed frame by frame) and framed-same (the paper's per-frame 'same' padding).
FLOPs are counted analytically (2 per multiply-add) for the forward pass over one second.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from kerasser.config import ModelConfig  # noqa: E402
from kerasser.model.layers.conv_stack import conv_output_length  # noqa: E402
from kerasser.tasks import TASKS  # noqa: E402

VARIANTS = {
    "shared": dict(frontend="shared", conv_padding="valid"),
    "framed-valid": dict(frontend="framed", conv_padding="valid"),
    "framed-same": dict(frontend="framed", conv_padding="same"),
}


def forward_flops_per_second(config: ModelConfig) -> dict[str, float]:
    """Multiply-adds x 2 of one forward pass over one second of audio (100 frames)."""
    a = config.audio
    frames = a.sample_rate / a.frame_step
    f, w, p = config.conv_filters, config.conv_width, config.time_pool
    if config.frontend == "shared":  # each conv output computed once per hop
        conv1 = (a.frame_step) * w * 1 * f
        conv2 = (a.frame_step // p) * w * f * f
    else:  # each frame convolved on its own
        out1 = a.frame_length if config.conv_padding == "same" else a.frame_length - w + 1
        conv1 = out1 * w * 1 * f
        conv2 = conv_output_length(a.frame_length, w, p, config.conv_padding) * w * f * f
    features = conv_output_length(a.frame_length, w, p, config.conv_padding) * f // config.channel_pool
    u = config.gru_units
    gru, inputs = 0, features
    for _ in range(config.gru_layers):
        gru += 3 * u * (inputs + u)
        inputs = u
    heads = sum((u if config.attention else 0) + u * TASKS[t].num_classes for t in config.tasks)
    per_frame = {"conv": conv1 + conv2, "gru": gru, "heads": heads}
    return {k: 2 * v * frames for k, v in per_frame.items()}


def throughput(config: ModelConfig, steps: int, batch_size: int, seconds: float) -> float:
    import keras

    from kerasser.model.network import build_model, compile_model

    keras.utils.set_random_seed(0)
    model = build_model(config)
    compile_model(model, {t: 1.0 for t in config.tasks}, 1e-4)
    n = int(seconds * config.audio.sample_rate)
    rng = np.random.default_rng(0)
    x = {"waveform": rng.standard_normal((batch_size, n), dtype=np.float32) * 0.1,
         "length": np.full(batch_size, n, np.int32)}
    y = {t: rng.integers(0, TASKS[t].num_classes, batch_size) for t in config.tasks}
    for _ in range(2):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    elapsed = time.perf_counter() - start
    return steps * batch_size * seconds / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=2.0, help="utterance length")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()

    print(f"cores: {os.cpu_count()}, batch {args.batch_size} x {args.seconds:g} s, {args.steps} timed steps")
    print(f"{'front end':<14} {'audio s / s':>11} {'GFLOP per audio s (fwd)':>24}  conv / gru / heads")
    rates = {}
    for name in args.variants.split(","):
        config = ModelConfig(**VARIANTS[name])
        flops = forward_flops_per_second(config)
        rates[name] = throughput(config, args.steps, args.batch_size, args.seconds)
        parts = " / ".join(f"{v / 1e9:.3f}" for v in flops.values())
        print(f"{name:<14} {rates[name]:>11.1f} {sum(flops.values()) / 1e9:>24.3f}  {parts}", flush=True)
    for framed in ("framed-valid", "framed-same"):
        if "shared" in rates and framed in rates:
            print(f"shared / {framed}: {rates['shared'] / rates[framed]:.2f}x")


if __name__ == "__main__":
    main()
