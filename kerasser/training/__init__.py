"""The training room: recipes (``recipes``), run folders (``runs``), the training loop (``loop``)
and its callbacks, multi-device distribution, distillation, ensembles, loss-weight tuning and
starting from another model (``init_from``). Imports the facts, ``data``, ``model`` and ``serve``
(an installed model's name, for ``--init-from``).

The room is ``training`` rather than ``train`` because ``kerasser.train`` is the public function.
"""
