"""Where int8 quantisation's changes come from: a run's int8 model with more layers kept float32.

    python benchmarks/int8_layers.py --run runs/accuracy/default/loso/seed0/fold-16 [--run ...]
                                     [--data ../shared/data] [--corpus emodb] [--variant NAME ...]

For each run: the float32 TFLite model of its best checkpoint, then int8 models made as
``kerasser export --quantize int8`` makes them (``kerasser.export.tflite.export_int8``, calibrated
on up to ``REPRESENTATIVE_CLIPS`` of the run's training clips) with:

- ``export``: the export's own float32 layers (``FLOAT_LAYERS``: feature extraction, attention pooling);
- ``+conv``: the convolution blocks float32 as well;
- ``+gru``: the frame averaging and the GRU float32 as well;
- ``+conv+gru``: both (only the heads' projections and the outputs stay int8);
- ``+heads``: the task heads (the softmax layers) float32 as well, the rest as ``export``;
- ``calibrated on scored``: the export's layers, calibrated on the very clips it is scored on
  (an upper bound for better calibration data: activations outside the calibrated range are
  clipped, and here none can be).

Each model labels every utterance of ``--corpus`` (all splits; no labels needed) and the script
prints, per variant and task, how many utterances' class differs from the float32 model's, and the
mean over utterances of the largest probability difference. A variant that removes most changes
names the layers responsible; one that removes few says the changes are spread over the network.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

EXTRA = {
    "export": (),
    "+conv": ("block",),
    "+gru": ("recurrent_stride", "gru"),
    "+conv+gru": ("block", "recurrent_stride", "gru"),
    "+heads": None,  # the run's task names: its softmax layers
}
CALIBRATED_ON_SCORED = "calibrated on scored"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, help="a training run folder; repeatable")
    parser.add_argument("--data", default=os.environ.get("KERASSER_SHARED", "../shared") + "/data")
    parser.add_argument("--corpus", default="emodb")
    parser.add_argument("--variant", action="append", choices=[*EXTRA, CALIBRATED_ON_SCORED],
                        help="only these variants (repeatable; default: all)")
    args = parser.parse_args()

    from kerasser.data import audio
    from kerasser.data.corpora import read_corpora, select
    from kerasser.export import tflite
    from kerasser.export.clips import load_clips, spread
    from kerasser.export.exporter import REPRESENTATIVE_CLIPS
    from kerasser.model.network import inference_model
    from kerasser.serve.inference import TFLiteRunner
    from kerasser.training.runs import load_best_model, load_config

    for run in map(Path, args.run):
        config = load_config(run)
        tasks, rate = config.model.tasks, config.model.audio.sample_rate
        train = spread(select(read_corpora(config.corpora, config.speaker_splits), config.train_splits, tasks),
                       REPRESENTATIVE_CLIPS)
        calibration = [w for _, w in load_clips(train, print, rate)]
        scored = read_corpora([(args.corpus, str(Path(args.data) / args.corpus))], None)
        waves = [audio.load(u.path, rate) for u in scored]
        frozen = tflite.freeze(inference_model(load_best_model(run)))
        print(f"run {run}: {len(waves)} {args.corpus} utterances (all splits), "
              f"calibration {len(calibration)} training clips")
        print(f"{'int8 variant':<22} " + " ".join(f"{t:>10}" for t in tasks) + f" {'total':>6}  mean max |dp|")
        with tempfile.TemporaryDirectory() as tmp:
            tflite.export_float32(frozen, Path(tmp) / "f.tflite")
            runner = TFLiteRunner(Path(tmp) / "f.tflite")
            reference = [runner(w) for w in waves]
            variants = [(name, tflite.FLOAT_LAYERS + (tuple(tasks) if extra is None else extra), calibration)
                        for name, extra in EXTRA.items()]
            variants.append((CALIBRATED_ON_SCORED, tflite.FLOAT_LAYERS, waves))
            variants = [v for v in variants if not args.variant or v[0] in args.variant]
            for name, layers, clips in variants:
                path = Path(tmp) / "i.tflite"
                tflite.export_int8(frozen, path, clips, float_layers=layers)
                runner = TFLiteRunner(path)
                outs = [runner(w) for w in waves]
                changed = {t: sum(int(np.argmax(a[t]) != np.argmax(b[t])) for a, b in zip(reference, outs)) for t in tasks}
                diff = np.mean([max(float(np.abs(a[t] - b[t]).max()) for t in tasks) for a, b in zip(reference, outs)])
                print(f"{name:<22} " + " ".join(f"{changed[t]:>10}" for t in tasks)
                      + f" {sum(changed.values()):>6}  {diff:.4f}", flush=True)


if __name__ == "__main__":
    main()
