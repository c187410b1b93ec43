"""The model room: the Keras network (``network``), its custom layers (``layers``, registered as
``kerasser>ClassName`` so saved models load by name, not module path), losses, uncertainty
weighting, weight averaging and speaker references. Imports the facts and ``kerasser.data``."""
