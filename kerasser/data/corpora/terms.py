"""The terms each corpus' licence sets on weights trained on it: the model card's full sentences
(``kerasser.export.model_card``) and the few words ``kerasser models`` shows."""

from __future__ import annotations

# What each corpus' licence means for weights trained on it (PROTOCOL.md, the corpora's READMEs).
CORPUS_TERMS = {
    "emodb": "EmoDB (Burkhardt et al., Interspeech 2005): freely available for research; cite the paper.",
    "ravdess": "RAVDESS (Livingstone & Russo, PLoS ONE 2018) is licensed CC BY-NC-SA 4.0: these weights are "
               "for non-commercial use only, and what is made from them is shared under the same licence.",
    "baved": "BAVED: no licence is given and its authors advise against commercial use.",
}

# The same terms in a few words (``kerasser models``): a corpus not listed here is the user's own.
CORPUS_USE = {
    "emodb": "research (EmoDB)",
    "ravdess": "non-commercial (RAVDESS: CC BY-NC-SA 4.0)",
    "baved": "non-commercial (BAVED)",
}


def weight_terms(corpora) -> str:
    """The terms weights trained on ``corpora`` (reader names) come under, in a few words."""
    names = list(dict.fromkeys(corpora))
    terms = [CORPUS_USE.get(n, f"{n}: its own terms") for n in names]
    return "; ".join(terms) or "unknown"
