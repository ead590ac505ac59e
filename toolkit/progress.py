"""Progress bars: tqdm's own in a notebook, and plain lines that a headless run forwards to its terminal.

A headless run (:mod:`toolkit.runner`) sets :data:`PROGRESS_FILE_ENV` for the kernel; every bar made with
:func:`progress_bar` then also reports as one line of text appended to that file, at most every
:data:`REPORT_EVERY_S` seconds, and the runner prints those lines as they come.
"""

from __future__ import annotations

import io
import os
import re

from tqdm.auto import tqdm as notebook_tqdm
from tqdm.std import tqdm as text_tqdm

#: Environment variable naming the file a headless run reads progress lines from.
PROGRESS_FILE_ENV = "TOOLKIT_PROGRESS_FILE"
#: Seconds between two lines of one bar in that file (tqdm's ``mininterval``).
REPORT_EVERY_S = 30.0


class LineFile(io.TextIOBase):
    """A text file for tqdm that appends each refresh to ``path`` as a line of its own.

    tqdm redraws a bar in place with carriage returns; a log wants one line per redraw.
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = path

    def write(self, text: str) -> int:
        text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)  # nested bars move the cursor; a log has no cursor
        lines = [part.strip() for part in re.split(r"[\r\n]", text) if part.strip()]
        if lines:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        """Each write is already on disk."""


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar over ``iterable`` (tqdm's keyword arguments: ``total``, ``desc``, ``disable``, ...).

    In a notebook or a terminal it is ``tqdm.auto``'s bar; under a headless run it writes plain lines
    to the file :data:`PROGRESS_FILE_ENV` names instead, which the runner forwards.
    """
    path = os.environ.get(PROGRESS_FILE_ENV)
    if not path:
        return notebook_tqdm(iterable, **kwargs)
    return text_tqdm(iterable, file=LineFile(path), mininterval=REPORT_EVERY_S, maxinterval=2 * REPORT_EVERY_S, ascii=True, ncols=90, **kwargs)
