"""Custom Keras layers, one per module; importing this package registers them for deserialisation."""

from kerasser.layers.attention_pooling import AttentionPooling
from kerasser.layers.class_grouping import ClassGrouping
from kerasser.layers.conv_block import ConvBlock
from kerasser.layers.cosine_softmax import CosineSoftmax
from kerasser.layers.ctc_output import CTCOutput
from kerasser.layers.frame_downsampling import FrameDownsampling
from kerasser.layers.frame_padding import FramePadding
from kerasser.layers.frame_upsampling import FrameUpsampling
from kerasser.layers.framed_frontend import FramedFrontEnd
from kerasser.layers.gradient_reversal import GradientReversal
from kerasser.layers.last_step_pooling import LastStepPooling
from kerasser.layers.log_mel import LogMelSpectrogram
from kerasser.layers.mix_style import MixStyle
from kerasser.layers.pcen import PCEN
from kerasser.layers.reference_normalization import ReferenceNormalization
from kerasser.layers.shared_frontend import SharedFrontEnd
from kerasser.layers.spec_augment import SpecAugment
from kerasser.layers.utterance_normalization import UtteranceNormalization

__all__ = [
    "AttentionPooling",
    "ClassGrouping",
    "ConvBlock",
    "CosineSoftmax",
    "CTCOutput",
    "FrameDownsampling",
    "FramePadding",
    "FrameUpsampling",
    "FramedFrontEnd",
    "GradientReversal",
    "LastStepPooling",
    "LogMelSpectrogram",
    "MixStyle",
    "PCEN",
    "ReferenceNormalization",
    "SharedFrontEnd",
    "SpecAugment",
    "UtteranceNormalization",
]
