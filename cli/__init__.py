"""The ``kerasser`` command line (installed as the ``kerasser_cli`` package).

Commands only parse arguments and call the ``kerasser`` library; TensorFlow is imported inside
each command, so ``kerasser --help`` starts instantly.
"""
