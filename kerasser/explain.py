"""Where the model listens: one figure per audio file, after Zhang et al.'s Fig. 2.

Top: the waveform; below it the spectrogram (log power, 25 ms frames every 10 ms); then one row per
task with its attention weights over the same time axis (each weight drawn at its frame's centre),
the predicted class and its probability in the row's title. Everything is in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kerasser import audio
from kerasser.figures import _pyplot, _save
from kerasser.labeling import ATTENTION, Labeler

FIGURE_WIDTH = 10.0  # inches; rows are 1.3 inches high (2 for the spectrogram)


def spectrogram(wave: np.ndarray, rate: int, frame: int = 400, step: int = 160, fft: int = 512) -> np.ndarray:
    """Log power (dB) per frame and frequency bin, [frames, fft // 2 + 1]; at least one frame."""
    padded = np.pad(wave, (0, max(0, frame - len(wave))))
    count = 1 + (len(padded) - frame) // step
    index = np.arange(frame)[None, :] + step * np.arange(count)[:, None]
    power = np.abs(np.fft.rfft(padded[index] * np.hanning(frame), n=fft)) ** 2
    return 10 * np.log10(power + 1e-10)


def explain_figure(labeler: Labeler, path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the figure for the audio file ``path`` to ``out`` (PNG); returns ``out``.
    AudioError for a file that cannot be read; SettingsError for a model without attention."""
    rate = labeler.sample_rate
    wave = audio.load(path, rate)
    result = labeler.predict_waveform(wave, attention=True)
    weights = result[ATTENTION]
    step = weights["frame_seconds"]
    half_frame = float(labeler.metadata.get("frame_length", 400)) / rate / 2
    tasks = [t for t, _ in labeler.tasks if t in weights]
    duration = len(wave) / rate

    plt = _pyplot()
    heights = [1.3, 2.0] + [1.3] * len(tasks)
    fig, axes = plt.subplots(len(heights), 1, figsize=(FIGURE_WIDTH, sum(heights) + 0.8), sharex=True,
                             gridspec_kw={"height_ratios": heights}, constrained_layout=True)
    axes[0].plot(np.arange(len(wave)) / rate, wave, linewidth=0.5, color="black")
    axes[0].set_ylabel("amplitude")
    axes[0].set_title(Path(path).name)
    spec = spectrogram(wave, rate)
    axes[1].imshow(spec.T, origin="lower", aspect="auto", cmap="magma",
                   extent=(0, duration, 0, rate / 2000), vmin=spec.max() - 80, vmax=spec.max())
    axes[1].set_ylabel("kHz")
    for ax, task in zip(axes[2:], tasks):
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
        return _save(fig, out)
    finally:
        plt.close(fig)
