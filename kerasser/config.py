"""Frozen configuration dataclasses, saved with every run as JSON.

``AudioConfig`` fixes the waveform contract (16 kHz mono, 40 ms frames every 10 ms),
``ModelConfig`` the network, ``TrainConfig`` one training run. Each converts to and from a
plain dict so a run folder's ``config.json`` rebuilds exactly the same model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

FRONTENDS = ("shared", "framed")


@dataclasses.dataclass(frozen=True)
class AudioConfig:
    sample_rate: int = 16000
    frame_length: int = 640  # 40 ms
    frame_step: int = 160  # 10 ms

    def num_frames(self, num_samples: int) -> int:
        """Frames the model makes of ``num_samples`` valid samples (at least one; the last frame
        may run past the end, where the signal is zero)."""
        extra = max(0, num_samples - self.frame_length)
        return 1 + -(-extra // self.frame_step)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    tasks: tuple[str, ...] = ("arousal", "valence", "dominance")
    attention: bool = True
    frontend: str = "shared"  # "shared" (one convolution over the utterance) or "framed" (per frame)
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

    def __post_init__(self):
        if self.frontend not in FRONTENDS:
            raise ValueError(f"frontend must be one of {FRONTENDS}, not {self.frontend!r}")
        if self.conv_padding not in ("valid", "same"):
            raise ValueError(f"conv_padding must be 'valid' or 'same', not {self.conv_padding!r}")
        if self.frontend == "shared" and self.conv_padding != "valid":
            raise ValueError("the shared front end computes 'valid' convolutions only")
        if self.conv_filters % self.channel_pool:
            raise ValueError("conv_filters must be a multiple of channel_pool")
        if not self.tasks:
            raise ValueError("a model needs at least one task")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    corpora: tuple[tuple[str, str], ...]  # (reader name, path) pairs
    out: str
    model: ModelConfig = ModelConfig()
    loss_weights: tuple[float, ...] | None = None  # one per task; None = all 1
    epochs: int = 60
    batch_size: int = 16
    learning_rate: float = 1e-4
    patience: int = 15
    seed: int = 0
    train_splits: tuple[str, ...] = ("train",)
    # None: no model selection; every epoch is trained and the last one is kept as best.keras
    dev_split: str | None = "dev"

    def __post_init__(self):
        if self.dev_split is not None and self.dev_split in self.train_splits:
            raise ValueError(f"the {self.dev_split} split cannot be both trained on and used for selection")
        if self.loss_weights is not None and len(self.loss_weights) != len(self.model.tasks):
            raise ValueError(
                f"{len(self.loss_weights)} loss weights given for {len(self.model.tasks)} tasks"
            )

    @property
    def task_weights(self) -> dict[str, float]:
        weights = self.loss_weights or (1.0,) * len(self.model.tasks)
        return dict(zip(self.model.tasks, (float(w) for w in weights)))


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def model_config_from_dict(d: dict) -> ModelConfig:
    d = dict(d)
    d["tasks"] = tuple(d["tasks"])
    d["audio"] = AudioConfig(**d.get("audio", {}))
    return ModelConfig(**d)


def train_config_from_dict(d: dict) -> TrainConfig:
    d = dict(d)
    d["corpora"] = tuple(tuple(c) for c in d["corpora"])
    d["model"] = model_config_from_dict(d["model"])
    d["train_splits"] = tuple(d.get("train_splits", ("train",)))
    if d.get("loss_weights") is not None:
        d["loss_weights"] = tuple(d["loss_weights"])
    return TrainConfig(**d)


def save_json(config: Any, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(config), indent=2) + "\n")


def load_train_config(path: str | Path) -> TrainConfig:
    return train_config_from_dict(json.loads(Path(path).read_text()))
