"""The tiny models the tests train and export, in one place (``from tiny import TINY``); a test
states what it changes. Both are ``ModelConfig`` keyword arguments: ``ModelConfig(tasks=..., **TINY)``.

TINY: the raw-waveform (shared front end) model in miniature, seconds per epoch on a CPU.
TINY_LOGMEL: the default recipe's shape in miniature: log-mel, SE conv blocks, BiGRU, 2-head statistics.
TINY_CAUSAL: the tiny recipe's shape in miniature: log-mel, causal separable blocks, no GRU, 2-head statistics.
"""

from __future__ import annotations

from kerasser.config import AudioConfig

TINY = dict(conv_filters=10, channel_pool=10, gru_units=8, gru_layers=1)

TINY_LOGMEL = dict(frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16, block_channels=(8, 12),
                   block_dilations=(1, 2), block_kernel=3, block_se=4, gru_units=8, gru_layers=1,
                   bidirectional=True, pool_heads=2, pool_statistics=True, l2=0.0)

TINY_CAUSAL = dict(frontend="logmel", audio=AudioConfig(frame_length=480), mel_bins=16, feature_norm="none",
                   block_channels=(8, 12), block_dilations=(1, 2), block_kernel=3, block_separable=True, causal=True,
                   gru_layers=0, pool_heads=2, pool_statistics=True, l2=0.0)
