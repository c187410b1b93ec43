"""Where the model listens: one figure per audio file, after Zhang et al.'s Fig. 2.

Top: the waveform; below it the spectrogram (log power, 25 ms frames every 10 ms); then one row per
task with its attention weights over the same time axis (each weight drawn at its frame's centre),
the predicted class and its probability in the row's title. With a ``WaveformSaliency``
(``kerasser.evaluate.saliency``), each task's row is followed by its saliency: |d logit / d sample| of the
predicted class, its maximum per 10 ms, scaled to the file's maximum. Everything is in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kerasser.data import audio
from kerasser.figures import pyplot, save
from kerasser.serve.labeling import ATTENTION, Labeler

FIGURE_WIDTH = 10.0  # inches; rows are 1.3 inches high (2 for the spectrogram, 1 for saliency)
ROW, SPECTROGRAM_ROW, SALIENCY_ROW, MARGIN = 1.3, 2.0, 1.0, 0.8


def figure_height(tasks: int, saliency: bool = False) -> float:
    """The figure's height in inches for ``tasks`` task rows (and their saliency rows)."""
    return ROW + SPECTROGRAM_ROW + tasks * (ROW + (SALIENCY_ROW if saliency else 0.0)) + MARGIN


def figure_names(paths: Sequence[str | os.PathLike]) -> list[str]:
    """A PNG file name per audio file, unique (ignoring case, as some file systems do) and the same
    for the same paths: ``<stem>.png``; where stems clash (``a/x.wav``, ``b/x.wav``), each takes the
    fewest parent folders that set it apart (``a_x.png``, ``b_x.png``); a clash left (``x.wav`` and
    ``x.flac`` in one folder) gets ``-2``, ``-3``, ... in the order given."""
    folders = [Path(os.path.abspath(p)).parts[1:-1] for p in paths]  # without the root
    stems = [Path(p).stem for p in paths]

    def name(i: int, k: int) -> str:  # the stem after its last k folders
        return "_".join([*folders[i][len(folders[i]) - k:], stems[i]]) if k else stems[i]

    names = []
    for i in range(len(stems)):
        # the same stem in other folders (one in the same folder only an index tells apart)
        rivals = [j for j in range(len(stems)) if name(j, 0).casefold() == name(i, 0).casefold()
                  and name(j, len(folders[j])).casefold() != name(i, len(folders[i])).casefold()]
        k = 0
        while rivals and k < len(folders[i]) and any(name(i, k).casefold() == name(j, k).casefold() for j in rivals):
            k += 1
        names.append(name(i, k))
    taken: set[str] = set()
    unique = []
    for base in names:
        candidate, n = base, 1
        while candidate.casefold() in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate.casefold())
        unique.append(candidate + ".png")
    return unique


def spectrogram(wave: np.ndarray, rate: int, frame: int = 400, step: int = 160, fft: int = 512) -> np.ndarray:
    """Log power (dB) per frame and frequency bin, [frames, fft // 2 + 1]; at least one frame."""
    padded = np.pad(wave, (0, max(0, frame - len(wave))))
    count = 1 + (len(padded) - frame) // step
    index = np.arange(frame)[None, :] + step * np.arange(count)[:, None]
    power = np.abs(np.fft.rfft(padded[index] * np.hanning(frame), n=fft)) ** 2
    return 10 * np.log10(power + 1e-10)


def explain_figure(labeler: Labeler, path: str | os.PathLike, out: str | os.PathLike, saliency=None) -> Path:
    """Write the figure for the audio file ``path`` to ``out`` (PNG); returns ``out``.
    ``saliency``: a ``kerasser.evaluate.saliency.WaveformSaliency`` of the same model, or None for no
    saliency rows. AudioError for a file that cannot be read; SettingsError for a model without
    attention."""
    rate = labeler.sample_rate
    wave = audio.load(path, rate)
    result = labeler.predict_waveform(wave, attention=True)
    weights = result[ATTENTION]
    step = weights["frame_seconds"]
    half_frame = float(labeler.metadata.get("frame_length", 400)) / rate / 2
    tasks = [t for t, _ in labeler.tasks if t in weights]
    duration = len(wave) / rate

    maps = {}
    if saliency is not None:
        predicted = {t: list(result[t]["probabilities"]).index(result[t]["label"]) for t in tasks}
        maps = saliency(wave, {t: c for t, c in predicted.items() if t in saliency.tasks})
    rows = [(task, kind) for task in tasks for kind in ("attention", "saliency") if kind == "attention" or task in maps]

    plt = pyplot()
    heights = [ROW, SPECTROGRAM_ROW] + [ROW if kind == "attention" else SALIENCY_ROW for _, kind in rows]
    fig, axes = plt.subplots(len(heights), 1, figsize=(FIGURE_WIDTH, sum(heights) + MARGIN), sharex=True,
                             gridspec_kw={"height_ratios": heights}, constrained_layout=True)
    axes[0].plot(np.arange(len(wave)) / rate, wave, linewidth=0.5, color="black")
    axes[0].set_ylabel("amplitude")
    axes[0].set_title(Path(path).name)
    spec = spectrogram(wave, rate)
    axes[1].imshow(spec.T, origin="lower", aspect="auto", cmap="magma",
                   extent=(0, duration, 0, rate / 2000), vmin=spec.max() - 80, vmax=spec.max())
    axes[1].set_ylabel("kHz")
    for ax, (task, kind) in zip(axes[2:], rows):
        if kind == "saliency":
            _saliency_row(ax, task, maps[task], rate, saliency.smooth_samples)
            continue
        w = np.asarray(weights[task])
        centres = np.arange(len(w)) * step + half_frame
        ax.fill_between(centres, w, step="mid", alpha=0.4)
        ax.plot(centres, w, drawstyle="steps-mid", linewidth=1)
        ax.set_ylim(0, max(float(w.max()) * 1.15, 1e-6))
        ax.set_ylabel("attention")
        label = result[task]["label"]
        ax.set_title(f"{task}: {label} ({result[task]['probabilities'][label]:.0%})", fontsize=10)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(0, duration)
    try:
        return save(fig, out)
    finally:
        plt.close(fig)


def _saliency_row(ax, task: str, values: np.ndarray, rate: int, smooth_samples: int) -> None:
    """|gradient| per sample -> its maximum per 10 ms, scaled to 1, drawn as a filled step line."""
    from kerasser.evaluate.saliency import envelope

    width = max(1, rate // 100)
    env = envelope(values, width)
    env = env / env.max() if env.max() > 0 else env
    centres = (np.arange(len(env)) + 0.5) * width / rate
    ax.fill_between(centres, env, step="mid", alpha=0.4, color="tab:red")
    ax.plot(centres, env, drawstyle="steps-mid", linewidth=0.8, color="tab:red")
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("saliency")
    method = f"SmoothGrad, {smooth_samples} samples" if smooth_samples else "vanilla gradient"
    ax.set_title(f"{task} saliency (|d logit / d waveform|, {method}; max per 10 ms, scaled)", fontsize=9)
