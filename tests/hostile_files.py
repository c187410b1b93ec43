"""A folder of hostile inputs and what kerasser must make of each: a labelled row (``OK``, with the
expected duration in seconds) or an error row whose reason contains a given text.

Shared by tests/test_hostile_inputs.py (the loader, ``kerasser label``, the training pipeline).
``HOSTILE_METADATA``: metadata.json documents an export must be refused for (tests/test_model_integrity.py).
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import soundfile as sf
from fakes import sine  # tests/fakes.py

OK = "ok"


def _wav_bytes(seconds: float = 1.0, rate: int = 16000) -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, sine(seconds, rate), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _overclaiming_wav(seconds: float, claimed_seconds: float, rate: int = 16000) -> bytes:
    """A PCM-16 WAV whose RIFF and data sizes claim ``claimed_seconds`` of audio but hold ``seconds``."""
    data = bytearray(_wav_bytes(seconds, rate))
    at = data.find(b"data")
    claimed = int(claimed_seconds * rate) * 2
    data[at + 4 : at + 8] = struct.pack("<I", claimed)
    data[4:8] = struct.pack("<I", claimed + at)
    return bytes(data)


def make_hostile_folder(d) -> dict[str, tuple[str, object]]:
    """Write the cases into folder ``d``; returns ``{file name: (OK, duration) or ("error", reason text)}``.
    A duration of None: the codec pads the last block or frame, so about a second.

    Every file name has an audio extension, so a folder walk tries each one. Cases that need
    something this platform lacks (a libsndfile without MP3, running as root for permissions)
    are left out.
    """
    os.makedirs(d, exist_ok=True)
    cases: dict[str, tuple[str, object]] = {}

    def write(name, signal, rate=16000, expect=None, **kwargs):
        sf.write(os.fsencode(os.path.join(d, name)), signal, rate, **kwargs)  # bytes: any name
        cases[name] = expect or (OK, round(len(signal) / rate, 3))

    def raw(name, content: bytes, expect):
        with open(os.path.join(d, name), "wb") as f:
            f.write(content)
        cases[name] = expect

    # not audio, or broken audio
    raw("zero_bytes.wav", b"", ("error", "empty file (0 bytes)"))
    raw("header_cut_short.wav", _wav_bytes()[:30], ("error", "not a readable audio file"))
    raw("random_bytes.wav", np.random.default_rng(0).bytes(4096), ("error", "not a readable audio file"))
    raw("text_file.wav", b"just some notes\nnot audio at all\n", ("error", "not a readable audio file"))
    # the header claims 100 s, the data holds 1.5 s: label what is there
    raw("header_claims_more.wav", _overclaiming_wav(1.5, 100.0), (OK, 1.5))
    os.symlink("symlink_loop.wav", os.path.join(d, "symlink_loop.wav"))
    cases["symlink_loop.wav"] = ("error", "symbolic link loop")
    os.symlink("nowhere.wav", os.path.join(d, "dangling_link.wav"))
    cases["dangling_link.wav"] = ("error", "broken symbolic link")
    if os.geteuid() != 0:  # root reads any file
        raw("no_read_permission.wav", _wav_bytes(), ("error", "cannot read (Permission denied)"))
        os.chmod(os.path.join(d, "no_read_permission.wav"), 0)

    # sample formats libsndfile reads
    x = sine(1.0)
    for subtype in ("PCM_U8", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"):
        write(f"subtype_{subtype.lower()}.wav", x, subtype=subtype)
    for subtype in ("IMA_ADPCM", "MS_ADPCM"):  # block codecs: the last block is padded (1.01-1.02 s)
        write(f"subtype_{subtype.lower()}.wav", x, subtype=subtype, expect=(OK, None))
    write("gsm610_8k.wav", sine(1.0, 8000), 8000, subtype="GSM610", expect=(OK, None))
    write("aiff_pcm16.aiff", x, format="AIFF")
    write("sun_au.au", x, format="AU")
    write("apple_caf.caf", x, format="CAF")
    for ext in ("flac", "ogg"):
        write(f"compressed.{ext}", x)
    if "MP3" in sf.available_formats():
        write("compressed.mp3", sine(1.0, 44100), 44100, format="MP3")
        cases["compressed.mp3"] = (OK, None)
    # channels and rates
    write("stereo.wav", np.stack([x, -x], axis=1))
    write("six_channels.wav", np.stack([x * (i + 1) / 6 for i in range(6)], axis=1))
    for rate in (8000, 22050, 44100, 48000, 96000):
        write(f"rate_{rate}.wav", sine(1.0, rate), rate, subtype="PCM_16")
    # lengths and content
    write("ten_ms.wav", sine(0.01))
    write("one_sample.wav", np.array([0.25], np.float32))
    write("all_zeros.wav", np.zeros(16000, np.float32), expect=("error", "silent (every sample is zero)"))
    for bad in ("nan", "inf"):
        y = x.copy()
        y[8000] = float(bad)
        write(f"float_with_{bad}.wav", y, subtype="FLOAT", expect=("error", "non-finite samples"))
    write("clipped.wav", np.clip(sine(1.0, amplitude=3.0), -1.0, 1.0))
    # file names
    for name in ("ünïcödé.wav", "عاطفة.wav", "情感.wav", "emoji_🎤.wav", "spaces and, commas.wav", "new\nline.wav"):
        write(name, x)
    not_utf8 = os.fsdecode(b"latin1_\xe9motion.wav")  # invalid UTF-8: a surrogate in Python
    write(not_utf8, x)
    return cases


# --- audio the loader reads but no model can label ----------------------------------------------

NON_FINITE = "the model gave non-finite"


def make_overflow_folder(d) -> dict[str, tuple[str, object]]:
    """Float WAVs of finite but huge samples (a 2 s sine scaled to 1e19, float32 and float64): the
    loader reads them, the model's log-mel front end overflows and its probabilities are NaN, so
    labelling must give an error row whose reason starts with :data:`NON_FINITE`; and one normal
    file beside them. Returns ``{file name: (OK, duration) or ("error", reason text)}``."""
    os.makedirs(d, exist_ok=True)
    x = sine(2.0, amplitude=1.0).astype(np.float64)
    cases: dict[str, tuple[str, object]] = {}
    for subtype in ("FLOAT", "DOUBLE"):
        name = f"huge_{subtype.lower()}.wav"
        sf.write(os.path.join(d, name), x * 1e19, 16000, subtype=subtype)
        cases[name] = ("error", NON_FINITE)
    sf.write(os.path.join(d, "normal.wav"), 0.3 * x, 16000, subtype="PCM_16")
    cases["normal.wav"] = (OK, 2.0)
    return cases


# --- hostile metadata.json (tests/test_model_integrity.py) ---------------------------------------


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def _without(key):
    return lambda m: json.dumps({k: v for k, v in m.items() if k != key})


def _first_task(**change):
    return lambda m: json.dumps({**m, "tasks": [{**m["tasks"][0], **change}, *m["tasks"][1:]]})


def _replace(old: str, new: str):
    def edit(m):
        text = json.dumps(m)
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


# {case: (metadata document -> the text (or bytes) to write as metadata.json, what the Error: line
# must hold)}. Each must stop `kerasser label` as a model that cannot be loaded (exit 2), never as an
# internal error (exit 70).
HOSTILE_METADATA = {
    "top_level_list": (lambda m: json.dumps([m]), "malformed metadata (expected a JSON object, got a list)"),
    "top_level_number": (lambda m: "16000", "malformed metadata (expected a JSON object, got 16000)"),
    "sample_rate_string": (lambda m: json.dumps({**m, "sample_rate": "16000"}),
                           "malformed metadata (sample_rate must be an integer, not a string)"),
    "sample_rate_true": (lambda m: json.dumps({**m, "sample_rate": True}),
                         "sample_rate must be an integer, not true"),
    "sample_rate_huge": (lambda m: json.dumps({**m, "sample_rate": 10**12}),
                         "sample_rate 1000000000000 is outside 1000..384000 Hz"),
    "sample_rate_1e400": (_replace('"sample_rate": 16000', '"sample_rate": 1e400'),
                          "sample_rate is inf, not a finite number"),
    "sample_rate_5000_digits": (_replace('"sample_rate": 16000', '"sample_rate": ' + "9" * 5000),
                                "malformed metadata (a number too long to read)"),
    "sample_rate_2_to_70": (lambda m: json.dumps({**m, "sample_rate": 2**70}),
                            "sample_rate is 1180591620717411303424, out of range"),
    "nan_anywhere": (lambda m: json.dumps({**m, "parity": {"tolerance": float("nan")}}),
                     "parity.tolerance is nan, not a finite number"),
    "minus_infinity_anywhere": (lambda m: json.dumps({**m, "created": float("-inf")}), "created is -inf"),
    "missing_tasks": (_without("tasks"), "malformed metadata (no tasks)"),
    "missing_sample_rate": (_without("sample_rate"), "malformed metadata (no sample_rate)"),
    "missing_files": (_without("files"), "malformed metadata (no files)"),
    "missing_format_version": (_without("format_version"), "no valid format_version"),
    "tasks_object": (lambda m: json.dumps({**m, "tasks": {"arousal": ["low"]}}),
                     "tasks must be a list, not an object"),
    "tasks_empty": (lambda m: json.dumps({**m, "tasks": []}), "tasks is empty"),
    "task_a_string": (lambda m: json.dumps({**m, "tasks": ["arousal"]}),
                      "tasks[0] must be an object, not a string"),
    "task_name_number": (_first_task(name=5), "tasks[0].name must be a string, not 5"),
    "task_name_newline": (_first_task(name="a\nb"), "tasks[0].name must be a non-empty printable string"),
    "task_classes_null": (_first_task(classes=None), "tasks[0].classes must be a list, not null"),
    "task_classes_numbers": (_first_task(classes=[1, 2, 3]),
                             "tasks[0].classes[0] must be a non-empty printable string, not 1"),
    "task_classes_repeated": (_first_task(classes=["low", "low", "high"]),
                              "tasks[0].classes must be distinct names"),
    "files_string": (lambda m: json.dumps({**m, "files": "x"}), "files must be an object, not a string"),
    "file_entry_list": (lambda m: json.dumps({**m, "files": {**m["files"], "tflite_float32": ["model.tflite"]}}),
                        "files.tflite_float32 must be an object, not a list"),
    "file_path_number": (lambda m: json.dumps({**m, "files": {**m["files"], "tflite_float32": {"path": 7}}}),
                         "files.tflite_float32.path must be a string, not 7"),
    "file_digest_short": (lambda m: json.dumps({**m, "files": {**m["files"], "tflite_float32": {
        "path": "model.tflite", "sha256": "abc"}}}), "files.tflite_float32.sha256 must be 64 lowercase hex"),
    "output_order_numbers": (lambda m: json.dumps({**m, "tflite": {"output_order": [1]}}),
                             "tflite.output_order[0] must be a non-empty printable string"),
    "attention_string": (lambda m: json.dumps({**m, "attention": "yes"}), "attention must be true or false"),
    "nested_40_deep": (lambda m: json.dumps(m)[:-1] + ', "extra": ' + _deep(40) + "}",
                       "malformed metadata (nested deeper than 32 levels (in extra))"),
    "nested_100000_deep": (lambda m: json.dumps(m)[:-1] + ', "extra": ' + _deep(100000) + "}",
                           "malformed metadata (nested deeper than 32 levels)"),
    "over_a_megabyte": (lambda m: json.dumps({**m, "padding": "x" * (1 << 20)}),
                        "malformed metadata (over 1048576 bytes)"),
    "not_utf8": (lambda m: json.dumps(m).encode().replace(b"arousal", b"\xe9", 1), "unreadable metadata"),
}
