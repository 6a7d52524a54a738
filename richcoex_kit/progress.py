"""A one-line progress counter on stderr for the commands a user watches (`scan`).

Not tqdm: importing `tqdm.auto` costs ~45 ms (it reads its version from package metadata
and probes for IPython), a twentieth of a 5,000-object scan as a whole process
(`benchmarks/cli.py`). A scan has no known total, so a bar would only ever show a count
and a rate — which this prints, redrawn in place at most once per `interval` seconds.
"""

from __future__ import annotations

import sys
import time
from typing import IO


class Counter:
    """`label: 12,000 objects, 3 failing, 4,800 objects/s`, updated in place; `close()`
    leaves the final line (with a newline) so a log keeps the last count."""

    def __init__(self, label: str, unit: str, stream: IO[str] | None = None, interval: float = 1.0) -> None:
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.interval = interval
        self.started = time.perf_counter()
        self.shown = float("-inf")
        self.count = 0
        self.extra = ""
        self.width = 0
        self._draw()

    def update(self, count: int, **postfix: int) -> None:
        self.count = count
        self.extra = "".join(f", {value:,} {name}" for name, value in postfix.items())
        if time.perf_counter() - self.shown >= self.interval:
            self._draw()

    def close(self) -> None:
        self._draw()
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self) -> None:
        self.shown = time.perf_counter()
        rate = self.count / max(self.shown - self.started, 1e-6)
        line = f"{self.label}: {self.count:,} {self.unit}s{self.extra}, {rate:,.0f} {self.unit}s/s"
        self.stream.write(f"\r{line:<{self.width}}")  # padded: a shorter line must not leave a tail
        self.width = len(line)
        self.stream.flush()
