"""What BAVED's splits are made of, and which speaker-relative cues order its arousal levels.

    python benchmarks/baved_speakers.py [--data ../shared/data] [--cache runs/opensmile] [--top 10]

Prints, per split (``kerasser.data.corpora``, PROTOCOL.md's speaker-independent split): the number of
speakers and clips, the largest speaker's share and levels; for every speaker with at least 30
clips, the mean active-frame RMS level (dB) of its clips per arousal level; and the eGeMAPSv02
functionals (``benchmarks/opensmile_peer.py``'s features and per-speaker standardisation, needs
``pip install opensmile``) that alone best predict the test split's arousal: one feature,
standardised per speaker, a class-balanced logistic regression trained on the train speakers,
test UAR in %.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf
from opensmile_peer import features, normalised, uar
from sklearn.linear_model import LogisticRegression

LEVELS = ("low", "mid", "high")


def rms_level(path: str) -> float:
    """Mean power (dB) of the clip's 10 ms frames within 40 dB of its loudest frame."""
    wave, rate = sf.read(path, dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    hop = rate // 100
    power = (wave[: len(wave) // hop * hop].reshape(-1, hop) ** 2).mean(axis=1) + 1e-10
    db = 10 * np.log10(power)
    return float(10 * np.log10(power[db > db.max() - 40].mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--cache", default="runs/opensmile")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    utterances, x = features("baved", f"{args.data}/baved", Path(args.cache))
    split = np.asarray([u.split for u in utterances])
    speaker = np.asarray([u.speaker for u in utterances])
    y = np.asarray([u.labels["arousal"] for u in utterances])

    print("split  speakers  clips  largest speaker: clips (low / mid / high)")
    for s in ("train", "dev", "test"):
        counts = Counter(speaker[split == s])
        big, n = counts.most_common(1)[0]
        print(f"{s:<6} {len(counts):>8} {int((split == s).sum()):>6}  {big}: {n} "
              f"({' / '.join(str(int(((speaker == big) & (y == c)).sum())) for c in range(3))})")

    print("\nmean RMS level (dB) per arousal level, speakers with at least 30 clips")
    level = np.asarray([rms_level(u.path) for u in utterances])
    for s in ("train", "dev", "test"):
        for spk, n in Counter(speaker[split == s]).most_common():
            if n >= 30:
                rows = speaker == spk
                print(f"{s:<6} speaker {spk:<4} {n:>4} clips  "
                      + "  ".join(f"{LEVELS[c]} {level[rows & (y == c)].mean():6.1f}" for c in range(3)))

    import opensmile

    names = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals).feature_names
    z = normalised(x, utterances, "speaker")
    train, test = split == "train", split == "test"
    scores = []
    for j, name in enumerate(names):
        clf = LogisticRegression(class_weight="balanced", max_iter=1000).fit(z[train][:, [j]], y[train])
        scores.append((uar(y[test], clf.predict(z[test][:, [j]])), name))
    print(f"\none eGeMAPS feature, standardised per speaker, logistic regression on the train speakers: "
          f"test UAR (top {args.top})")
    for score, name in sorted(scores, reverse=True)[: args.top]:
        print(f"{score:5.1f}  {name}")


if __name__ == "__main__":
    main()
