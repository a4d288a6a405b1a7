"""Model snapshots during a fit, for training videos (``fit(..., snapshot_every=N, snapshot_dir=DIR)``).

The model is written in kanlab's ``.kan`` format through its own ``save`` method (``kanlab.KAN``
has one; training does not import the I/O layer) as ``DIR/step_000000.kan`` before the first step,
then after every ``snapshot_every`` completed steps, and after the last step. The number in the
name is the count of completed optimiser steps. ``kanlab.interpret.animate(DIR, "train.gif", x=...)``
turns the files into an animation. A fresh fit refuses a directory that already holds snapshots
(they would mix into the video); ``resume=True`` continues numbering in it.
"""
from __future__ import annotations

import os
import re

from ..validate import KanlabError

__all__ = ["Snapshots", "snapshot_files", "SNAPSHOT_PATTERN"]

SNAPSHOT_PATTERN = re.compile(r"^step_(\d+)\.kan$")


def snapshot_files(directory) -> list[tuple[int, str]]:
    """[(completed steps, path)] of the snapshots in ``directory``, in step order."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        return []
    found = [(int(m.group(1)), os.path.join(directory, name))
             for name in os.listdir(directory) if (m := SNAPSHOT_PATTERN.match(name))]
    return sorted(found)


class Snapshots:
    """Writes one fit's snapshots (only where ``writer``: rank 0 of a distributed fit)."""

    def __init__(self, cfg, model, start: int, writer: bool = True):
        if not callable(getattr(model, "save", None)):
            raise KanlabError(f"snapshot_every needs a model with a save method (kanlab.KAN); "
                              f"{type(model).__name__} has none")
        self.every, self.writer = cfg.snapshot_every, writer
        self.directory = os.fspath(cfg.snapshot_dir)
        if not cfg.resume and snapshot_files(self.directory):
            raise KanlabError(f"snapshot_dir {self.directory} already holds snapshots (step_*.kan) of another fit; "
                              "use an empty directory or delete them")
        self.last = None
        self.save(start, model)

    def save(self, completed: int, model) -> None:
        if self.writer:
            os.makedirs(self.directory, exist_ok=True)
            model.save(os.path.join(self.directory, f"step_{completed:06d}.kan"))
        self.last = completed

    def after_step(self, step: int, model) -> None:
        """Called after optimiser step ``step`` (0-based) completed."""
        if (step + 1) % self.every == 0:
            self.save(step + 1, model)

    def finish(self, completed: int, model) -> None:
        """The final model, unless the last step's snapshot is already written."""
        if self.last != completed:
            self.save(completed, model)
