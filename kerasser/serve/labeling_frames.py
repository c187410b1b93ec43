"""The :class:`kerasser.Labeler` calls in the ecosystem's shape: audinterface's ``process_file``,
``process_files``, ``process_folder``, ``process_signal`` (pandas DataFrames) and SpeechBrain's
``classify_file``, ``classify_batch`` (predictions).

    labeler = kerasser.Labeler(model="emodb-avde")        # a name (kerasser models) or a folder
    labeler.process_folder("clips/")                       # DataFrame, index (file, start, end)
    labeler.process_signal(samples, 44100, file="x")       # [n] or [n, channels], any rate

Every ``process_*`` call labels through :func:`kerasser.serve.labeling_files.label_files`, the pipeline
behind ``kerasser label``, into a :class:`kerasser.serve.writers.FrameWriter`: its rows are the CLI's
rows (long files in windows, error rows for what cannot be labelled, speaker references), indexed
by ``(file, start, end)`` with start and end as ``pandas.Timedelta`` (audinterface's segmented
index; ``.total_seconds()`` gives the CSV's seconds) and the CSV's other columns: ``duration``
(seconds, the whole file's), per task the class and each class' probability, ``error`` (empty when
labelled). A signal is written to a temporary float WAV file at its own rate first, so it takes
exactly the path a file takes (down-mix, soxr resampling, windows).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from kerasser.data.segments import AUTO
from kerasser.errors import SettingsError

# Sample types a WAV file holds as they are; others are converted to float32 (kerasser.data.audio.from_array).
_WAV_SUBTYPES = {np.dtype("float32"): "FLOAT", np.dtype("float64"): "DOUBLE", np.dtype("int16"): "PCM_16",
                 np.dtype("int32"): "PCM_32", np.dtype("uint8"): "PCM_U8"}


def _seconds(value, what: str) -> float | None:
    """Seconds from a number or a ``pandas.Timedelta`` / ``datetime.timedelta`` (None stays None)."""
    if value is None:
        return None
    seconds = value.total_seconds() if hasattr(value, "total_seconds") else float(value)
    if not seconds >= 0:
        raise SettingsError(f"{what} must be a time of 0 s or more, not {value!r}")
    return seconds


def _speaker_of(speakers) -> Callable[[str], str] | None:
    """``speakers`` as ``kerasser label --speakers`` takes it: None, "folder", a CSV table, or a
    function of the path."""
    from kerasser.serve.labeling_files import folder_speaker, speaker_table

    if speakers is None or callable(speakers):
        return speakers
    return folder_speaker if speakers == "folder" else speaker_table(speakers)


class FrameCalls:
    """The DataFrame and classify calls of :class:`kerasser.serve.labeling.Labeler` (a mixin: ``self``
    is the Labeler)."""

    def _frame(self, sources, segment=None, speakers=None, rename=None, shift=None):
        from kerasser.serve.labeling_files import label_files
        from kerasser.serve.writers import FrameWriter, class_column, columns

        writer = FrameWriter(columns(self.tasks, text=self.transcribe, attention=self.attention),
                             numeric=[class_column(task, c) for task, classes in self.tasks for c in classes])
        label_files(self, sources, writer, segment=segment, speaker_of=_speaker_of(speakers))
        if shift is not None:  # a part of a signal or file: its rows in the whole one's seconds
            offset, duration = shift
            for row in writer.rows:
                row["duration"] = round(duration, 3)
                for key in ("start", "end"):
                    if row[key] is not None:
                        row[key] = round(row[key] + offset, 3)
        return writer.frame(rename)

    def process_files(self, files: Iterable[str | os.PathLike], *, segment: float | str | None = AUTO,
                      speakers=None):
        """A DataFrame of ``files`` (each tried, whatever its extension; a folder among them gives
        its audio files), in the order given: the rows ``kerasser label FILES`` writes.
        ``segment``: ``--segment``: ``"auto"`` (the default, as the CLI's: a file over 10 s gives a
        row per speech segment), ``"none"``, or window seconds for every file; ``speakers``: ``--speakers``
        (``"folder"``, a CSV table, or a function from path to speaker) for a speaker-normalising model."""
        from kerasser.data.input_files import find_audio

        return self._frame(find_audio([os.fspath(f) for f in files]), segment, speakers)

    def process_folder(self, root: str | os.PathLike, *, recursive: bool = True,
                       segment: float | str | None = AUTO, speakers=None):
        """A DataFrame of every audio file below ``root`` (sorted, hidden ones skipped), files named
        as ``root`` joined with their path below it: the rows ``kerasser label ROOT`` writes. A
        folder without audio gives an empty DataFrame (the CLI's exit 1)."""
        from kerasser.data.input_files import find_audio

        return self._frame(find_audio([os.fspath(root)], recursive=recursive), segment, speakers)

    def process_file(self, file: str | os.PathLike, *, start=None, end=None, segment: float | str | None = AUTO):
        """A DataFrame of one file, or of its part from ``start`` to ``end`` (seconds or
        Timedelta; rows keep the file's own times and ``duration``)."""
        name = os.fspath(file)
        if start is None and end is None:
            return self.process_files([name], segment=segment)
        from kerasser.data.audio import READ_ERRORS, read_error
        from kerasser.data.input_files import Source
        from kerasser.data.windows import probe
        from kerasser.errors import AudioError

        begin, stop = _seconds(start, "start") or 0.0, _seconds(end, "end")
        try:
            info = probe(name)
            first = round(begin * info.sample_rate)
            last = info.frames if stop is None else min(info.frames, round(stop * info.sample_rate))
            import soundfile as sf

            try:
                samples, _ = sf.read(os.fsencode(name), start=first, stop=last, dtype="float32", always_2d=True)
            except READ_ERRORS as err:
                raise read_error(name, err) from None
        except AudioError as err:  # the error row kerasser label writes for this file
            return self._frame([Source(name, err.reason)])
        return self._signal_frame(samples, info.sample_rate, name, first / info.sample_rate, info.duration, segment)

    def process_signal(self, signal: np.ndarray, sampling_rate: int, *, file: str | None = None, start=None,
                       end=None, segment: float | str | None = AUTO):
        """A DataFrame of ``signal`` (samples ``[n]`` or ``[n, channels]``, float at full scale 1.0
        or integer, at ``sampling_rate``, any rate: resampled with soxr as files are), or of its
        part from ``start`` to ``end`` (seconds or Timedelta). ``file`` names it in the index
        (default ``""``); ``duration`` is the whole signal's length."""
        arr = np.asarray(signal)
        if arr.ndim not in (1, 2):
            raise SettingsError(f"expected samples shaped [n] or [n, channels], got shape {arr.shape}")
        rate = int(sampling_rate)
        if rate != sampling_rate or rate <= 0:
            raise SettingsError(f"sampling_rate must be a positive whole number of Hz, not {sampling_rate!r}")
        begin, stop = _seconds(start, "start") or 0.0, _seconds(end, "end")
        first = round(begin * rate)
        part = arr[first: None if stop is None else round(stop * rate)]
        return self._signal_frame(part, rate, "" if file is None else str(file), first / rate, arr.shape[0] / rate,
                                  segment)

    def _signal_frame(self, samples: np.ndarray, rate: int, name: str, offset: float, duration: float,
                      segment: float | str | None):
        import soundfile as sf

        from kerasser.data import audio
        from kerasser.data.input_files import Source

        subtype = _WAV_SUBTYPES.get(samples.dtype)
        if subtype is None:  # other integer and float types: as Labeler.predict reads them
            samples, subtype = audio.from_array(samples, rate, name=name or "<signal>", target_rate=rate), "FLOAT"
        with tempfile.TemporaryDirectory(prefix="kerasser-signal-") as folder:
            path = os.path.join(folder, "signal.wav")
            sf.write(path, samples, rate, subtype=subtype, format="RF64" if samples.nbytes >= 2**31 else "WAV")
            return self._frame([Source(path)], segment, rename={path: name}, shift=(offset, duration))

    def classify_file(self, path: str | os.PathLike) -> dict:
        """SpeechBrain's call: :meth:`predict` of the whole file (``{task: {label, probabilities}}``)."""
        return self.predict(os.fspath(path))

    def classify_batch(self, signals: np.ndarray | Sequence[np.ndarray], sampling_rate: int,
                       wav_lens: Sequence[float] | None = None) -> list[dict]:
        """SpeechBrain's call: a prediction per signal of a batch (``[batch, n]`` zero-padded, with
        ``wav_lens`` each one's share of ``n`` as SpeechBrain gives it, or a list of 1-D arrays),
        each :meth:`predict` of that signal alone (the model's own padding mask makes a batch
        give the same; LiteRT runs one signal at a time)."""
        batch = list(signals) if not isinstance(signals, np.ndarray) or signals.ndim == 2 else None
        if batch is None:
            raise SettingsError(f"expected a [batch, n] array or a list of 1-D arrays, got shape {signals.shape}")
        if wav_lens is not None:
            if len(wav_lens) != len(batch):
                raise SettingsError(f"{len(wav_lens)} wav_lens for {len(batch)} signals")
            batch = [np.asarray(s)[: max(1, round(float(r) * len(s)))] for s, r in zip(batch, wav_lens)]
        return [self.predict(np.asarray(s), sample_rate=sampling_rate) for s in batch]
