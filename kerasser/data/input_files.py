"""Which files to label: the command line's paths -> :class:`Source` list (``kerasser label``,
``explain``, and the Beam runner's per-file check).

- Folders are walked (recursively unless ``recursive=False``) for files whose extension libsndfile
  reads (:data:`AUDIO_EXTENSIONS`, case-insensitive); hidden files and folders (names starting
  with ``.``) are skipped. A file named explicitly is always tried, whatever its extension.
- Only regular files are read (symbolic links followed). A FIFO, socket or device would block a
  read forever or never end: a walk skips one and says so in one line (``on_skipped``); one named
  explicitly is a :class:`Source` with the error ``not a regular file (FIFO)``.
- Order: the arguments in the order given; inside a folder, files sorted by path (folder by
  folder). A file reached twice (``d`` and ``./d``, a file named and inside a named folder, two
  links to it) comes once, under the path first seen (compared resolved: ``os.path.realpath``).
  The row's ``path`` is the argument as given, or for a file found in a folder the folder argument
  joined with its relative path.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable

import soundfile as sf

from kerasser.data import audio
from kerasser.errors import shown_path

# Extensions of the formats libsndfile reads (RAW and MATLAB files excluded: they are not
# self-describing audio); only those whose format this libsndfile build has are kept.
_EXTENSIONS_BY_FORMAT = {
    "WAV": ("wav", "wave"),
    "WAVEX": ("wav",),
    "FLAC": ("flac",),
    "OGG": ("ogg", "oga", "opus"),
    "MP3": ("mp3",),
    "AIFF": ("aiff", "aif", "aifc"),
    "AU": ("au", "snd"),
    "CAF": ("caf",),
    "W64": ("w64",),
    "RF64": ("rf64",),
    "NIST": ("nist", "sph"),
    "VOC": ("voc",),
    "IRCAM": ("ircam",),
    "PAF": ("paf",),
    "SVX": ("svx", "8svx"),
    "PVF": ("pvf",),
    "XI": ("xi",),
    "HTK": ("htk",),
    "SDS": ("sds",),
    "AVR": ("avr",),
    "SD2": ("sd2",),
    "WVE": ("wve",),
    "MPC2K": ("mpc2k",),
}
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    ext for fmt in sf.available_formats() for ext in _EXTENSIONS_BY_FORMAT.get(fmt, ())
)

# What a path that is neither a regular file nor a folder is, for messages.
SHOWN_SKIPPED = 5  # special files named in the walk's one "skipped" line; the rest are counted


def is_audio_name(name: str) -> bool:
    """True if ``name``'s extension (case-insensitive) is one libsndfile reads."""
    return os.path.splitext(name)[1][1:].lower() in AUDIO_EXTENSIONS


def special_kind(path: str | os.PathLike) -> str | None:
    """``"FIFO"``, ``"socket"``, ``"character device"``, ... when ``path`` (links followed) exists
    and is neither a regular file nor a folder; None otherwise. A path that cannot be examined
    (missing, a broken link, no permission) gives None: opening it says why."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return audio.mode_kind(mode)


not_regular_reason = audio.not_regular_reason  # the error of a special file named explicitly


@dataclasses.dataclass(frozen=True)
class Source:
    """One path to label, as it will appear in the ``path`` column; ``error`` is set for a folder
    that could not be listed, or a path that is not a regular file."""

    path: str
    error: str | None = None


def _identity(path: str) -> str:
    """What makes two paths the same file: the resolved path (or, where it cannot be resolved, the
    absolute one)."""
    try:
        return os.path.realpath(path, strict=True)
    except (OSError, ValueError):
        return os.path.abspath(path)


def find_audio(
    paths: Iterable[str | os.PathLike], recursive: bool = True, on_skipped: Callable[[str], None] | None = None
) -> list[Source]:
    """The files to label for the command-line ``paths`` (see the module docstring for the rules).
    ``on_skipped(line)``: called once, with one line, when folder walks skipped special files."""
    found: list[Source] = []
    seen: set[str] = set()
    skipped: list[tuple[str, str]] = []
    for arg in paths:
        name = os.fspath(arg)
        if os.path.isdir(name):
            batch = _walk(name, recursive, skipped)
        else:
            kind = special_kind(name)
            batch = [Source(name, not_regular_reason(kind) if kind else None)]
        for source in batch:
            key = _identity(source.path)
            if key not in seen:
                seen.add(key)
                found.append(source)
    once = {}
    for path, kind in skipped:
        once.setdefault(_identity(path), (path, kind))
    if once and on_skipped is not None:
        on_skipped(skipped_line(list(once.values())))
    return found


def skipped_line(skipped: list[tuple[str, str]]) -> str:
    """``skipped 1 file that is not a regular file: d/x.wav (FIFO)`` for ``[(path, kind)]``."""
    shown = ", ".join(f"{shown_path(path)} ({kind})" for path, kind in skipped[:SHOWN_SKIPPED])
    more = len(skipped) - SHOWN_SKIPPED
    if more > 0:
        shown += f" and {more} more"
    if len(skipped) == 1:
        return f"skipped 1 file that is not a regular file: {shown}"
    return f"skipped {len(skipped)} files that are not regular files: {shown}"


def _walk(top: str, recursive: bool, skipped: list[tuple[str, str]]) -> list[Source]:
    entries: list[tuple[tuple[str, ...], Source]] = []
    special: list[tuple[tuple[str, ...], str, str]] = []

    def unreadable(err: OSError) -> None:
        where = err.filename if isinstance(err.filename, str) else top
        rel = os.path.relpath(where, top)
        parts = () if rel == os.curdir else tuple(rel.split(os.sep))
        shown = top if not parts else os.path.join(top, *parts)
        entries.append((parts, Source(shown, f"cannot list folder ({audio._describe(err)})")))

    for folder, dirs, files in os.walk(top, onerror=unreadable):
        rel = os.path.relpath(folder, top)
        base = () if rel == os.curdir else tuple(rel.split(os.sep))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        for f in files:
            if not f.startswith(".") and is_audio_name(f):
                path = os.path.join(top, *base, f)
                kind = special_kind(path)
                if kind is None:  # a regular file, or one the loader will say it cannot open
                    entries.append(((*base, f), Source(path)))
                else:
                    special.append(((*base, f), path, kind))
    entries.sort(key=lambda e: e[0])
    skipped.extend((path, kind) for _, path, kind in sorted(special))
    return [source for _, source in entries]
