"""``kerasser.layers``: the public name of the custom Keras layers, which live in
:mod:`kerasser.model.layers` (importing either registers them for deserialisation)."""

from kerasser.model.layers import *  # noqa: F401,F403
from kerasser.model.layers import __all__  # noqa: F401
