"""The data room: audio files -> waveforms -> examples. Corpus readers (``corpora``), audio loading
and windows, augmentation and mixup, label spaces, speaker folds, the per-utterance examples
(``examples``), the tf.data pipeline (``dataset``) and prepared TFRecord corpora (``records``).

Imports only the facts below it (``kerasser.config``, ``tasks``, ``errors``, ...). Modules here
import TensorFlow only inside the functions that need it, except ``dataset`` (training only), so
labelling can use ``audio``, ``windows``, ``input_files``, ``segments`` and ``vad`` without it.
"""

# The prepared-corpus reader registers itself with the corpus readers (``--corpus tfrecord``)
# when imported; importing it here makes that registration happen with any use of this room.
from kerasser.data import records as _records  # noqa: F401
