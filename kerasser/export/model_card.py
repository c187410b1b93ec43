"""MODEL_CARD.md for an exported model, written from its metadata and its run's configuration.

Every figure in the card is read from ``metadata.json`` (measured by ``kerasser export``), and the
training command is rebuilt from the run's ``config.json``, so the card can be regenerated.
"""

from __future__ import annotations

import shlex

from kerasser.config import TrainConfig
from kerasser.data.corpora.terms import CORPUS_TERMS

# What training on each corpus means for the model's use (its speakers, language, recording, labels).
CORPUS_LIMITS = {
    "emodb": """\
- EmoDB: acted German speech, 10 actors reading 10 neutral sentences in an anechoic room; this copy is cut
  to 2.0 s per clip (the model saw the first two seconds of each utterance).""",
    "ravdess": """\
- RAVDESS: acted North American English, 24 actors saying two fixed sentences in a studio, each clip with
  about half a second of silence before and after the speech.""",
    "baved": """\
- BAVED: single Arabic words at three levels of intensity (used for arousal only).""",
}

CORPUS_LABEL_LIMITS = """\
- Expect lower accuracy on spontaneous speech, other languages, noisy or far-field audio. Recordings
  longer than the training clips are labelled window by window (`kerasser label --segment`).
- Arousal, valence and dominance levels are not rated per clip: each emotion category is mapped to
  fixed levels (PROTOCOL.md, after Russell & Mehrabian 1977), so the dimensional heads learn the
  emotion categories' placement, not listeners' ratings.
"""

EMODB_TEST_LIMIT = """\
- EmoDB's test split has two speakers (15 and 16): its UAR has a wide uncertainty (a few points per
  misclassified clip).
"""


def corpus_limits(corpora) -> str:
    """The card's limits for a model trained on ``corpora`` (reader names): each corpus' speakers,
    language and recording, then what follows from acted, category-mapped training data."""
    names = list(dict.fromkeys(corpora))
    known = [CORPUS_LIMITS[n] for n in names if n in CORPUS_LIMITS]
    if not known:
        return ""
    return ("\n".join(known) + "\n" + CORPUS_LABEL_LIMITS
            + (EMODB_TEST_LIMIT if "emodb" in names else ""))


GENERAL_LIMITS = """\
- Emotion recognition from voice is uncertain and culturally variable. Do not use it for decisions
  about people (hiring, policing, health) without independent validation.
"""


def _normalisation(feature_norm: str, gate_db: float = 0.0) -> str:
    if gate_db:
        return f"{_normalisation(feature_norm)} over the frames within {gate_db:g} dB of the loudest"
    if feature_norm == "speaker":
        return "per-speaker mean normalisation"
    if feature_norm == "pcen":
        return "per-channel energy normalisation (PCEN)"
    if feature_norm == "running":
        return "each frame minus the mean of the frames so far"
    return "no per-utterance normalisation" if feature_norm == "none" else f"per-utterance {feature_norm} normalisation"


def train_command(config: TrainConfig) -> str:
    """The ``kerasser train`` command line that reproduces ``config``."""
    from kerasser.training.options import train_arguments

    return shlex.join(["kerasser", "train", *train_arguments(config)])


def describe(config: TrainConfig) -> str:
    """One sentence on the architecture, from the configuration."""
    m = config.model
    gru = f"{m.gru_layers} {'bidirectional ' if m.bidirectional else ''}GRU({m.gru_units})" if m.gru_layers else "no GRU"
    if m.recurrent_stride > 1 and m.gru_layers:
        gru += f" stepping over the mean of every {m.recurrent_stride} frames"
    if m.frontend == "logmel":
        residual = ("causal " if m.causal else "") + ("residual " if m.block_residual else "")
        residual += "depthwise-separable " if m.block_separable else ""
        bank = "learnable filterbank initialised on mel, " if m.mel_trainable else ""
        norm = _normalisation(m.feature_norm, m.norm_gate_db)
        front = (f"an in-graph {m.mel_bins}-band log-mel front end ({bank}{norm}) and "
                 f"{len(m.block_channels)} {residual}convolution blocks")
    else:
        front = f"raw-waveform convolutions on {1000 * m.audio.frame_length // m.audio.sample_rate} ms frames"
    pool = "attentive statistics pooling" if m.pool_statistics else "attention pooling"
    if m.pool_heads > 1:
        pool += f" with {m.pool_heads} heads"
    if not m.attention:
        pool = "last-step pooling"
    heads = "a softmax head per task"
    if m.derived_tasks:
        heads += f" ({' and '.join(m.derived_tasks)} read off the emotion head's probabilities, summed per level)"
    if m.readout_tasks:
        heads += (f" ({' and '.join(m.readout_tasks)} read off the emotion head's probabilities, summed per level; "
                  "its own head trained alongside, not shipped)")
    return f"kerasser: {front}, {gru}, {pool} and {heads}"


def _parity_lines(parity: dict) -> list[str]:
    """One line per exported format: agreement with the Keras model, and test UAR change."""
    lines = []
    for fmt, figures in parity.items():
        if not isinstance(figures, dict) or "max_abs_diff" not in figures:
            continue
        line = f"- {fmt}: max |probability difference| vs Keras {figures['max_abs_diff']:.2g}"
        if figures.get("argmax_agreement") is not None:
            line += f", same class on {100 * figures['argmax_agreement']:.0f} % of {parity['clips']['count']} clips"
        if fmt == "step":
            line += f" (run chunk by chunk over {figures['clips']} clips cut to whole chunks)"
        change = figures.get("test_uar_change")
        if change:
            line += "; test UAR change " + ", ".join(f"{t} {v:+.1f}" for t, v in change.items())
        lines.append(line)
    return ["Formats (checked against the Keras model by the export):", "", *lines, ""] if lines else []


def _other_corpus_lines(others: list[dict]) -> list[str]:
    if not others:
        return []
    lines = ["On corpora it was not trained on (test split, shared tasks; measured by the export):", ""]
    for o in others:
        uars = ", ".join(f"{t} {u:.1f}" for t, u in o["uar"].items())
        lines.append(f"- {o['corpus']} ({o['files']} files): UAR {uars}")
    return [*lines, ""]


def _per_corpus_lines(test: dict) -> list[str]:
    """The test split of each training corpus apart (``test.per_corpus``, kerasser.evaluate.corpus_scores):
    emotion over the corpus' own classes, the 4-class common UAR, each dimension."""
    per_corpus = test.get("per_corpus") or {}
    if len(per_corpus) < 2:
        return []
    columns = [c for c in ("emotion", "emotion_common", "arousal", "valence", "dominance")
               if any(c in e for e in per_corpus.values())]
    names = {"emotion": "emotion (its own classes)", "emotion_common": "emotion, 4-class common"}
    lines = ["Each corpus' test speakers apart (UAR %; 4-class common: anger, happiness, sadness, neutral):", "",
             "| corpus | clips | " + " | ".join(names.get(c, c) for c in columns) + " |",
             "|---" * (len(columns) + 2) + "|"]
    for corpus, entry in per_corpus.items():
        cells = [f"{entry[c]:.1f}" if isinstance(entry.get(c), (int, float)) else "" for c in columns]
        lines.append(f"| {corpus} | {entry.get('files', '')} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _held_out_lines(cross: dict) -> list[str]:
    """Leave-one-corpus-out figures of the model's recipe (``cross_corpus``: the export's
    ``--held-out`` reports, kerasser.evaluate.corpus_scores.held_out_summary): each corpus held out,
    trained on the others, every clip of it scored."""
    held = (cross or {}).get("held_out") or {}
    if not held:
        return []
    columns = [c for c in ("emotion_common", "emotion", "arousal", "valence")
               if any(c in e for e in held.values())]
    names = {"emotion": "emotion (its own classes)", "emotion_common": "emotion, 4-class common"}
    runs = cross.get("runs", 1)
    lines = [f"Its recipe on speech it never heard (leave-one-corpus-out: trained on the other corpora, every "
             f"clip of the held-out corpus scored; UAR %, mean ± sd over {runs} run(s)):", "",
             "| held-out corpus | clips | " + " | ".join(names.get(c, c) for c in columns) + " |",
             "|---" * (len(columns) + 2) + "|"]
    for corpus, entry in held.items():
        cells = [f"{entry[c]['mean']:.1f} ± {entry[c]['sd']:.1f}" if c in entry else "" for c in columns]
        lines.append(f"| {corpus} | {entry.get('files', '')} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _ensemble_lines(metadata: dict) -> list[str]:
    members = (metadata.get("training") or {}).get("ensemble") or []
    if not members:
        return []
    seeds = ", ".join(str(m["seed"]) for m in members)
    return ["", f"An ensemble of {len(members)} runs of one recipe (seeds {seeds}): the model averages their "
                "probabilities, and costs their inference time added up."]


def _reproduce(metadata: dict, config: TrainConfig) -> list[str]:
    import dataclasses

    members = (metadata.get("training") or {}).get("ensemble") or []
    if not members:
        return [train_command(config)]
    lines = [train_command(dataclasses.replace(config, seed=m["seed"], out=m["run"])) for m in members]
    return [*lines, shlex.join(["kerasser", "ensemble", *(m["run"] for m in members), "--out", config.out])]


def _stream_lines(stream: dict | None) -> list[str]:
    if not stream:
        return []
    ms = 1000 * stream["chunk_samples"] // 16000
    return [f"It is causal and streams: `step.tflite` runs it on {stream['chunk_samples']}-sample ({ms} ms) chunks,",
            f"carrying a state of {stream['state_size']} floats (`chunk` and `state` in; `state` and each task's",
            "probabilities of the audio so far out; after a clip's last chunk they are the offline model's).",
            "`kerasser label -` labels live input with it; the contract and app code: docs/devices.md."]


def render(metadata: dict, config: TrainConfig, export_command: str) -> str:
    """The card's Markdown text."""
    name = metadata.get("name", "model")
    tasks = metadata.get("tasks", [])
    uar = (metadata.get("test") or {}).get("uar") or {}
    lines = [
        f"# {name}",
        "",
        f"Speech emotion recogniser from the raw waveform ({describe(config)}; after Zhang et al., ICASSP 2019).",
        *_ensemble_lines(metadata),
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
        "`model.keras` uses kerasser's custom layers: load it with `kerasser.load_model(path)` (or import",
        "`kerasser.model.layers` before `keras.saving.load_model`, which registers them).",
        *(["Also serves `transcript`: the CTC head's per-step character log-probabilities (`kerasser label",
           "--transcribe` decodes them greedily into a `text` column)."] if metadata.get("transcript") else []),
        *(["It normalises by speaker: beside the waveform it takes `reference`, the speaker's mean log mel over",
           "the speaker's clips (`speaker_statistics`, `model_statistics.tflite`). `kerasser label --speakers",
           "folder` groups a folder's clips by speaker; without it each clip is its own speaker, which this",
           "model labels far worse (`benchmarks/reference_clips.py`)."] if metadata.get("speaker_reference") else []),
        *(["It reads the transcript too (`--modality " + str(metadata["text_input"].get("modality")) + "`, bridge tokens):",
           "beside the waveform it takes `text`, the transcript's character ids (metadata `text_input`; `[[0]]`: none,",
           "the audio alone). `kerasser label --transcripts CSV` gives each file's (docs/text.md)."]
          if metadata.get("text_input") else []),
        *_stream_lines(metadata.get("stream")),
        "",
        *_per_corpus_lines(metadata.get("test") or {}),
        *_held_out_lines(metadata.get("cross_corpus") or {}),
        *_parity_lines(metadata.get("parity") or {}),
        *_other_corpus_lines(metadata.get("other_corpora") or []),
        "## Data and split",
        "",
        f"Corpora: {', '.join(f'{c} ({p})' for c, p in config.corpora)}. Trained on the "
        f"{' + '.join(config.train_splits)} split(s) of PROTOCOL.md's speaker-independent split"
        + (f", epoch chosen on {config.dev_split}" if config.dev_split else ", all epochs, the last one kept")
        + "; scored on the test speakers, never seen in training.",
        "",
        *[f"- {CORPUS_TERMS[name]}" for name in dict.fromkeys(c for c, _ in config.corpora) if name in CORPUS_TERMS],
        "",
        "## Reproduce",
        "",
        "```bash",
        *_reproduce(metadata, config),
        export_command,
        "```",
        "",
        "The test UAR above is measured by the export (`metadata.json`, `test.uar`); "
        "`kerasser evaluate RUN` prints the same figures with per-class recall and confusion matrices.",
        "",
        "## Limits",
        "",
        corpus_limits(c for c, _ in config.corpora) + GENERAL_LIMITS,
    ]
    return "\n".join(lines)
