"""What apk prints: messages on stdout, "WARNING:"/"ERROR:" on stderr, sizes in apk's units, and the
progress bar (apk's `\\e7 NN% ####   \\e8\\e[0K` on stdout) or `done/total` lines on --progress-fd."""
from __future__ import annotations

import os
import sys


def human_size(n: int) -> str:
    """apk_get_human_size: divide by 1024 while the number has five digits or more."""
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    i = 0
    while n >= 10000 and i < len(units) - 1:
        n //= 1024
        i += 1
    return f"{n} {units[i]}"


class Out:
    def __init__(self, verbosity: int) -> None:
        self.verbosity = verbosity
        self.errors = 0

    def msg(self, text: str, level: int = 1) -> None:
        """A normal message (shown by default, hidden by -q); level 2 needs -v."""
        if self.verbosity >= level:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def warn(self, text: str) -> None:
        sys.stdout.flush()
        sys.stderr.write(f"WARNING: {text}\n")
        sys.stderr.flush()

    def error(self, text: str) -> None:
        self.errors += 1
        sys.stdout.flush()
        sys.stderr.write(f"ERROR: {text}\n")
        sys.stderr.flush()


class Progress:
    """apk_print_progress: a bar on stdout when enabled, numeric `done/total` lines on a progress fd."""

    def __init__(self, bar: bool, fd: int | None) -> None:
        self.bar = bar
        self.fd = fd
        self.last: tuple[int, int] | None = None
        self.last_done = -1
        width = 50  # apk's width when stdout is not a terminal
        try:
            cols = os.get_terminal_size(sys.stdout.fileno()).columns
            if cols > 25:
                width = cols
        except OSError:
            pass
        self.bar_width = width - 6

    def update(self, done: int, total: int) -> None:
        if done == self.last_done:
            return
        self.last_done = done
        if self.fd is not None:
            try:
                os.write(self.fd, f"{done}/{total}\n".encode())
            except OSError:
                self.fd = None
        if not self.bar:
            return
        bar = self.bar_width * done // total if total > 0 else 0
        percent = 100 * done // total if total > 0 else 0
        if (bar, percent) == self.last:
            return
        self.last = (bar, percent)
        out = sys.stdout
        out.write(f"\x1b7{percent:3d}% " + "#" * bar + " " * (self.bar_width - bar))
        out.flush()
        # Written now but flushed with the next output, exactly like apk: the bar is erased by what follows.
        out.write("\x1b8\x1b[0K")
