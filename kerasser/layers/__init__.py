"""Custom Keras layers, one per module; importing this package registers them for deserialisation."""

from kerasser.layers.attention_pooling import AttentionPooling
from kerasser.layers.frame_padding import FramePadding
from kerasser.layers.framed_frontend import FramedFrontEnd
from kerasser.layers.last_step_pooling import LastStepPooling
from kerasser.layers.shared_frontend import SharedFrontEnd

__all__ = ["AttentionPooling", "FramePadding", "FramedFrontEnd", "LastStepPooling", "SharedFrontEnd"]
