"""When to restart: at once for a single save, once more after a burst of saves settles.

watchfiles groups events only while the *set* of changed paths grows, so the same file saved
twenty times in a second arrives as several batches. :class:`RestartScheduler` restarts on the
first batch right away (the common case stays fast) and folds every batch that follows within
``quiet`` seconds into one more restart, made when the burst has been quiet for ``quiet``
seconds (or has lasted ``longest`` seconds, so a file that never stops changing still reloads).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

BURST_QUIET_SECONDS = 0.3
BURST_LONGEST_SECONDS = 3.0


class RestartScheduler:
    """Feed it batches with :meth:`add`, poll :meth:`due`; both return the paths to restart for."""

    def __init__(
        self, quiet: float = BURST_QUIET_SECONDS, longest: float = BURST_LONGEST_SECONDS
    ) -> None:
        self.quiet = quiet
        self.longest = longest
        self._last_arrival = -math.inf
        self._held: list[Path] = []
        self._held_since = 0.0

    def add(self, arrival: float, paths: Iterable[Path]) -> list[Path]:
        """A batch arrived at ``arrival`` (monotonic seconds): restart now, or hold it."""
        in_burst = arrival - self._last_arrival < self.quiet
        self._last_arrival = arrival
        if in_burst or self._held:
            if not self._held:
                self._held_since = arrival
            self._held.extend(paths)
            return []
        return sorted(set(paths))

    def due(self, now: float) -> list[Path]:
        """The held paths once the burst is over (or too long), else nothing."""
        if not self._held:
            return []
        settled = now - self._last_arrival >= self.quiet
        if settled or now - self._held_since >= self.longest:
            held, self._held = sorted(set(self._held)), []
            return held
        return []
