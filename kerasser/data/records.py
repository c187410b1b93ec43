"""Prepared corpora: audio decoded and resampled once into sharded TFRecord files.

``kerasser prepare`` (``prepare``) turns any corpus kerasser reads into a folder:

  index.json              format, sample rate, the corpora it came from, the shards, the files
                          skipped (path and reason), and one entry per utterance: key, shard, source
                          path, corpus, speaker, split, labels (class names), transcript, agreement,
                          samples
  shard-00000.tfrecord    tf.train.Example records, in index order: ``key`` (bytes), ``pcm`` (int16
  shard-00001.tfrecord    little-endian mono samples at the index's rate), ``scale`` (float: sample =
  ...                     pcm / 32768 * scale; 1 unless a resampler's overshoot passed full scale,
                          then the peak, so nothing is clipped), ``samples``, and the metadata again (``path``, ``corpus``, ``speaker``, ``split``, ``transcript``,
                          ``label/<task>``: class index, absent when unlabelled), so a shard stands
                          alone for other tools

``read_prepared`` lists the utterances of such a folder (``--corpus tfrecord --data DIR``): the
labels and splits come from the index, so selecting, class weights, speaker folds and
cross-validation work as for the audio files; ``decoded`` reads their samples from the shards
inside the tf.data graph (interleaved for training, in order for evaluation), with the labels and
weights of ``kerasser.data.dataset.targets`` joined by key. int16 keeps what 16-bit sources hold; the
float samples a resampler makes are rounded to 16 bits (at most half a step: 1.5e-5 of full scale).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from kerasser.data import audio, corpora
from kerasser.data.corpora.utterance import CorpusError, Utterance
from kerasser.data.examples import ExampleSettings, load_utterance, targets, text_tokens
from kerasser.errors import DataError
from kerasser.progress import writer
from kerasser.tasks import TASKS, TRANSCRIPT_TARGET
from kerasser.text_input import TEXT_INPUT

FORMAT = "kerasser-tfrecord"
VERSION = 1
INDEX = "index.json"
SHARD = "shard-{:05d}.tfrecord"
SHARD_MB = 64.0  # PCM per shard: 64 MB is 35 minutes at 16 kHz, several shards for an IEMOCAP-sized corpus
READ_PARALLEL = 4  # shards read at once when training (tf.data interleave cycle)


# --- writing -----------------------------------------------------------------------------------


def _bytes(value: bytes):
    import tensorflow as tf

    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value: int):
    import tensorflow as tf

    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def serialize(key: str, utt: Utterance, wave: np.ndarray) -> bytes:
    """One ``tf.train.Example``: the samples as int16 PCM, and the utterance's metadata."""
    import tensorflow as tf

    wave = np.asarray(wave, np.float64)
    scale = max(1.0, float(np.abs(wave).max(initial=0.0)) * 32768.0 / 32767.0)
    pcm = np.clip(np.round(wave / scale * 32768.0), -32768, 32767).astype("<i2")
    features = {
        "key": _bytes(key.encode()),
        "pcm": _bytes(pcm.tobytes()),
        "scale": tf.train.Feature(float_list=tf.train.FloatList(value=[scale])),
        "samples": _int(len(pcm)),
        "path": _bytes(str(utt.path).encode("utf-8", "surrogateescape")),
        "corpus": _bytes(utt.corpus.encode()),
        "speaker": _bytes(utt.speaker.encode()),
        "split": _bytes((utt.split or "").encode()),
        "transcript": _bytes((utt.transcript or "").encode()),
        **{f"label/{t}": _int(i) for t, i in utt.labels.items()},
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def _decode(utt: Utterance, sample_rate: int) -> tuple[Utterance, np.ndarray | None, str | None]:
    try:
        return utt, load_utterance(utt.path, sample_rate), None
    except audio.AudioError as error:
        return utt, None, error.reason


def _clear_folder(out: Path) -> None:
    """``out`` made ready: new, empty, or a prepared folder whose index and shards are removed."""
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    strangers = [p.name for p in out.iterdir()
                 if p.name != INDEX and not (p.name.startswith("shard-") or p.name.startswith(".shard-"))]
    if strangers:
        raise DataError(f"{out}: holds other files ({', '.join(sorted(strangers)[:3])}); prepare into a new folder")
    (out / INDEX).unlink(missing_ok=True)
    for old in out.glob("*shard-*.tfrecord*"):
        old.unlink()


class _ShardWriter:
    """Records into ``shard-NNNNN.tfrecord`` files of about ``limit`` bytes each, every shard
    written beside its name and renamed into place when full; ``shards``: the index's entries."""

    def __init__(self, out: Path, limit: int) -> None:
        self.out, self.limit = out, limit
        self.shards: list[dict] = []
        self.current = None

    def write(self, record: bytes) -> int:
        """Writes ``record``; returns the shard it went to."""
        import tensorflow as tf

        if self.current is None or self.shards[-1]["bytes"] >= self.limit:
            self.close()
            name = SHARD.format(len(self.shards))
            self.shards.append({"file": name, "utterances": 0, "bytes": 0})
            self.current = tf.io.TFRecordWriter(str(self.out / f".{name}.tmp"))
        self.current.write(record)
        self.shards[-1]["utterances"] += 1
        self.shards[-1]["bytes"] += len(record)
        return len(self.shards) - 1

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            os.replace(self.out / f".{self.shards[-1]['file']}.tmp", self.out / self.shards[-1]["file"])
            self.current = None


def _entry(key: str, shard: int, utt: Utterance, wave: np.ndarray) -> dict:
    """One utterance's index entry."""
    return {
        "key": key, "shard": shard, "path": str(utt.path), "corpus": utt.corpus, "speaker": utt.speaker, "split": utt.split,
        "labels": {t: TASKS[t].classes[i] for t, i in utt.labels.items()},
        "transcript": utt.transcript, "agreement": utt.agreement, "samples": int(len(wave)),
    }


def prepare(
    utterances: Sequence[Utterance],
    out: str | os.PathLike,
    sample_rate: int = audio.SAMPLE_RATE,
    shard_mb: float = SHARD_MB,
    corpora: Sequence[tuple[str, str]] = (),
    jobs: int = 0,
    write: Callable[[str], None] | None = None,
) -> dict:
    """Decode ``utterances`` at ``sample_rate`` into shards of about ``shard_mb`` MB in ``out``
    and write its ``index.json`` last (a folder without one is not prepared); returns the index.
    Files that cannot be decoded are skipped with one warning each and listed in the index.
    ``jobs``: decoding threads (0: one per core). ``out`` must be new, empty or prepared before."""
    write = writer(write)
    out = Path(out)
    _clear_folder(out)
    shards = _ShardWriter(out, int(shard_mb * 1e6))
    entries: list[dict] = []
    skipped: list[dict] = []
    workers = jobs or os.cpu_count() or 1
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for utt, wave, reason in pool.map(lambda u: _decode(u, sample_rate), utterances):
            if wave is None:
                write(f"warning: skipped {utt.path}: {reason}")
                skipped.append({"path": str(utt.path), "reason": reason})
                continue
            key = f"{len(entries):08d}"
            shard = shards.write(serialize(key, utt, wave))
            entries.append(_entry(key, shard, utt, wave))
            if len(entries) % 500 == 0:
                write(f"{len(entries)} utterances in {len(shards.shards)} shard(s)")
    shards.close()
    shards = shards.shards
    index = {
        "format": FORMAT, "version": VERSION, "sample_rate": int(sample_rate),
        "corpora": [list(c) for c in corpora], "shards": shards, "skipped": skipped, "utterances": entries,
    }
    tmp = out / f".{INDEX}.tmp"
    tmp.write_text(json.dumps(index, indent=1, ensure_ascii=False))
    os.replace(tmp, out / INDEX)
    hours = sum(e["samples"] for e in entries) / sample_rate / 3600
    write(f"prepared {len(entries)} utterances ({hours:.2f} h) in {len(shards)} shard(s) at {sample_rate} Hz"
          + (f"; skipped {len(skipped)}" if skipped else ""))
    return index


# --- reading -----------------------------------------------------------------------------------


def read_index(folder: str | os.PathLike) -> dict:
    """The ``index.json`` of a prepared folder; CorpusError naming the folder if it is not one."""
    folder = Path(folder)
    path = folder / INDEX
    if not path.is_file():
        raise CorpusError(folder, f"no {INDEX}: not a prepared TFRecord folder (kerasser prepare), or its prepare did not finish")
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CorpusError(path, f"unreadable ({error})") from None
    if index.get("format") != FORMAT:
        raise CorpusError(path, f"not a {FORMAT} index")
    if index.get("version", 0) > VERSION:
        raise CorpusError(path, f"version {index['version']} is newer than this kerasser reads ({VERSION}): upgrade kerasser")
    missing = [s["file"] for s in index["shards"] if not (folder / s["file"]).is_file()]
    if missing:
        raise CorpusError(folder, f"shard(s) missing: {', '.join(missing[:3])}")
    return index


def read_prepared(folder: str | os.PathLike) -> list[Utterance]:
    """The utterances of a prepared folder, in its order, each with ``record = (folder, key)``."""
    root = str(Path(folder).expanduser().resolve())
    index = read_index(root)
    utterances = []
    for e in index["utterances"]:
        try:
            labels = {t: TASKS[t].classes.index(c) for t, c in e["labels"].items()}
        except (KeyError, ValueError):
            raise CorpusError(Path(root) / INDEX, f"utterance {e['key']}: unknown task or class in {e['labels']}") from None
        utterances.append(Utterance(
            path=e["path"], speaker=e["speaker"], split=e["split"], labels=labels, transcript=e["transcript"],
            corpus=e["corpus"], agreement=e["agreement"], record=(root, e["key"]),
        ))
    return utterances


def _folder_of(utterances: Sequence[Utterance]) -> tuple[str, dict]:
    folders = {u.record[0] for u in utterances}
    if len(folders) != 1:
        raise DataError(f"utterances of {len(folders)} prepared folders in one dataset: prepare them into one")
    folder = folders.pop()
    return folder, read_index(folder)


def _parse(serialized):
    import tensorflow as tf

    parsed = tf.io.parse_single_example(serialized, {
        "key": tf.io.FixedLenFeature([], tf.string),
        "pcm": tf.io.FixedLenFeature([], tf.string),
        "scale": tf.io.FixedLenFeature([], tf.float32),
    })
    wave = tf.cast(tf.io.decode_raw(parsed["pcm"], tf.int16, little_endian=True), tf.float32)
    wave = wave * (parsed["scale"] / 32768.0)
    return parsed["key"], wave


def decoded(utterances: Sequence[Utterance], settings: ExampleSettings, interleave: bool = False,
            deterministic: bool = True):
    """The examples of ``kerasser.data.dataset.decoded`` for utterances of one prepared folder, read
    from its shards (only those that hold them); their labels and weights are ``targets(u,
    settings)``. Without ``interleave``: one shard after the other, so examples come in the folder's
    order, which ``utterances`` must follow (as ``read_prepared`` and ``select`` give it). With
    ``interleave``: ``READ_PARALLEL`` shards at a time, parallel reads; ``deterministic`` keeps that
    order fixed from pass to pass."""
    import tensorflow as tf

    sample_rate = settings.sample_rate
    folder, index = _folder_of(utterances)
    if index["sample_rate"] != sample_rate:
        raise DataError(f"{folder}: prepared at {index['sample_rate']} Hz, but the model takes {sample_rate} Hz: "
                        f"prepare again with --sample-rate {sample_rate}")
    position = {e["key"]: (i, e["shard"]) for i, e in enumerate(index["utterances"])}
    keys = [u.record[1] for u in utterances]
    unknown = [k for k in keys if k not in position]
    if unknown:
        raise DataError(f"{folder}: no utterance with key {unknown[0]} in {INDEX}")
    order = [position[k][0] for k in keys]
    if not interleave and order != sorted(order):
        raise DataError("utterances of a prepared folder must come in its order (as read_prepared gives them)")
    if len(set(keys)) != len(keys):
        raise DataError("an utterance of a prepared folder is listed twice")

    rows = [targets(u, settings) for u in utterances]
    names = tuple(rows[0][0])
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.range(len(keys), dtype=tf.int64)), default_value=-1
    )
    label_columns = {}
    for name in names:
        if name == TRANSCRIPT_TARGET:
            label_columns[name] = tf.ragged.constant([r[0][name].tolist() for r in rows], dtype=tf.int32, ragged_rank=1)
        else:
            values = np.array([r[0][name] for r in rows])  # class indices, or masked targets (float rows)
            label_columns[name] = tf.constant(values.astype(np.float32 if values.ndim > 1 else np.int32))
    weight_columns = {name: tf.constant(np.array([r[1][name] for r in rows], np.float32)) for name in names}
    texts = None
    if settings.text_vocabulary is not None:  # a text model's token ids, from the index's transcripts
        texts = tf.ragged.constant([text_tokens(u, settings).tolist() for u in utterances], dtype=tf.int32,
                                   ragged_rank=1)

    def join(key, wave):
        row = table.lookup(key)
        labels = {}
        for name, column in label_columns.items():
            value = column[row]
            labels[name] = value if name != TRANSCRIPT_TARGET else tf.reshape(value, [-1])
        weights = {name: column[row] for name, column in weight_columns.items()}
        inputs = {"waveform": wave, "length": tf.shape(wave, out_type=tf.int32)[0]}
        if texts is not None:
            inputs[TEXT_INPUT] = tf.reshape(texts[row], [-1])
        return inputs, labels, weights

    shards = sorted({position[k][1] for k in keys})
    files = tf.data.Dataset.from_tensor_slices([str(Path(folder) / index["shards"][s]["file"]) for s in shards])
    if interleave:
        records = files.interleave(
            tf.data.TFRecordDataset, cycle_length=min(READ_PARALLEL, len(shards)), block_length=1,
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic,
        )
    else:
        records = files.flat_map(tf.data.TFRecordDataset)
    parallel = dict(num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic if interleave else True)
    return (
        records.map(_parse, **parallel)
        .filter(lambda key, wave: table.lookup(key) >= 0)
        .map(join, **parallel)
    )


def waveforms(utterances: Sequence[Utterance]) -> Iterator[tuple[Utterance, np.ndarray]]:
    """``(utterance, samples)`` for utterances of one prepared folder, in the folder's order (for
    the few clips an export checks; training reads through ``decoded``)."""
    import tensorflow as tf

    if not utterances:
        return
    folder, index = _folder_of(utterances)
    wanted = {u.record[1]: u for u in utterances}
    shards = sorted({e["shard"] for e in index["utterances"] if e["key"] in wanted})
    for s in shards:
        for serialized in tf.data.TFRecordDataset(str(Path(folder) / index["shards"][s]["file"])):
            key, wave = _parse(serialized)
            key = key.numpy().decode()
            if key in wanted:
                yield wanted[key], wave.numpy()


# ``--corpus tfrecord``: this module is the reader of prepared folders.
corpora.register_reader("tfrecord", read_prepared)

__all__ = ["INDEX", "decoded", "prepare", "read_index", "read_prepared", "serialize", "waveforms"]
