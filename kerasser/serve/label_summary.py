"""``--summary``: one row per segmented file, the duration-weighted mean of its rows.

The summary row has ``start`` 0 and ``end`` the file's ``duration`` (the part of the file it stands
for), each task's probabilities the mean of the labelled rows' weighted by their length
(``end - start``), and as label the most probable class. A file labelled whole has one such row
already and gets no other. A file none of whose rows could be labelled gets an error row instead
(:data:`NOTHING_LABELLED`). ``--resume`` carries the weighted sums of the rows an earlier run
wrote (:class:`kerasser.serve.label_resume.FileProgress`), so a summary spans both runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kerasser.serve.writers import class_column

NOTHING_LABELLED = "no segment of the file could be labelled: no summary"


class FileSummary:
    """Sums of one file's labelled rows, weighted by their length, for ``tasks`` [(name, classes)]."""

    def __init__(self, tasks: Sequence[tuple[str, Sequence[str]]], weighted: Mapping[str, float] | None = None,
                 weight: float = 0.0) -> None:
        self.tasks = [(name, tuple(classes)) for name, classes in tasks]
        self.sums = {class_column(t, c): 0.0 for t, classes in self.tasks for c in classes}
        for column, value in (weighted or {}).items():
            if column in self.sums:
                self.sums[column] += value
        self.weight = weight
        self.rows = 0

    def add(self, row: Mapping) -> None:
        """Count a row (error rows and rows of no length are left out)."""
        self.rows += 1
        if row.get("error") or row.get("start") is None or row.get("end") is None:
            return
        length = float(row["end"]) - float(row["start"])
        if length <= 0:
            return
        self.weight += length
        for column in self.sums:
            self.sums[column] += length * float(row[column])

    def covers_file(self, row: Mapping) -> bool:
        """True for a row that already stands for the whole file (an unsegmented one)."""
        return row.get("start") == 0 and row.get("end") is not None and row.get("end") == row.get("duration")

    def row(self, path: str, duration: float | None) -> dict:
        """The summary row (module docstring)."""
        end = duration
        if not self.weight:
            return {"path": path, "duration": duration, "start": 0.0, "end": end, "error": NOTHING_LABELLED}
        row = {"path": path, "duration": duration, "start": 0.0, "end": end, "error": ""}
        for task, classes in self.tasks:
            means = [self.sums[class_column(task, c)] / self.weight for c in classes]
            row[task] = classes[max(range(len(classes)), key=means.__getitem__)]
            for cls, mean in zip(classes, means):
                row[class_column(task, cls)] = mean
        return row
