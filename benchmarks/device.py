"""Models on a device: size, parameters, latency at 1 and 2 threads, the step model, peak memory, accuracy.

    python benchmarks/accuracy.py --configs tiny --seeds 0,1,2      # the tiny recipe's runs (seed 0 exported)
    kerasser export runs/accuracy/tiny/fixed/seed0 --out runs/tiny-s0-export --name tiny-s0 \
        --quantize int8 --quantize float16 --quantize dynamic
    python benchmarks/device.py --model exported/emodb-avde --model runs/tiny-s0-export \
        [--rounds 15] [--repeats 30] [--accuracy default,tiny] [--loco multi,tiny-multi] [--out benchmarks/results/device.md]

For each exported model folder (``kerasser export`` with ``--quantize int8 --quantize float16
--quantize dynamic``; a missing float16 or dynamic variant is made from its model.keras) and each
TFLite variant: the file size, the Keras model's parameters,
the LiteRT latency of one 2-second clip at 1 and at 2 threads, and the peak resident memory of a
fresh process that loads the variant and labels one clip (beside that of a process that only
imports LiteRT: the difference is the model's). A folder with a step model (``step.tflite``, causal
models) also gets the step model's latency per chunk, and a model with a log-mel front end the
latency of that front end alone (the model cut after its ``log_mel`` layer). Latencies are measured interleaved: each of
``--rounds`` rounds times every (model, variant, threads) ``--repeats`` times in turn, and the table
gives the median over rounds of each round's mean, so a load that comes and goes hits every entry
alike; ratios are of figures from the same run. Accuracy, from the committed records: EmoDB's
fixed split of ``benchmarks/accuracy.py``'s configurations ``--accuracy`` and leave-one-corpus-out
of ``benchmarks/corpora.py``'s ``--loco`` (mean ± sd over the seeds recorded). The machine (CPU
model, cores, load average before and after) is named in the output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
VARIANT_FILES = {"float32": "model.tflite", "float16": "model_float16.tflite", "dynamic": "model_dynamic.tflite",
                 "int8": "model_int8.tflite"}
CLIP = 32000  # 2 s at 16 kHz

# VmHWM (this process image's peak RSS), not ru_maxrss, which keeps the forking parent's peak across exec
_MEMORY = """
import re, sys, numpy as np
from kerasser.serve.inference import TFLiteRunner
if sys.argv[1] != "-":
    runner = TFLiteRunner(sys.argv[1], num_threads=1)
    runner(np.zeros(32000, np.float32) + 0.01)
print(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
"""


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_mb(path: str) -> float:
    """Peak resident MB of a fresh process that loads ``path`` and runs one clip ("-": none)."""
    out = subprocess.run([sys.executable, "-c", _MEMORY, path], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def parameters(folder: Path) -> int | None:
    keras_file = folder / "model.keras"
    if not keras_file.is_file():
        return None
    from kerasser.model.network import load_model

    return int(load_model(keras_file).count_params())


def variant_files(folder: Path, scratch: Path) -> dict[str, Path]:
    """variant -> its file: the folder's, and float16 / dynamic made from its model.keras into
    ``scratch`` where the folder has none (int8 needs calibration clips: only the folder's)."""
    files = {v: folder / name for v, name in VARIANT_FILES.items() if (folder / name).is_file()}
    missing = [v for v in ("float16", "dynamic") if v not in files]
    if missing and (folder / "model.keras").is_file():
        from kerasser.export.tflite import export_tflite
        from kerasser.model.network import inference_model, load_model

        model = inference_model(load_model(folder / "model.keras"))
        for variant in missing:
            files[variant] = scratch / f"{folder.name}_{VARIANT_FILES[variant]}"
            export_tflite(model, files[variant], variant)
    return {v: files[v] for v in VARIANT_FILES if v in files}


def front_end_file(folder: Path, scratch: Path) -> Path | None:
    """A float32 TFLite of the folder's model cut after its log-mel front end (``waveform`` -> the
    ``log_mel`` layer's output: standardisation, framing, FFT, filterbank, log), converted as the
    export converts; None without a model.keras or a log-mel front end."""
    if not (folder / "model.keras").is_file():
        return None
    import keras
    import tensorflow as tf

    from kerasser.export.saved_model import input_spec
    from kerasser.export.tflite import FrozenServing, export_float32
    from kerasser.model.network import load_model

    model = load_model(folder / "model.keras")
    if "log_mel" not in [layer.name for layer in model.layers]:
        return None
    features = keras.Model(model.input, model.get_layer("log_mel").output)

    def serve(waveform):
        return {"log_mel": features({"waveform": waveform, "length": tf.shape(waveform)[1:2]}, training=False)}

    path = scratch / f"{folder.name}_front_end.tflite"
    export_float32(FrozenServing(features, serve, [input_spec()]), path)
    return path


def timers(files: dict[Path, dict[str, Path]], threads: tuple[int, ...], front_ends: dict[Path, Path]) -> dict:
    """(folder, variant, threads) -> a call that runs the model once."""
    from kerasser.serve.inference import TFLiteRunner
    from kerasser.serve.stream import has_step_model, open_step_model

    wave = (np.random.default_rng(0).standard_normal(CLIP) * 0.1).astype(np.float32)
    calls = {}
    for folder, variants in files.items():
        for variant, path in variants.items():
            for t in threads:
                runner = TFLiteRunner(path, num_threads=t)
                calls[(folder, variant, t)] = lambda r=runner: r(wave)
        if front_ends.get(folder):
            from ai_edge_litert.interpreter import Interpreter

            runner = Interpreter(model_path=str(front_ends[folder]), num_threads=1).get_signature_runner()
            calls[(folder, "front end", 1)] = lambda r=runner: r(waveform=wave[None])
        if has_step_model(folder):
            for t in threads:
                step = open_step_model(folder, num_threads=t)
                chunk = wave[: step.chunk_samples]
                calls[(folder, "step", t)] = lambda s=step, c=chunk: s.step(c)
    return calls


def agreement(variants: dict[str, Path]) -> dict[str, tuple[float, float]]:
    """variant -> (share of (clip, task) pairs with float32's class, largest probability difference)
    on the example clips (examples/*.wav), against the folder's float32 model."""
    from kerasser.data.audio import load
    from kerasser.serve.inference import TFLiteRunner

    clips = [load(p, 16000) for p in sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.wav"))]
    outputs = {}
    for variant, path in variants.items():
        runner = TFLiteRunner(path, num_threads=1)
        outputs[variant] = [runner(c) for c in clips]
    tasks = [t for t in outputs["float32"][0] if not t.endswith("_attention")]
    result = {}
    for variant, outs in outputs.items():
        same = [np.argmax(o[t]) == np.argmax(f[t]) for o, f in zip(outs, outputs["float32"]) for t in tasks]
        diff = max(float(np.max(np.abs(o[t] - f[t]))) for o, f in zip(outs, outputs["float32"]) for t in tasks)
        result[variant] = (float(np.mean(same)), diff)
    return result


def interleaved(calls: dict, rounds: int, repeats: int) -> dict:
    """Median over rounds of each round's mean ms per call; every call timed in every round."""
    for call in calls.values():
        call()  # warm-up
    per_round = {key: [] for key in calls}
    for _ in range(rounds):
        for key, call in calls.items():
            start = time.perf_counter()
            for _ in range(repeats):
                call()
            per_round[key].append(1000 * (time.perf_counter() - start) / repeats)
    return {key: statistics.median(values) for key, values in per_round.items()}


def _cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def accuracy_row(config: str) -> str:
    """A table row of accuracy.py's ``config``: EmoDB test UAR per task and mean dev UAR, mean ± sd over its seeds."""
    records = [json.loads(p.read_text()) for p in sorted((RESULTS / "accuracy_runs").glob(f"{config}.fixed.seed*.json"))]
    if not records:
        return f"| `{config}` | not measured | | | | | |"
    cells = [_cell([r["test"][t] for r in records]) for t in ("emotion", "arousal", "valence", "dominance")]
    cells.append(_cell([statistics.mean(r["dev"].values()) for r in records]))
    return f"| `{config}` | {len(records)} | {' | '.join(cells)} |"


LOCO = [("emodb", "emotion_common"), ("emodb", "arousal"), ("emodb", "valence"), ("ravdess", "emotion_common"),
        ("ravdess", "arousal"), ("ravdess", "valence")]


def loco_row(config: str) -> str:
    """A table row of corpora.py's ``config``, leave-one-corpus-out: each held-out corpus' UARs."""
    records = [json.loads(p.read_text()) for p in sorted((RESULTS / "corpora_runs").glob(f"{config}.loco.seed*.json"))]
    if not records:
        return f"| `{config}` | not measured | | | | | | |"
    cells = [_cell([r["scores"][c][t] for r in records]) for c, t in LOCO]
    return f"| `{config}` | {len(records)} | {' | '.join(cells)} |"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", type=Path, required=True, help="an exported model folder")
    parser.add_argument("--accuracy", default="", help="accuracy.py configurations to list (default,tiny,...)")
    parser.add_argument("--loco", default="", help="corpora.py configurations to list (multi,tiny-multi,...)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None, help="also write the report here (markdown)")
    args = parser.parse_args()

    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="kerasser-device-"))
    files = {folder: variant_files(folder, scratch) for folder in args.model}
    load_before = os.getloadavg()
    front_ends = {folder: front_end_file(folder, scratch) for folder in args.model}
    calls = timers(files, (1, 2), front_ends)
    ms = interleaved(calls, args.rounds, args.repeats)
    base = peak_mb("-")
    lines = [f"Command: `python benchmarks/device.py {' '.join(sys.argv[1:])}`  ",
             f"Machine: {cpu_name()}, {os.cpu_count()} cores, no GPU; load average before "
             f"{load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} (a machine shared with other jobs).  ",
             f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. LiteRT (ai_edge_litert); latency: median "
             f"over {args.rounds} interleaved rounds of the mean of {args.repeats} calls; a 2 s clip "
             f"({CLIP} samples); memory: peak RSS of a fresh process that loads the file and labels one "
             f"clip, minus {base:.0f} MB for the process with LiteRT imported and no model; agreement: "
             "each task's class on the 7 clips of examples/ against the same folder's float32 model.", ""]
    lines += ["| model | variant | file KB | parameters | ms per 2 s clip, 1 thread | 2 threads | "
              "x faster than its float32 (1 thread) | peak MB over the bare process | same class as float32 "
              "(max prob. diff.) |", "|---|---|---|---|---|---|---|---|---|"]
    for folder in args.model:
        params = parameters(folder)
        agree = agreement(files[folder])
        for variant, path in files[folder].items():
            one, two = ms[(folder, variant, 1)], ms[(folder, variant, 2)]
            ratio = ms[(folder, "float32", 1)] / one
            memory = peak_mb(str(path)) - base
            lines.append(f"| {folder.name} | {variant} | {path.stat().st_size / 1024:.0f} | "
                         f"{params if params is not None else '?'} | {one:.2f} | {two:.2f} | {ratio:.2f} | "
                         f"{memory:.1f} | {100 * agree[variant][0]:.0f} % ({agree[variant][1]:.2f}) |")
    if len(args.model) > 1:
        first = args.model[0]
        lines += ["", f"Against {first.name} (same run): file size and 1-thread latency of each variant, as "
                  f"{first.name}'s / the model's (x smaller, x faster):", "",
                  "| model | variant | x smaller | x faster |", "|---|---|---|---|"]
        for folder in args.model[1:]:
            for variant, path in files[folder].items():
                if variant in files[first]:
                    size = files[first][variant].stat().st_size / path.stat().st_size
                    lines.append(f"| {folder.name} | {variant} | {size:.1f} | "
                                 f"{ms[(first, variant, 1)] / ms[(folder, variant, 1)]:.1f} |")
    split = [folder for folder in args.model if (folder, "front end", 1) in ms]
    if split:
        lines += ["", "Where a clip's time goes (1 thread, same run): the log-mel front end alone (waveform -> log "
                  "mel, float32 in every variant) against the whole model:", "",
                  "| model | front end ms | float32 ms | int8 ms | front end's share of float32 | of int8 |",
                  "|---|---|---|---|---|---|"]
        for folder in split:
            front, f32 = ms[(folder, "front end", 1)], ms[(folder, "float32", 1)]
            i8 = ms.get((folder, "int8", 1))
            lines.append(f"| {folder.name} | {front:.2f} | {f32:.2f} | {f'{i8:.2f}' if i8 else '-'} | "
                         f"{100 * front / f32:.0f} % | {f'{100 * front / i8:.0f} %' if i8 else '-'} |")
    steps = [(folder, ms[(folder, "step", 1)], ms[(folder, "step", 2)]) for folder in args.model
             if (folder, "step", 1) in ms]
    if steps:
        from kerasser.serve.stream import open_step_model

        lines += ["", "| model | step model | file KB | chunk | ms per chunk, 1 thread | 2 threads | state floats |",
                  "|---|---|---|---|---|---|---|"]
        for folder, one, two in steps:
            step = open_step_model(folder)
            lines.append(f"| {folder.name} | step.tflite (float32) | {step.path.stat().st_size / 1024:.0f} | "
                         f"{step.chunk_samples} samples ({1000 * step.chunk_samples // 16000} ms) | {one:.3f} | "
                         f"{two:.3f} | {step.state_size} |")
    if args.accuracy:
        lines += ["", "EmoDB's fixed split (`benchmarks/accuracy.py`, its records in `benchmarks/results/accuracy_runs`): "
                  "test UAR %, and the mean dev UAR each seed's epoch was picked on, mean ± sd over seeds:", "",
                  "| configuration | seeds | emotion | arousal | valence | dominance | mean dev |",
                  "|---|---|---|---|---|---|---|", *(accuracy_row(c) for c in args.accuracy.split(","))]
    if args.loco:
        lines += ["", "Leave-one-corpus-out (`benchmarks/corpora.py --protocol loco`, trained on the other corpus of "
                  "EmoDB and RAVDESS, every clip of the held-out one scored; common: the 4-class UAR):", "",
                  "| configuration | seeds | EmoDB common | EmoDB arousal | EmoDB valence | RAVDESS common | "
                  "RAVDESS arousal | RAVDESS valence |", "|---|---|---|---|---|---|---|---|",
                  *(loco_row(c) for c in args.loco.split(","))]
    report = "\n".join(["# Models on a device (`python benchmarks/device.py`)", "", *lines]) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
