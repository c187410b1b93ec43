"""Custom Keras layers, one per module; importing this package registers them for deserialisation."""

from kerasser.model.layers.attention_pooling import AttentionPooling
from kerasser.model.layers.bridge_fusion import BridgeFusion
from kerasser.model.layers.class_grouping import ClassGrouping
from kerasser.model.layers.conv_block import ConvBlock
from kerasser.model.layers.cosine_softmax import CosineSoftmax
from kerasser.model.layers.ctc_output import CTCOutput
from kerasser.model.layers.frame_downsampling import FrameDownsampling
from kerasser.model.layers.frame_padding import FramePadding
from kerasser.model.layers.frame_upsampling import FrameUpsampling
from kerasser.model.layers.framed_frontend import FramedFrontEnd
from kerasser.model.layers.gradient_reversal import GradientReversal
from kerasser.model.layers.last_step_pooling import LastStepPooling
from kerasser.model.layers.log_mel import LogMelSpectrogram
from kerasser.model.layers.mix_style import MixStyle
from kerasser.model.layers.modality_dropout import ModalityDropout
from kerasser.model.layers.pcen import PCEN
from kerasser.model.layers.reference_normalization import ReferenceNormalization
from kerasser.model.layers.running_normalization import RunningNormalization
from kerasser.model.layers.self_attention import SelfAttention
from kerasser.model.layers.shared_frontend import SharedFrontEnd
from kerasser.model.layers.spec_augment import SpecAugment
from kerasser.model.layers.token_embedding import TokenEmbedding
from kerasser.model.layers.utterance_normalization import UtteranceNormalization

__all__ = [
    "AttentionPooling",
    "BridgeFusion",
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
    "ModalityDropout",
    "PCEN",
    "ReferenceNormalization",
    "RunningNormalization",
    "SelfAttention",
    "SharedFrontEnd",
    "SpecAugment",
    "TokenEmbedding",
    "UtteranceNormalization",
]
