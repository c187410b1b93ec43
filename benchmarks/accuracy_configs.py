"""``benchmarks/accuracy.py``'s configurations: each row's recipe, overrides and what it shows, the
teachers and held-out folds some rows need, and PROTOCOL.md's peers printed beside them."""

from __future__ import annotations

from pathlib import Path

TASKS = ("emotion", "arousal", "valence", "dominance")

# name -> (recipe, overrides, what it shows)
_NO_ACOUSTIC = {"augment_noise_prob": 0.0, "augment_reverb_prob": 0.0, "augment_bandlimit_prob": 0.0, "augment_gain_db": 0.0}
_STRIDE1 = {"recurrent_stride": 1}  # the recipes before the recurrent stride: a GRU step per frame
_V3 = {"mel_trainable": False}  # the third default: the fourth (recipe v4) with a fixed mel filterbank
_V1 = {**_V3, "spec_time_masks": 2, "spec_freq_masks": 2, **_NO_ACOUSTIC, **_STRIDE1}  # the first default

# teacher folds -> the EmoDB train speakers they leave out (PROTOCOL.md: train 03 08 09 10 11 13,
# dev 12 14, test 15 16; each pair is one man and one woman)
HELD_OUT = {"v4-fold0": ("03", "08"), "v4-fold1": ("09", "10"), "v4-fold2": ("11", "13")}
EMODB_SPLITS = {"train": ("03", "08", "09", "10", "11", "13"), "dev": ("12", "14"), "test": ("15", "16")}

CONFIGS: dict[str, tuple[str, dict, str]] = {
    "paper": ("paper", {}, "Zhang et al.: raw waveform, 2 GRU, attention, Adam 1e-4"),
    "default": ("default", {}, ("the default recipe (the sixth: v5 with dominance read off the emotion head, "
                                "its own head trained but not saved, the epoch picked on the trained heads)")),
    "v5": ("v5", {}, "fifth default: v4 with 4 attention heads per task and mixup of training batches"),
    "v4": ("v4", {}, "fourth default: v3 with a learnable filterbank"),
    # the tiny recipe for devices (issue 45) and its screens
    "tiny": ("tiny", {}, "the tiny recipe for devices: causal depthwise-separable conv blocks, no GRU, 60 K parameters"),
    "tiny+mean": ("tiny", {"causal": False, "feature_norm": "mean"},
                  "tiny with per-utterance mean normalisation (not causal: no step model)"),
    "tiny+wide": ("tiny", {"block_channels": (128, 128, 128, 128)}, "tiny with 128 channels per block"),
    "tiny+running": ("tiny", {"feature_norm": "running"}, "tiny with each log-mel frame minus the mean of the frames so far"),
    "tiny+e120": ("tiny", {"epochs": 120, "patience": 120}, "tiny trained for 120 epochs (still improving at 60)"),
    "tiny+kd": ("tiny", {}, "tiny distilled from the default's seed 0 (weight 0.5; the teacher a rerun of that "
                "seed, its run folder runs/accuracy/default/fixed/seed0: dev 79.8, test 67.9 / 95.4 / 80.3 / 86.2)"),
    "tiny+wide+e120": ("tiny", {"block_channels": (128, 128, 128, 128), "epochs": 120, "patience": 120},
                       "tiny with 128 channels per block, 120 epochs"),
    # added one at a time to the paper recipe
    "paper+logmel": ("paper", {"frontend": "logmel"}, "paper with the log-mel front end and conv blocks"),
    "paper+lr1e-3": ("paper", {"learning_rate": 1e-3}, "paper with Adam 1e-3"),
    # the first default recipe (v1) and its ablations, which chose the default
    "v1": ("v4", _V1, "first default: SpecAugment instead of acoustic augmentation, a GRU step per frame"),
    "v1-specaug": ("v4", {**_V3, **_NO_ACOUSTIC, **_STRIDE1}, "v1 without SpecAugment (= v3-stride without acoustic augmentation)"),
    "v1-speed": ("v4", {**_V1, "augment_speed": ()}, "v1 without speed perturbation"),
    "v1-stats": ("v4", {**_V1, "pool_statistics": False}, "v1 with the attention mean only (no standard deviation)"),
    "v1+acoustic": ("v4", {**_V3, "spec_time_masks": 2, "spec_freq_masks": 2, **_STRIDE1},
                    "v1 with noise, reverberation, band-limiting, gain (= v3-stride with SpecAugment)"),
    # the third default recipe (v3: a fixed mel filterbank) and its ablations, which chose the default
    "v3": ("v4", _V3, "third default: the fixed mel filterbank (= default-learnable-fb)"),
    # removed one at a time from v3
    "v3-stride": ("v4", {**_V3, **_STRIDE1}, "v3 with a GRU step per 10 ms frame (the second default; 1.7x slower in LiteRT)"),
    "v3-acoustic": ("v4", {**_V3, **_NO_ACOUSTIC}, "no noise, reverberation, band-limiting or gain"),
    "v3-speed": ("v4", {**_V3, "augment_speed": ()}, "no speed perturbation"),
    "v3-bigru": ("v4", {**_V3, "bidirectional": False}, "unidirectional GRU (1.5x faster in LiteRT)"),
    "v3-stats": ("v4", {**_V3, "pool_statistics": False}, "attention mean only (no standard deviation)"),
    "v3-balance": ("v4", {**_V3, "class_balanced": False}, "no class-balanced weights"),
    "v3-smoothing": ("v4", {**_V3, "label_smoothing": 0.0}, "no label smoothing"),
    "v3-schedule": ("v4", {**_V3, "optimizer": "adam", "weight_decay": 0.0, "schedule": "constant", "warmup_epochs": 0.0},
                         "Adam at a constant 1e-3 (no AdamW, warm-up or cosine decay)"),
    "v3-residual": ("v4", {**_V3, "block_residual": False}, "no residual connections"),
    # options on top of v3
    "v3+specaug": ("v4", {**_V3, "spec_time_masks": 2, "spec_freq_masks": 2}, "SpecAugment as well"),
    "v3+se": ("v4", {**_V3, "block_se": 64}, "squeeze-excitation (64 units)"),
    "v3+heads4": ("v4", {**_V3, "pool_heads": 4}, "4 attention heads per task"),
    "v3+meanvar": ("v4", {**_V3, "feature_norm": "meanvar"}, "mean and variance normalisation per utterance"),
    "v3+2gru": ("v4", {**_V3, "gru_layers": 2}, "two bidirectional GRU layers"),
    "v3+crop": ("v4", {**_V3, "augment_crop_prob": 0.5, "augment_crop_min_seconds": 1.0}, "random crops (>= 1 s)"),
    "v3+dropout0.4": ("v4", {**_V3, "dropout": 0.4}, "dropout 0.4 before the GRU"),
    "v3+avg20": ("v4", {**_V3, "average_last": 20}, "the last 20 epochs' weights averaged (kept if not worse on dev)"),
    "v3+adversarial": ("v4", {**_V3, "speaker_adversarial": 0.1}, "speaker-adversarial training (reversal weight 0.1)"),
    # options on top of the fourth default (v4: a learnable filterbank, before mixup)
    "v4+2gru": ("v4", {"gru_layers": 2}, "v4 with two bidirectional GRU layers"),
    "v4+heads4": ("v4", {"pool_heads": 4}, "v4 with 4 attention heads per task"),
    # the schedule: the best dev epoch comes at 22-38 of 60; a 30-epoch cosine ends its decay there
    "v4+ep30": ("v4", {"epochs": 30, "patience": 30}, "30 epochs (the cosine decay ends at 30)"),
    "v4+ep90": ("v4", {"epochs": 90, "patience": 90}, "90 epochs (the cosine decay ends at 90)"),
    "v4+dropout0.4": ("v4", {"dropout": 0.4}, "dropout 0.4 before the GRU"),
    # task weights (TASKS order: emotion, arousal, valence, dominance)
    "v4+ed2": ("v4", {"loss_weights": (2.0, 1.0, 1.0, 2.0)}, "emotion and dominance losses weighted 2"),
    # knowledge distillation: one model of v4 learning from v4's 3 seeds
    # (its fixed-split runs, which saw only the train speakers), half labels and half teachers
    "v4+kd": ("v4", {}, "distilled from v4's seeds 0-2 (weight 0.5): one model's cost"),
    "v4+kdT2": ("v4", {"distill_temperature": 2.0}, "distilled as v4+kd, teachers at temperature 2"),
    # out-of-fold teachers: v4 trained on 4 of the 6 train speakers (PROTOCOL.md's dev
    # speakers choose the epoch), each judging the 2 it never heard
    **{name: ("v4", {}, f"v4 on 4 train speakers (without {' and '.join(pair)}): a teacher")
       for name, pair in HELD_OUT.items()},
    "v4+kdfold": ("v4", {}, "distilled from v4-fold0-2: every training utterance judged by a "
                                      "teacher that never heard its speaker"),
    # per-utterance normalisation and short inputs, for unseen corpora (BAVED's words last about 1 s)
    "v4+meanvar": ("v4", {"feature_norm": "meanvar"}, "mean and variance normalisation per utterance"),
    "v4+nonorm": ("v4", {"feature_norm": "none"},
                       "no per-utterance normalisation (the log-mel keeps the recording's level)"),
    "v4+level": ("v4", {"feature_norm": "level"},
                      "per-utterance level normalisation: the gain removed, the spectral tilt kept"),
    "v4+mixup": ("v4", {"augment_mixup_alpha": 0.4}, "mixup of training batches (Beta(0.4, 0.4), kerasser.data.mixup)"),
    "v4+crop": ("v4", {"augment_crop_prob": 0.5, "augment_crop_min_seconds": 1.0}, "random crops (>= 1 s)"),
    # the additive-margin softmax of ECAPA-TDNN recipes (CosFace; SpeechBrain's uses s 30, m 0.2)
    "v4+am": ("v4", {"head": "cosine", "head_scale": 30.0, "margin": 0.2},
                   "cosine heads and an additive margin (AM-softmax, s 30, m 0.2)"),
    "v4+am-smoothing": ("v4", {"head": "cosine", "head_scale": 30.0, "margin": 0.2, "label_smoothing": 0.0},
                             "v4+am without label smoothing (as SpeechBrain's ECAPA-TDNN recipe)"),
    # generalisation: several corpora together (BAVED's train speakers; its dev speakers join the dev split)
    "v4+baved": ("v4", {}, "trained on EmoDB and BAVED's train speakers together"),
    # the fifth default's (v5's) variants; named default+X while v5 was the default (until 2026-12-02)
    "v5+2gru": ("v5", {"gru_layers": 2}, "v5 with two bidirectional GRU layers"),
    "v5+meanvar": ("v5", {"feature_norm": "meanvar"}, "v5 with mean and variance normalisation per utterance"),
    "v5+heads2": ("v5", {"pool_heads": 2}, "v5 with 2 attention heads per task (4 cost BAVED arousal)"),
    "v5+avg20": ("v5", {"average_last": 20},
                 "v5 with the last 20 epochs' weights averaged (kept if not worse on dev)"),
    "v5+level": ("v5", {"feature_norm": "level"},
                 "v5 with per-utterance level normalisation (the gain removed, the spectral tilt kept)"),
    "v5+ema": ("v5", {"ema_momentum": 0.99},
               "v5 with a moving average of the weights (momentum 0.99 per step, about 5 epochs) scored and saved"),
    "v5+pcen": ("v5", {"feature_norm": "pcen"},
                "v5 with per-channel energy normalisation (PCEN, kerasser.layers.PCEN) instead of the sentence mean"),
    # speaker-level normalisation (the openSMILE peer's speaker-norm, for the model): transductive
    "v5+speaker": ("v5", {"feature_norm": "speaker", "mel_trainable": False},
                   ("v5 with each speaker's mean log mel subtracted instead of each utterance's "
                    "(a fixed filterbank; transductive: a scored speaker's reference comes from that "
                    "speaker's scored clips, so compare with the speaker-norm rows)")),
    # random gain teaches the model to ignore the level, which a speaker reference keeps as a cue
    "v5+speaker-gain": ("v5", {"feature_norm": "speaker", "mel_trainable": False, "augment_gain_db": 0.0},
                        "v5+speaker without random gain (the level relative to the speaker kept as a cue)"),
    # on 6 v5 runs (seeds 3-8) the emotion head's probabilities summed per dominance level beat
    # the dominance head on dev on every seed (mean +5.6); not so for arousal (-1.1) or valence (-12.3)
    # (benchmarks/readout_from_emotion.py)
    "v5+d-from-emotion": ("v5", {"derived_tasks": ("dominance",)},
                          ("v5 with dominance read off the emotion head (`--from-emotion d`: "
                           "its probabilities summed per PROTOCOL.md's dominance level), no dominance head")),
    # v5+d-readout moved the picked epoch on 7 of 13 runs (LOSO folds, fixed seeds 0-2), losing
    # emotion on 6 of them; picked on the trained heads (the sixth default) it keeps v5's epochs
    "v5+d-readout": ("v5", {"readout_tasks": ("dominance",)},
                     ("v5 with a dominance head trained as usual but dominance read off the emotion "
                      "head in the saved model (`--readout-from-emotion d`; epoch picked on that)")),
}
EXTRA_CORPORA = {"v4+baved": ("baved",)}
# student -> its teachers' (configuration, seed): fixed-split runs, trained first
TEACHERS = {
    "v4+kd": [("v4", s) for s in (0, 1, 2)],
    "v4+kdT2": [("v4", s) for s in (0, 1, 2)],
    "v4+kdfold": [(f"v4-fold{k}", 0) for k in range(3)],
    "tiny+kd": [("default", 0)],
}

# PROTOCOL.md: EmoDB emotion / arousal / valence / dominance, and BAVED arousal. PROTOCOL's BAVED
# figures are those of an SVM trained on BAVED's own train speakers (reproduced by
# benchmarks/opensmile_peer.py: 46.9 / 47.1 and 74.9 / 69.4), not on EmoDB as the rows below are;
# the EmoDB-trained peer (the same script, best of linear / rbf and of equal / balanced class
# weights) reaches 38.9 without and 54.4 with speaker normalisation.
BAVED_TRAINED = " (trained on BAVED)"
PEERS = [
    ("openSMILE eGeMAPS + SVM, no norm (best of linear / rbf)", "fixed", (52.4, 71.1, 58.3, 69.3),
     "52.0" + BAVED_TRAINED + "; 38.9 trained on EmoDB"),
    ("openSMILE eGeMAPS + SVM, speaker-norm (test speaker's audio)", "fixed", (79.7, 88.1, 78.2, 83.9),
     "74.7" + BAVED_TRAINED + "; 54.4 trained on EmoDB"),
    ("ECAPA-TDNN from scratch (SpeechBrain), 3 seeds", "fixed", (67.6, 88.5, 68.8, 83.1), None),
    ("openSMILE eGeMAPS + SVM, no norm (best of linear / rbf)", "loso", (58.9, 79.7, 61.1, 70.2), None),
    ("openSMILE eGeMAPS + SVM, speaker-norm (test speaker's audio)", "loso", (73.7, 87.4, 74.9, 82.0), None),
]




def train_config(name: str, protocol: str, seed: int, args):
    from kerasser.training.recipes import build_train_config

    recipe, overrides, _ = CONFIGS[name]
    corpora = ("emodb", *EXTRA_CORPORA.get(name, ()))
    if name in TEACHERS:
        if protocol != "fixed":
            raise SystemExit(f"{name}: distillation has fixed-split teachers only (crossval refuses it)")
        runs = tuple(Path(args.runs) / teacher / "fixed" / f"seed{s}" for teacher, s in TEACHERS[name])
        missing = [str(r) for r in runs if not (r / "scores.json").exists()]
        if missing:
            raise SystemExit(f"{name}: train its teachers first (not finished: {', '.join(missing)})")
        overrides = {**overrides, "distill_from": tuple(str(r) for r in runs)}
    if name in HELD_OUT:
        if protocol != "fixed":
            raise SystemExit(f"{name}: a teacher fold of the fixed split")
        splits = {**EMODB_SPLITS, "train": tuple(s for s in EMODB_SPLITS["train"] if s not in HELD_OUT[name])}
        overrides = {**overrides, "speaker_splits": tuple((k, tuple(f"emodb:{s}" for s in v)) for k, v in splits.items())}
    return build_train_config(
        recipe,
        corpora=tuple((c, str(Path(args.data) / c)) for c in corpora),
        out=str(Path(args.runs) / name / protocol / f"seed{seed}"),
        tasks=TASKS,
        seed=seed,
        **overrides,
    )
