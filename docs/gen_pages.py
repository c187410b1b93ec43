"""The documentation pages made from the repository's own records, never copied by hand: the
results (``benchmarks/results/``), the model zoo (``exported/*/MODEL_CARD.md`` and
``metadata.json``), the training options (``kerasser.training.options``) and the project's root
files. ``mkdocs build`` adds them through ``docs/hooks.py``; ``python docs/gen_pages.py`` prints
the README's results table (tests/test_docs_site.py checks README.md holds it as made here).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
EXPORTED = ROOT / "exported"
TASKS = ("emotion", "arousal", "valence", "dominance")
CORPUS_NAMES = {"emodb": "EmoDB", "ravdess": "RAVDESS", "baved": "BAVED", "iemocap": "IEMOCAP"}

# Each results page: its title, a line of what it holds, and the files of benchmarks/results/ it shows.
RESULT_PAGES = {
    "results/accuracy.md": ("Accuracy", "EmoDB's fixed split and leave-one-speaker-out, every recipe and "
                            "ablation, beside PROTOCOL.md's peers.",
                            ["accuracy.md", "accuracy-2026-11-22.md", "readout_from_emotion.txt", "speed_tta.txt",
                             "joint_emotion.txt", "reference_clips.txt"]),
    "results/ablation.md": ("Multi-task ablation", "Zhang et al.'s Table 1 and the claims of the other seed "
                            "papers (CTC, loss weights) on EmoDB.", ["ablation.md", "ablation-2026-11-22.md"]),
    "results/speed.md": ("Speed", "Labelling, training, the input pipeline, Beam, tf.distribute and the "
                         "installs.", ["label_speed.txt", "train_speed.txt", "pipeline_speed.txt", "beam_speed.txt",
                                       "distribute_speed.txt", "install.txt", "train_startup.txt"]),
    "results/corpora.md": ("Corpora", "Several corpora, cross-corpus scores, the openSMILE peer on them, "
                           "BAVED in-corpus and fine-tuning.",
                           ["corpora.md", "exported_on_corpora.md", "opensmile_corpora.md", "opensmile_peer.txt",
                            "baved_in_corpus.txt", "baved_speakers.txt", "fine_tuning.md",
                            "fine_tuning_emodb.md"]),
    "results/text_fusion.md": ("Text fusion", "Audio, text and audio + text models (bridge tokens), and the "
                               "same models with the transcripts removed.", ["text_fusion.md"]),
    "results/devices.md": ("Devices", "The tiny recipe beside the default on a CPU: size, parameters, "
                           "latency per clip and per stream chunk, memory, accuracy.", ["device.md"]),
    "results/measurements.md": ("Other measurements", "Quantisation, speech segments.",
                                ["int8_drift.txt", "int8_layers.txt", "vad_segments.txt"]),
}


# --- reading the records ------------------------------------------------------------------------


def table_rows(markdown: str, section: str | None = None) -> list[list[str]]:
    """The cells of every table row of ``markdown`` (in the ``## section`` whose title starts with
    ``section``, if given)."""
    if section is not None:
        parts = re.split(r"^## ", markdown, flags=re.M)
        markdown = next((p for p in parts if p.startswith(section)), "")
    rows = []
    for line in markdown.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def find_row(rows: list[list[str]], start: str) -> list[str]:
    for row in rows:
        if row[0].startswith(start):
            return row
    raise KeyError(f"no row starting {start!r}")


def metadata(model: str) -> dict:
    return json.loads((EXPORTED / model / "metadata.json").read_text())


def shipped_models() -> list[str]:
    return sorted(p.parent.name for p in EXPORTED.glob("*/MODEL_CARD.md"))


def _ravdess_common(model: str) -> str:
    """The shipped model's 4-class emotion UAR on all of RAVDESS (exported_on_corpora.md), if measured."""
    text = (RESULTS / "exported_on_corpora.md").read_text()
    if f"# {model} on whole corpora" not in text:
        return ""
    m = re.search(r"^\| ravdess \|.*emotion \(4-class common\) ([\d.]+)", text, re.M)
    return m.group(1) if m else ""


# --- the results summary (README.md and the site) ----------------------------------------------


def results_table(link=lambda model: f"exported/{model}/MODEL_CARD.md") -> str:
    """The shipped models beside the default recipe's seeds and the peers, from the records:
    EmoDB's test speakers (in-corpus) and BAVED, RAVDESS (corpora the models never heard)."""
    accuracy = (RESULTS / "accuracy.md").read_text()
    fixed = table_rows(accuracy, "EmoDB fixed split (")
    header = ("| model | trained on | EmoDB emotion | arousal | valence | dominance | BAVED arousal (unseen) "
              "| RAVDESS 4-class emotion (unseen) |")
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for model in shipped_models():
        meta = metadata(model)
        uar = meta["test"]["uar"]
        baved = next((c["uar"]["arousal"] for c in meta.get("other_corpora") or [] if c["corpus"] == "baved"), None)
        members = meta["training"].get("ensemble")
        trained = "EmoDB, 8 speakers" + (f", {len(members)} seeds averaged" if members else "")
        cells = [f"{uar[t]:.1f}" for t in TASKS]
        lines.append(f"| [{model}]({link(model)}) | {trained} | {' | '.join(cells)} | "
                     f"{'' if baved is None else f'{baved:.1f}'} | {_ravdess_common(model)} |")
    default = find_row(fixed, "**default**")
    seeds = [int(s) for s in default[1].split(",")]
    seeds_text = f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else default[1]
    lines.append(f"| default recipe, mean ± sd of seeds {seeds_text} | EmoDB, 6 speakers | "
                 f"{' | '.join(default[2:6])} | {default[7]} | |")
    ecapa = find_row(fixed, "ECAPA-TDNN")
    lines.append(f"| peer: ECAPA-TDNN from scratch (PROTOCOL.md) | EmoDB, 6 speakers | {' | '.join(ecapa[2:6])} | | |")
    smile = find_row(fixed, "openSMILE eGeMAPS + SVM, no norm")
    on_emodb = re.search(r"([\d.]+) trained on EmoDB", smile[7])
    lines.append(f"| peer: openSMILE eGeMAPS + SVM (PROTOCOL.md) | EmoDB, 6 speakers | {' | '.join(smile[2:6])} | "
                 f"{on_emodb.group(1) if on_emodb else ''} | |")
    return "\n".join(lines)


def speed_line() -> str:
    """The default model's TFLite labelling speed (label_speed.txt's first measurement)."""
    text = (RESULTS / "label_speed.txt").read_text()
    m = re.search(r"^emodb/wav\s+tflite\s+\d+\s+\d+\s+[\d.]+\s+[\d.]+\s+([\d.]+)", text, re.M)
    clip = re.search(r"^model\.tflite\s+[\d.]+\s+([\d.]+)", text, re.M)
    return (f"`kerasser label` runs at {float(m.group(1)):.0f}x real time on EmoDB (LiteRT, 2 CPU cores), "
            f"{clip.group(1)} ms per 2 s clip ([Speed](speed.md)).")


def results_index() -> str:
    return "\n\n".join([
        "# Results",
        "Every figure on these pages is read from `benchmarks/results/` and `exported/*/metadata.json` when "
        "the site is built (`docs/gen_pages.py`); each record names the command that made it. UAR in %, "
        "EmoDB's test speakers 15 and 16 (PROTOCOL.md's speaker-independent split) unless a page says "
        "otherwise.",
        "## The shipped models and their peers",
        results_table(link=lambda model: f"../models/{model}.md"),
        "The shipped models were trained on EmoDB's train and dev speakers (8); the recipe rows and the peers on "
        "the 6 train speakers with the epoch picked on the 2 dev speakers. BAVED (Arabic words) and RAVDESS "
        "(English, acted) were never heard in training.",
        "## Speed",
        speed_line(),
        "## Pages",
        "\n".join(f"- [{title}]({Path(path).name}): {what}" for path, (title, what, _) in RESULT_PAGES.items()),
    ])


def result_page(title: str, what: str, files: list[str]) -> str:
    parts = [f"# {title}", what + " Made from the records in `benchmarks/results/` when the site is built."]
    for name in files:
        text = (RESULTS / name).read_text(encoding="utf-8").strip()
        parts.append(f"## `{name}`")
        if name.endswith(".md"):
            text = re.sub(r"^(#+) ", lambda m: "#" * min(len(m.group(1)) + 2, 6) + " ", text, flags=re.M)
            parts.append(text)
        else:
            parts.append(f"```text\n{text}\n```")
    return "\n\n".join(parts) + "\n"


# --- the model zoo ------------------------------------------------------------------------------


def model_page(model: str) -> str:
    from kerasser.data.corpora.terms import CORPUS_TERMS

    meta = metadata(model)
    card = (EXPORTED / model / "MODEL_CARD.md").read_text(encoding="utf-8").strip()
    corpora = [name for name, _ in meta["training"]["corpora"]]
    terms = " ".join(CORPUS_TERMS.get(c, f"{c}: its own terms.") for c in corpora)
    files = ", ".join(f"`{f['path']}`" for f in meta["files"].values() if isinstance(f, dict) and "path" in f)
    head, _, rest = card.partition("\n")
    return "\n\n".join([
        head,
        f"!!! note \"Use of these weights\"\n    Trained on {', '.join(CORPUS_NAMES.get(c, c) for c in corpora)} only. {terms} The code is "
        "Apache-2.0; the weights come under the terms of the data they learned from ([Licences](../licences.md)).",
        f"Label with it: `kerasser label --model {model} FILES` or `kerasser.Labeler(model=\"{model}\")`. "
        f"Files: {files} (`exported/{model}/`, and in the wheel).",
        rest.strip(),
    ]) + "\n"


def models_index() -> str:
    from kerasser.data.corpora.terms import weight_terms

    lines = ["# Model zoo", "The models kerasser ships (`kerasser models` lists those installed). Each page is its "
             "model card, made by `kerasser export`.", "| model | tasks | trained on | use |", "|---|---|---|---|"]
    for model in shipped_models():
        meta = metadata(model)
        corpora = [name for name, _ in meta["training"]["corpora"]]
        tasks = ", ".join(t["name"] for t in meta["tasks"])
        names = ", ".join(CORPUS_NAMES.get(c, c) for c in corpora)
        lines.append(f"| [{model}]({model}.md) | {tasks} | {names} | {weight_terms(corpora)} |")
    return "\n\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n"


# --- the training options -----------------------------------------------------------------------


def training_options() -> str:
    from kerasser.training.options import TRAINING_OPTIONS, recipe_defaults

    lines = ["# Training options",
             "Every option of `kerasser train` (and of `crossval` and `tune`, but for those marked *train only*), "
             "from the one table in `kerasser/training/options.py`; the values are read from the recipes. "
             "`--recipe`, `--tasks`, `--loss-weights` and `--spec-augment` are described in [Training](training.md).",
             "| option | what it does | recipes' value |", "|---|---|---|"]
    for option in TRAINING_OPTIONS:
        flag = " / ".join(f"`{f}`" for f in option.flags)
        kind = option.kind
        choices = f" One of: {', '.join(kind)}." if isinstance(kind, tuple) else ""
        only = " *train only*." if option.train_only else ""
        value = recipe_defaults(option) if option.show_default else "see the text"
        lines.append(f"| {flag} | {option.help.replace('|', '/')}{choices}{only} | {value} |")
    return "\n\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n"


# --- the root files -----------------------------------------------------------------------------


def root_page(name: str, title: str | None = None) -> str:
    text = (ROOT / name).read_text(encoding="utf-8")
    return (f"# {title}\n\n" if title else "") + text


def citing() -> str:
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    return ("# Citing\n\nCite kerasser, and the papers and corpora it builds on, from `CITATION.cff` "
            "(GitHub's *Cite this repository* reads it):\n\n```yaml\n" + cff + "```\n")


def pages() -> dict[str, str]:
    """Every generated page: its path under docs/ -> its markdown."""
    made = {
        "results/index.md": results_index(),
        "models/index.md": models_index(),
        "training-options.md": training_options(),
        "architecture.md": root_page("ARCHITECTURE.md"),
        "contributing.md": root_page("CONTRIBUTING.md"),
        "changelog.md": root_page("CHANGELOG.md"),
        "licences.md": root_page("LICENSES.md"),
        "citing.md": citing(),
    }
    for path, (title, what, files) in RESULT_PAGES.items():
        made[path] = result_page(title, what, files)
    for model in shipped_models():
        made[f"models/{model}.md"] = model_page(model)
    return made


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(results_table())
