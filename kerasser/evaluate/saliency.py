"""Which samples of the waveform move each task's prediction: saliency with tf-keras-vis.

For each task, the gradient of the class score (the head's logit, before its softmax) with respect
to the input waveform, by ``tf_keras_vis.saliency.Saliency``: vanilla saliency (Simonyan et al.,
2014) or, with ``smooth_samples > 0``, SmoothGrad (Smilkov et al., 2017: the mean gradient over
copies of the input with Gaussian noise of ``smooth_noise`` x the waveform's range added). Values
are ``|gradient|``, one per input sample, so a map has its waveform's length and is aligned with
it; samples past a waveform's length in a padded batch get exactly 0 (the model masks them, so
no gradient reaches them). Maps are not normalised: ``explain`` scales each for drawing.

Needs TensorFlow and tf-keras-vis (``pip install 'kerasser[train]'``): it differentiates the
Keras model (``model.keras`` of an export), not the TFLite one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

# SmoothGrad's noise sd as a fraction of the waveform's range. tf-keras-vis' default, 0.2, is made for
# images: on EmoDB clips it buried the speech and gave near-flat maps; 0.03 gave maps that follow it.
DEFAULT_SMOOTH_NOISE = 0.03


def logit_model(model):
    """``model`` (a kerasser Keras model) with float inputs ``waveform`` [batch, samples] and
    ``length`` [batch] (cast to int32 inside, so SmoothGrad's noise, which tf-keras-vis adds to
    every input, cannot change it: a 1-D input gets noise of sd 0) and one output per task: the
    head's logits, i.e. its Dense layer (or ``CosineSoftmax``) without the softmax; for a task read
    off the emotion head (``ClassGrouping``), the log of its probabilities (logits up to a constant
    per row). Shares ``model``'s weights."""
    import keras

    from kerasser.model.layers import ClassGrouping, CosineSoftmax
    from kerasser.model.network import inference_model, require_waveform_only
    from kerasser.tasks import TASKS

    require_waveform_only(model, "saliency maps")
    model = inference_model(model)
    tasks = [name for name in model.output if name in TASKS]
    waveform = keras.Input((None,), name="waveform")
    length = keras.Input((), name="length")
    as_int = keras.layers.Lambda(lambda x: keras.ops.cast(keras.ops.round(x), "int32"), name="length_int")
    headed = [t for t in tasks if not isinstance(model.get_layer(t), ClassGrouping)]
    pooled_of = keras.Model(model.input, [model.get_layer(t).input for t in headed], name="pooled")
    pooled = pooled_of({"waveform": waveform, "length": as_int(length)})
    logits = {}
    for task, x in zip(headed, pooled):
        head = model.get_layer(task)
        if isinstance(head, CosineSoftmax):
            logits[task] = head.logits(x)
        else:
            logits[task] = keras.ops.matmul(x, head.kernel) + head.bias
    for task in [t for t in tasks if t not in logits]:  # read off the emotion head
        grouped = model.get_layer(task)(keras.ops.softmax(logits["emotion"]))
        logits[task] = keras.ops.log(keras.ops.maximum(grouped, 1e-30))
    return keras.Model([waveform, length], [logits[t] for t in tasks], name="kerasser_logits"), tasks


class WaveformSaliency:
    """Saliency maps of a kerasser Keras model over its input waveform, per task.

    ``smooth_samples``: 0 for vanilla saliency, N > 0 for SmoothGrad over N noisy copies (seeded by
    ``seed``: the same call gives the same maps)."""

    def __init__(self, model, smooth_samples: int = 0, smooth_noise: float = DEFAULT_SMOOTH_NOISE, seed: int = 0):
        from tf_keras_vis.saliency import Saliency

        self.smooth_samples = int(smooth_samples)
        self.smooth_noise = float(smooth_noise)
        self.seed = int(seed)
        self.model, self.tasks = logit_model(model)
        self._saliency = Saliency(self.model, clone=False)

    @classmethod
    def from_export(cls, model_dir: str | os.PathLike, **kwargs) -> WaveformSaliency:
        """From an export folder's ``model.keras`` (ModelError naming the file if it cannot be read)."""
        from kerasser.contract import KERAS_FILE, model_file, read_metadata
        from kerasser.errors import ModelError
        from kerasser.model.network import load_model

        root = Path(model_dir)  # the file checked as load_exported checks it (kerasser.contract.model_file)
        path = model_file(root, read_metadata(root), "keras", KERAS_FILE,
                          missing="no such file (saliency needs the export's Keras model)")
        try:
            model = load_model(path)
        except (ValueError, OSError, TypeError) as error:
            raise ModelError(f"not a loadable Keras model ({error})", path=path) from None
        return cls(model, **kwargs)

    def batch(
        self, waves: Sequence[np.ndarray], classes: Mapping[str, Sequence[int]] | None = None
    ) -> dict[str, np.ndarray]:
        """``{task: [len(waves), longest] float32}``: |d logit / d sample| for each waveform,
        zero-padded to the longest (padding gets exactly 0). ``classes[task][i]`` is the class
        explained for waveform i; by default the model's own prediction."""
        import tensorflow as tf
        from tf_keras_vis.utils.scores import CategoricalScore, InactiveScore

        longest = max(len(w) for w in waves)
        x = np.zeros((len(waves), longest), np.float32)
        for i, w in enumerate(waves):
            x[i, : len(w)] = w
        lengths = np.array([len(w) for w in waves], np.float32)
        if classes is None:
            logits = self.model([x, lengths], training=False)
            classes = {t: np.argmax(np.asarray(logit), axis=-1) for t, logit in zip(self.tasks, logits)}
        maps = {}
        state = np.random.get_state()  # tf-keras-vis draws SmoothGrad's noise from NumPy's global generator
        try:
            for k, task in enumerate(self.tasks):
                if task not in classes:
                    continue
                np.random.seed(self.seed)
                scores = [InactiveScore()] * len(self.tasks)
                scores[k] = CategoricalScore([int(c) for c in classes[task]])
                grads = self._saliency(
                    scores, [x, lengths], smooth_samples=self.smooth_samples, smooth_noise=self.smooth_noise,
                    keepdims=True, normalize_map=False, unconnected_gradients=tf.UnconnectedGradients.ZERO,
                )[0]  # (the length input's gradient: none, as it is cast to int32; asked as zeros)
                grads = np.asarray(grads, np.float32).reshape(x.shape)
                maps[task] = grads
        finally:
            np.random.set_state(state)
        return maps

    def __call__(self, wave: np.ndarray, classes: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
        """``{task: [len(wave)]}`` for one waveform; ``classes[task]`` as in ``batch``."""
        batch_classes = None if classes is None else {t: [c] for t, c in classes.items()}
        return {t: m[0] for t, m in self.batch([wave], batch_classes).items()}


def envelope(values: np.ndarray, width: int) -> np.ndarray:
    """The maximum over consecutive blocks of ``width`` samples (the last block may be shorter):
    a per-sample map made drawable at a frame rate."""
    values = np.asarray(values)
    blocks = -(-len(values) // width)
    padded = np.zeros(blocks * width, values.dtype)
    padded[: len(values)] = values
    return padded.reshape(blocks, width).max(axis=1)
