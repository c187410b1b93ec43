"""Frozen configuration dataclasses, saved with every run as JSON.

``AudioConfig`` fixes the waveform contract (sample rate, frame length and hop): the one place
decoding, the dataset, export and the Labeler take them from. ``ModelConfig`` is the network,
``AugmentConfig`` the training pipeline's waveform augmentation (``kerasser.data.augment``),
``TrainConfig`` one training run. Each converts to and from a plain dict so a run folder's
``config.json`` rebuilds exactly the same model. Every field added after the first release
defaults to the old behaviour, so older run folders keep their meaning; the named recipes
(``kerasser.training.recipes``) set the new ones.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from kerasser.errors import SettingsError
from kerasser.tasks import EMODB_EMOTIONS, EMOTION, TASKS
from kerasser.text_input import check_modality

# The models' input: mono at this rate (every recipe; a model's own rate is its AudioConfig's).
SAMPLE_RATE = 16000
FRONTENDS = ("shared", "framed", "logmel")
CONV_PADDINGS = ("valid", "same")
FEATURE_NORMS = ("none", "mean", "meanvar", "level", "speaker", "pcen", "running")
SELECT_ON = ("saved", "trained")
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "cosine")
STRATEGIES = ("default", "mirrored", "multiworker")  # kerasser.training.distribution
HEADS = ("softmax", "cosine")
FREEZES = ("none", "frontend", "encoder")  # TrainConfig.freeze: what --init-from keeps as trained
ADVERSARIES = ("speaker", "corpus")  # ModelConfig.adversary: what the gradient-reversal classifier tells apart
AUTO_WEIGHTS = "auto"  # TrainConfig.loss_weights: learned during training (kerasser.model.uncertainty)


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Waveform augmentation switches (all off by default: the paper recipe has none)."""

    speed: tuple[float, ...] = ()  # e.g. (0.9, 1.0, 1.1); () = off
    crop_prob: float = 0.0
    crop_min_seconds: float = 1.0
    gain_db: float = 0.0
    noise_prob: float = 0.0
    snr_db: tuple[float, float] = (5.0, 30.0)
    reverb_prob: float = 0.0
    bandlimit_prob: float = 0.0
    codec_prob: float = 0.0  # a telephone channel: narrow band, 8 kHz, mu-law (kerasser.data.augment.telephone)
    # mixup of training batches (kerasser.data.mixup): Beta(alpha, alpha) mixing weights; 0 = off
    mixup_alpha: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "speed", tuple(float(s) for s in self.speed))
        object.__setattr__(self, "snr_db", tuple(float(s) for s in self.snr_db))
        if any(s <= 0 for s in self.speed):
            raise SettingsError(f"speed factors must be positive, not {self.speed}")
        for name in ("crop_prob", "noise_prob", "reverb_prob", "bandlimit_prob", "codec_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise SettingsError(f"{name} must be a probability in [0, 1], not {getattr(self, name)}")
        if self.gain_db < 0 or self.crop_min_seconds <= 0 or self.mixup_alpha < 0:
            raise SettingsError("gain_db and mixup_alpha (0 = off) must be >= 0 and crop_min_seconds > 0")
        if len(self.snr_db) != 2 or self.snr_db[0] > self.snr_db[1]:
            raise SettingsError(f"snr_db must be (low, high), not {self.snr_db}")

    @property
    def active(self) -> bool:
        """Whether any per-example waveform step is on (mixup, a batch step, is not counted)."""
        return bool(
            [s for s in self.speed if s != 1.0]
            or self.crop_prob or self.gain_db or self.noise_prob or self.reverb_prob or self.bandlimit_prob
            or self.codec_prob
        )


@dataclasses.dataclass(frozen=True)
class AudioConfig:
    sample_rate: int = SAMPLE_RATE
    frame_length: int = 640  # 40 ms: the raw-waveform front ends; the log-mel one uses 400 (25 ms)
    frame_step: int = 160  # 10 ms

    def num_frames(self, num_samples: int) -> int:
        """Frames the model makes of ``num_samples`` valid samples (:func:`num_frames`)."""
        return num_frames(num_samples, self.frame_length, self.frame_step)


def num_frames(num_samples, frame_length: int, frame_step: int, maximum=max):
    """The frame count of every front end, the serving contract's attention frames and the
    padding mask: ``1 + ceil(max(0, n - frame_length) / frame_step)`` frames cover ``num_samples``
    valid samples (at least one; the last may run past the end, where the signal is zero).
    ``maximum``: ``tf.maximum`` for integer tensors (the layers), ``max`` for Python ints."""
    extra = maximum(num_samples - frame_length, 0)
    return 1 + (extra + frame_step - 1) // frame_step


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    tasks: tuple[str, ...] = ("arousal", "valence", "dominance")
    attention: bool = True
    # "shared" (raw waveform, one convolution over the utterance), "framed" (raw waveform, per
    # frame, the paper's) or "logmel" (log mel filterbank -> convolution blocks)
    frontend: str = "shared"
    conv_padding: str = "valid"  # the shared front end needs "valid"; the paper's framed one used "same"
    conv_filters: int = 40
    conv_width: int = 40
    time_pool: int = 2
    channel_pool: int = 10
    dropout: float = 0.1  # keep probability 0.9
    gru_units: int = 128
    gru_layers: int = 2
    l2: float = 1e-4
    audio: AudioConfig = AudioConfig()
    # log-mel front end (frontend="logmel"); frames are audio.frame_length / audio.frame_step
    mel_bins: int = 80
    fft_length: int = 512
    mel_trainable: bool = False  # learnable filterbank, initialised on mel
    # per utterance, over valid frames: none, mean, meanvar, level (gain only); or "speaker": minus
    # the speaker's mean log mel (a ``reference`` input, kerasser.model.speaker_reference; fixed filterbank);
    # or "pcen": per-channel energy normalisation (kerasser.model.layers.PCEN); "running": minus the mean so far
    feature_norm: str = "mean"
    # per-utterance statistics over the speech frames only: those within this many dB of the
    # utterance's loudest frame (an energy gate; kerasser.model.layers.UtteranceNormalization); 0: all frames
    norm_gate_db: float = 0.0
    spec_time_masks: int = 0  # SpecAugment (training only); 0 masks = off
    spec_time_width: int = 20
    spec_freq_masks: int = 0
    spec_freq_width: int = 10
    block_channels: tuple[int, ...] = (256, 256, 256)  # one ConvBlock each
    block_dilations: tuple[int, ...] = (1, 2, 3)
    block_kernel: int = 5
    block_residual: bool = True
    block_se: int = 0  # squeeze-excitation bottleneck units; 0 = off
    block_separable: bool = False  # depthwise-separable convolutions (ConvBlock separable): for devices
    causal: bool = False  # no frame sees a later one: the model also runs chunk by chunk (export.streaming)
    # MixStyle after the first convolution block (training only): the probability per batch that
    # the utterances' feature statistics are mixed (kerasser.model.layers.MixStyle); 0 = off
    mixstyle: float = 0.0
    # sequence and pooling
    bidirectional: bool = False
    # frames averaged into one recurrent step (FrameDownsampling); 2 halves the GRU's steps
    recurrent_stride: int = 1
    pool_heads: int = 1
    pool_statistics: bool = False  # attentive statistics: weighted mean and standard deviation
    # each task's classifier: "softmax" (Dense) or "cosine" (CosineSoftmax: softmax of head_scale
    # times the cosines to the class weights; trained with TrainConfig.margin it is AM-softmax)
    head: str = "softmax"
    head_scale: float = 30.0
    # dimension tasks read off the emotion head instead of a head of their own: the emotion
    # probabilities summed over PROTOCOL.md's emotion -> level table (ClassGrouping); for corpora
    # whose dimension labels are defined by the emotion (EmoDB), not rated apart from it (IEMOCAP)
    derived_tasks: tuple[str, ...] = ()
    # dimension tasks trained with a head of their own (its loss, as usual) but read off the emotion
    # head, like derived_tasks, in the saved model (best.keras, and so evaluation, labels, exports):
    # the own head is a training-only auxiliary (which model's dev UAR picks the epoch:
    # TrainConfig.select_on)
    readout_tasks: tuple[str, ...] = ()
    # speaker-adversarial training: a speaker classifier over ``speakers`` training speakers behind
    # a gradient reversal of this weight (0 = off); training only, stripped from exports
    speaker_adversarial: float = 0.0
    speakers: int = 0  # set by training from the training data
    # what the adversary classifies: "speaker" (the training speakers) or "corpus" (the training
    # corpora: corpus-adversarial training, features that do not tell the corpora apart)
    adversary: str = "speaker"
    # CTC auxiliary ASR loss (Cai et al., 2021): L = L_tasks + ctc_weight * L_CTC from a character
    # head over the GRU outputs (0 = no head); training only unless exported --with-transcript
    ctc_weight: float = 0.0
    # the emotion head's classes, in column order: the union of the classes the training corpora
    # label (set by training from the data, ``kerasser.data.label_space``); the first models' seven EmoDB
    # classes by default, so older run folders keep their meaning
    emotion_classes: tuple[str, ...] = EMODB_EMOTIONS
    modality: str = "audio"  # "audio", "text" or "audio+text": bridge tokens fuse them (kerasser.model.fusion)
    bridge_tokens: int = 4  # learnable tokens that cross-attend to both modalities (text models)
    modality_dropout: float = 0.5  # audio+text training: the chance an example loses its text (ModalityDropout)
    text_vocabulary: tuple[str, ...] = ()  # the text input's characters, set by training (kerasser.text_input)

    def __post_init__(self):
        for name in ("tasks", "emotion_classes", "derived_tasks", "readout_tasks", "block_channels",
                     "block_dilations", "text_vocabulary"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        unknown = [c for c in self.emotion_classes if c not in EMOTION.classes]
        if unknown or len(set(self.emotion_classes)) != len(self.emotion_classes) or len(self.emotion_classes) < 2:
            raise SettingsError(f"emotion_classes must be two or more distinct classes of {', '.join(EMOTION.classes)}, "
                                f"not {self.emotion_classes}")
        if self.frontend not in FRONTENDS:
            raise SettingsError(f"frontend must be one of {FRONTENDS}, not {self.frontend!r}")
        if self.feature_norm not in FEATURE_NORMS:
            raise SettingsError(f"feature_norm must be one of {FEATURE_NORMS}, not {self.feature_norm!r}")
        if self.feature_norm == "speaker" and (self.frontend != "logmel" or self.mel_trainable):
            raise SettingsError("speaker normalisation (feature_norm 'speaker') needs the log-mel front end with a "
                                "fixed filterbank (a speaker's reference must not change as the filterbank learns)")
        if self.causal and (self.feature_norm not in ("none", "running") or self.bidirectional or self.block_se):
            raise SettingsError("a causal model needs feature_norm none or running, no bidirectional GRU, no squeeze-excitation")
        if not self.norm_gate_db >= 0:
            raise SettingsError(f"norm_gate_db must be >= 0 (0: no gate), not {self.norm_gate_db}")
        if self.norm_gate_db and self.feature_norm not in ("mean", "meanvar", "level"):
            raise SettingsError(f"norm_gate_db gates per-utterance statistics (feature_norm mean, meanvar or level), "
                                f"not {self.feature_norm!r}")
        if len(self.block_channels) != len(self.block_dilations):
            raise SettingsError("block_channels and block_dilations need one entry per block")
        if self.frontend == "logmel" and self.fft_length < self.audio.frame_length:
            raise SettingsError(f"fft_length {self.fft_length} is shorter than the {self.audio.frame_length}-sample frame")
        if not self.attention and (self.pool_heads != 1 or self.pool_statistics):
            raise SettingsError("pool_heads and pool_statistics need attention pooling")
        if self.conv_padding not in CONV_PADDINGS:
            raise SettingsError(f"conv_padding must be 'valid' or 'same', not {self.conv_padding!r}")
        if self.conv_padding == "same" and self.frontend != "framed":
            raise SettingsError("conv_padding 'same' needs the framed front end (the shared one computes 'valid' only)")
        if self.conv_filters % self.channel_pool:
            raise SettingsError("conv_filters must be a multiple of channel_pool")
        if not self.tasks:
            raise SettingsError("a model needs at least one task")
        for field in ("derived_tasks", "readout_tasks"):
            chosen = getattr(self, field)
            if chosen and "emotion" not in self.tasks:
                raise SettingsError(f"{field} are read off the emotion head: add the emotion task")
            for task in chosen:
                if task not in self.tasks or task == "emotion":
                    raise SettingsError(f"{field[:-1].replace('_', ' ')} {task!r} must be one of the model's "
                                        f"dimension tasks ({', '.join(t for t in self.tasks if t != 'emotion') or 'none'})")
        if set(self.derived_tasks) & set(self.readout_tasks):
            raise SettingsError("a task is either derived (no head of its own) or read out (a head trained, not used)")
        if self.ctc_weight < 0:
            raise SettingsError(f"ctc_weight must be >= 0, not {self.ctc_weight}")
        if self.recurrent_stride < 1:
            raise SettingsError(f"recurrent_stride must be at least 1, not {self.recurrent_stride}")
        if not 0.0 <= self.mixstyle <= 1.0:
            raise SettingsError(f"mixstyle is a probability in [0, 1], not {self.mixstyle}")
        if self.mixstyle and self.frontend != "logmel":
            raise SettingsError("MixStyle (mixstyle) follows the log-mel front end's first convolution block")
        if self.adversary not in ADVERSARIES:
            raise SettingsError(f"adversary must be one of {ADVERSARIES}, not {self.adversary!r}")
        if self.head not in HEADS:
            raise SettingsError(f"head must be one of {HEADS}, not {self.head!r}")
        if self.head_scale <= 0:
            raise SettingsError(f"head_scale must be positive, not {self.head_scale}")
        if check_modality(self):
            raise SettingsError(check_modality(self))

    def classes(self, task: str) -> tuple[str, ...]:
        """The classes of ``task``'s head, in column order (the emotion head's are the model's own)."""
        return self.emotion_classes if task == EMOTION.name else TASKS[task].classes


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    corpora: tuple[tuple[str, str], ...]  # (reader name, path) pairs
    out: str
    model: ModelConfig = ModelConfig()
    # one per task; None = all 1; "auto" = learned, starting at 1 (kerasser.model.uncertainty)
    loss_weights: tuple[float, ...] | str | None = None
    epochs: int = 60
    batch_size: int = 16
    learning_rate: float = 1e-4
    patience: int = 15
    seed: int = 0
    train_splits: tuple[str, ...] = ("train",)
    # None: no model selection; every epoch is trained and the last one is kept as best.keras
    dev_split: str | None = "dev"
    optimizer: str = "adam"  # or "adamw" (decoupled weight decay)
    weight_decay: float = 0.0  # adamw only
    schedule: str = "constant"  # or "cosine": decay to 0 over the epoch budget
    warmup_epochs: float = 0.0  # linear warm-up from 0, before the schedule
    label_smoothing: float = 0.0
    # additive cosine margin of the AM-softmax loss (CosFace); needs model.head "cosine"; 0 = off
    margin: float = 0.0
    class_balanced: bool = False  # weight each example by the inverse frequency of its class, per task
    # give each training corpus the same total weight per task (within it, per class with
    # class_balanced): a corpus with more clips does not drown the others (kerasser.data.dataset.corpus_weights)
    balance_corpora: bool = False
    weight_by_agreement: bool = False  # also by its listener agreement (EmoDB's erkennung.txt; 1 if unknown)
    augment: AugmentConfig = AugmentConfig()
    # Average the weights of the last N epochs at the end (0/1 = off); the average becomes
    # best.keras when its dev UAR is at least the best epoch's, or when there is no dev split.
    average_last: int = 0
    # Polyak averaging: the optimizer keeps an exponential moving average of the weights (this
    # momentum per step; 0 = off), and the averaged weights are the ones scored on dev and saved
    # as best.keras (kerasser.model.weight_ema); training goes on from the live weights
    ema_momentum: float = 0.0
    # whose mean dev UAR picks the epoch (and judges the weight average): the model as it is saved
    # ("saved") or as it is trained ("trained": its own heads); they differ with model.readout_tasks
    select_on: str = "saved"
    # Speakers per split, overriding the corpora's own splits (cross-validation folds):
    # ((split, ("corpus:speaker", ...)), ...); speakers not listed are left out.
    speaker_splits: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    # Knowledge distillation (kerasser.training.distillation): the mean class probabilities of these runs'
    # best models (teachers, e.g. seeds of one recipe) on each training utterance, sharpened or
    # softened by ``distill_temperature``, make ``distill_weight`` of every task's target and the
    # labels the rest. The teachers must not have seen the dev or test speakers.
    distill_from: tuple[str, ...] = ()
    distill_weight: float = 0.5
    distill_temperature: float = 1.0
    # how the run uses the machine (kerasser.training.distribution): the same recipe on any hardware
    # fine-tuning (kerasser.training.init_from): start from this trained model's weights (a run folder, an
    # exported model folder or name, a .keras file); freeze "none", "frontend" or "encoder"
    init_from: str | None = None
    freeze: str = "none"
    strategy: str = "default"  # "mirrored" (local GPUs / CPU devices) or "multiworker" (TF_CONFIG)
    mixed_precision: bool = False  # mixed_float16 compute; for GPUs

    def __post_init__(self):
        if self.freeze not in FREEZES:
            raise SettingsError(f"freeze must be none, frontend or encoder, not {self.freeze!r}")
        if self.freeze != "none" and not self.init_from:
            raise SettingsError("freezing layers needs a model to start from (init_from)")
        if self.strategy not in STRATEGIES:
            raise SettingsError(f"strategy must be one of {STRATEGIES}, not {self.strategy!r}")
        if self.select_on not in SELECT_ON:
            raise SettingsError(f"select_on must be one of {SELECT_ON}, not {self.select_on!r}")
        if self.optimizer not in OPTIMIZERS:
            raise SettingsError(f"optimizer must be one of {OPTIMIZERS}, not {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise SettingsError(f"schedule must be one of {SCHEDULES}, not {self.schedule!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise SettingsError(f"label_smoothing must be in [0, 1), not {self.label_smoothing}")
        if not 0.0 <= self.ema_momentum < 1.0:
            raise SettingsError(f"ema_momentum must be in [0, 1), not {self.ema_momentum}")
        if self.ema_momentum and self.average_last > 1:
            raise SettingsError("use either a moving average of the weights (ema_momentum) or the average of the "
                                "last epochs (average_last), not both")
        if not 0.0 <= self.margin < 1.0:
            raise SettingsError(f"margin must be in [0, 1), not {self.margin}")
        if self.margin and self.model.head != "cosine":
            raise SettingsError("an additive margin needs the cosine head (head 'cosine')")
        if self.margin and self.model.derived_tasks:
            raise SettingsError("an additive margin needs cosine logits; derived_tasks are summed probabilities")
        if self.dev_split is not None and self.dev_split in self.train_splits:
            raise SettingsError(f"the {self.dev_split} split cannot be both trained on and used for selection")
        if self.model.ctc_weight and self.augment.crop_prob:
            raise SettingsError("random crops cut words a transcript still names: use no crops with a CTC weight")
        object.__setattr__(self, "distill_from", tuple(str(r) for r in self.distill_from))
        if not 0.0 < self.distill_weight <= 1.0:
            raise SettingsError(f"distill_weight must be in (0, 1], not {self.distill_weight}")
        if self.distill_temperature <= 0:
            raise SettingsError(f"distill_temperature must be positive, not {self.distill_temperature}")
        if isinstance(self.loss_weights, str):
            if not self.learned_weights:
                raise SettingsError(f"loss_weights must be numbers or {AUTO_WEIGHTS!r}, not {self.loss_weights!r}")
        elif self.loss_weights is not None and len(self.loss_weights) != len(self.model.tasks):
            raise SettingsError(f"{len(self.loss_weights)} loss weights given for {len(self.model.tasks)} tasks")

    @property
    def learned_weights(self) -> bool:
        """Whether the task loss weights are learned in training (``loss_weights="auto"``)."""
        return self.loss_weights == AUTO_WEIGHTS

    @property
    def task_weights(self) -> dict[str, float]:
        """The weight of each task's loss: all 1 for learned weights, whose loss object applies
        the learned weight (starting at 1) itself."""
        fixed = self.loss_weights is not None and not self.learned_weights
        weights = self.loss_weights if fixed else (1.0,) * len(self.model.tasks)
        return dict(zip(self.model.tasks, (float(w) for w in weights)))


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


# ModelConfig fields that training sets from the training data (and saves to the run's config.json)
DERIVED_MODEL_FIELDS = ("speakers", "emotion_classes", "text_vocabulary")


def as_given(config: TrainConfig | dict) -> dict:
    """``config`` as a plain dict without the fields training derives from the data: what decides
    whether a run folder holds a run of a given configuration. A saved dict is read back first, so
    a field added since it was written counts at its default (older run folders still match)."""
    if not isinstance(config, TrainConfig):
        config = train_config_from_dict(config)
    d = json.loads(json.dumps(to_dict(config)))
    for field in DERIVED_MODEL_FIELDS:
        d["model"].pop(field, None)
    return d


def model_config_from_dict(d: dict) -> ModelConfig:
    d = dict(d)
    d["audio"] = AudioConfig(**d.get("audio", {}))
    return ModelConfig(**d)


def train_config_from_dict(d: dict) -> TrainConfig:
    d = dict(d)
    d["corpora"] = tuple(tuple(c) for c in d["corpora"])
    d["model"] = model_config_from_dict(d["model"])
    d["train_splits"] = tuple(d.get("train_splits", ("train",)))
    d["augment"] = AugmentConfig(**d.get("augment", {}))
    if isinstance(d.get("loss_weights"), list):
        d["loss_weights"] = tuple(d["loss_weights"])
    if d.get("speaker_splits") is not None:
        d["speaker_splits"] = tuple((split, tuple(speakers)) for split, speakers in d["speaker_splits"])
    return TrainConfig(**d)


def save_json(config: Any, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(config), indent=2) + "\n")


def load_train_config(path: str | Path) -> TrainConfig:
    return train_config_from_dict(json.loads(Path(path).read_text()))
