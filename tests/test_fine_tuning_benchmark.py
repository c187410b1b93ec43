"""benchmarks/fine_tuning.py's clip draw and manifest (no training)."""

from __future__ import annotations

from benchmark_scripts import load_benchmark  # tests/benchmark_scripts.py

from kerasser.data.corpora import Utterance, read_manifest
from kerasser.tasks import EMOTION

bench = load_benchmark("fine_tuning")


def clips():
    found = []
    for i in range(30):
        split = ("train", "train", "dev", "test")[i % 4]
        emotion = ("calm", "anger", "neutral")[i % 3]
        found.append(Utterance(path=f"/r/{i}.flac", speaker=f"{i % 6:02d}", split=split, corpus="ravdess",
                               labels={"emotion": EMOTION.index(emotion)}))
    return found


def test_the_draw_takes_n_train_clips_per_class_and_every_dev_and_test_clip():
    every = clips()
    chosen = bench.subset(every, 2, seed=0)
    train = [u for u in chosen if u.split == "train"]
    assert sorted(EMOTION.classes[u.labels["emotion"]] for u in train) == ["anger"] * 2 + ["calm"] * 2 + ["neutral"] * 2
    assert sum(u.split != "train" for u in chosen) == sum(u.split != "train" for u in every)
    assert bench.subset(every, 2, seed=0) == chosen and bench.subset(every, 2, seed=1) != chosen
    assert len(bench.subset(every, None, seed=0)) == len(every)


def test_the_manifest_reads_back_as_the_user_would_write_it(tmp_path):
    chosen = bench.subset(clips(), 2, seed=0)
    back = read_manifest(bench.write_manifest(tmp_path / "m.csv", chosen))
    assert [(u.path, u.split, u.labels) for u in back] == [(u.path, u.split, u.labels) for u in chosen]
    assert back[0].speaker == f"ravdess:{chosen[0].speaker}"
