"""MODEL_CARD.md for an exported model, written from its metadata and its run's configuration.

Every figure in the card is read from ``metadata.json`` (measured by ``kerasser export``), and the
training command is rebuilt from the run's ``config.json``, so the card can be regenerated.
"""

from __future__ import annotations

import shlex

from kerasser.config import TrainConfig
from kerasser.tasks import TASKS

EMODB_LIMITS = """\
- Trained on acted German speech: 10 actors (EmoDB) reading 10 neutral sentences, recorded in an anechoic
  room. Expect lower accuracy on spontaneous speech, other languages, noisy or far-field audio.
- This copy of EmoDB was cut to 2.0 s per clip: the model saw only the first two seconds of each
  utterance. Longer recordings are labelled window by window (`kerasser label --segment`).
- Arousal, valence and dominance levels are not rated per clip: each emotion category is mapped to
  fixed levels (PROTOCOL.md, after Russell & Mehrabian 1977), so the dimensional heads learn the
  emotion categories' placement, not listeners' ratings.
- The test split has two speakers (15 and 16): the UAR above has a wide uncertainty (a few points per
  misclassified clip).
"""

GENERAL_LIMITS = """\
- Emotion recognition from voice is uncertain and culturally variable. Do not use it for decisions
  about people (hiring, policing, health) without independent validation.
"""


def train_command(config: TrainConfig) -> str:
    """The ``kerasser train`` command line that reproduces ``config``."""
    m = config.model
    args = ["kerasser", "train"]
    for name, path in config.corpora:
        args += ["--corpus", name, "--data", path]
    args += ["--tasks", ",".join(TASKS[t].letter for t in m.tasks), "--attention" if m.attention else "--no-attention"]
    args += ["--frontend", m.frontend]
    if m.frontend == "framed":
        args += ["--padding", m.conv_padding]
    if config.loss_weights:
        args += ["--loss-weights", ",".join(f"{w:g}" for w in config.loss_weights)]
    args += ["--train-splits", ",".join(config.train_splits), "--dev-split", config.dev_split or "none"]
    args += ["--epochs", str(config.epochs), "--batch-size", str(config.batch_size), "--lr", f"{config.learning_rate:g}"]
    if config.dev_split:
        args += ["--patience", str(config.patience)]
    args += ["--l2", f"{m.l2:g}", "--dropout", f"{m.dropout:g}", "--seed", str(config.seed), "--out", config.out]
    return shlex.join(args)


def _parity_lines(parity: dict) -> list[str]:
    """One line per exported format: agreement with the Keras model, and test UAR change."""
    lines = []
    for fmt, figures in parity.items():
        if not isinstance(figures, dict) or "max_abs_diff" not in figures:
            continue
        line = f"- {fmt}: max |probability difference| vs Keras {figures['max_abs_diff']:.2g}"
        if figures.get("argmax_agreement") is not None:
            line += f", same class on {100 * figures['argmax_agreement']:.0f} % of {parity['clips']['count']} clips"
        change = figures.get("test_uar_change")
        if change:
            line += "; test UAR change " + ", ".join(f"{t} {v:+.1f}" for t, v in change.items())
        lines.append(line)
    return ["Formats (checked against the Keras model by the export):", "", *lines, ""] if lines else []


def render(metadata: dict, config: TrainConfig, export_command: str) -> str:
    """The card's Markdown text."""
    name = metadata.get("name", "model")
    tasks = metadata.get("tasks", [])
    uar = (metadata.get("test") or {}).get("uar") or {}
    lines = [
        f"# {name}",
        "",
        "Speech emotion recogniser from the raw waveform (kerasser: convolutions on 40 ms frames, two GRUs,",
        "attention pooling and a softmax head per task; Zhang et al., ICASSP 2019).",
        "",
        "## Outputs",
        "",
        "| task | classes (output order) | test UAR % |",
        "|---|---|---|",
    ]
    for task in tasks:
        score = uar.get(task["name"])
        cell = f"{score:.1f}" if isinstance(score, (int, float)) else "n/a"
        lines.append(f"| {task['name']} | {', '.join(task['classes'])} | {cell} |")
    lines += [
        "",
        "Input: float32 mono 16 kHz waveform, any length (`kerasser label` and `kerasser.Labeler` decode,",
        "down-mix and resample any audio file first).",
        "",
        *_parity_lines(metadata.get("parity") or {}),
        "## Data and split",
        "",
        f"Corpora: {', '.join(f'{c} ({p})' for c, p in config.corpora)}. Trained on the "
        f"{' + '.join(config.train_splits)} split(s) of PROTOCOL.md's speaker-independent split"
        + (f", epoch chosen on {config.dev_split}" if config.dev_split else ", all epochs, the last one kept")
        + "; scored on the test speakers, never seen in training.",
        "",
        "## Reproduce",
        "",
        "```bash",
        train_command(config),
        export_command,
        "```",
        "",
        "The test UAR above is measured by the export (`metadata.json`, `test.uar`); "
        "`kerasser evaluate RUN` prints the same figures with per-class recall and confusion matrices.",
        "",
        "## Limits",
        "",
        (EMODB_LIMITS if any(c == "emodb" for c, _ in config.corpora) else "") + GENERAL_LIMITS,
    ]
    return "\n".join(lines)
