"""The evaluation room: scoring a run (``run``), per-corpus scores, cross-validation, significance
tests, speaker-normalised scoring, saliency maps and explanations. Imports every room below it
(facts, data, model, serve, training)."""
