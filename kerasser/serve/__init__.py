"""The serving room: labelling audio with an exported model, WITHOUT TensorFlow (LiteRT), and the
shipped models. ``inference`` loads models (LiteRT; Keras only for ``--backend keras``),
``labeling`` is :class:`~kerasser.serve.labeling.Labeler`, ``labeling_files`` / ``labeling_frames``
/ ``live`` / ``beam_labeling`` label files, frames, stdin and Beam pipelines, ``writers`` /
``label_resume`` / ``label_summary`` write rows; ``model_names`` and ``shipped`` find models by
name. Imports the facts, ``kerasser.data`` and (lazily, for the Keras backend) ``kerasser.model``.

tests/test_architecture.py checks that importing this package and running ``kerasser label``
import neither TensorFlow nor Keras.
"""
