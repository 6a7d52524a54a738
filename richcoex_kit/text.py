"""Text that leaves the kit for a human: commands to paste, and directory strings on a
terminal. Both come from data an attacker may control (a CN is free text), so both are
made inert here, once, for every caller."""

from __future__ import annotations

import shlex
import unicodedata


def command(*argv: str) -> str:
    """A suggested shell command, each word quoted for a POSIX shell (`shlex.join`): a CN
    holding `'$(touch pwned)'` stays a literal argument when the line is pasted."""
    return shlex.join(argv)


def printable(text: str | None) -> str:
    """`text` with every control character (C0, DEL, C1 — ANSI escape sequences included)
    shown as a visible escape, so directory data cannot repaint a terminal line."""
    if not text:
        return ""
    return "".join(
        char if unicodedata.category(char) != "Cc" or char in "\t" else char.encode("unicode_escape").decode()
        for char in text
    )
