"""`richcoex notebooks DIR`: the runbooks copied into a working folder, the engineer's own.

JupyterLab autosaves outputs into the notebook it has open, and the runbooks write fix
backups beside themselves: opened from the installed copy, both would land in the
package (or, in a checkout, in tracked files). A working copy keeps every output,
autosave and backup in a folder the engineer chose.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .errors import UsageError
from .runner import list_runbooks


def copy_runbooks(folder: Path, force: bool = False) -> list[Path]:
    """Copy every runbook into `folder` (created); returns the copies written. A copy that
    differs from the packaged runbook (the engineer ran or edited it) is overwritten only
    with `force`; otherwise nothing at all is written and the error names them."""
    books = list_runbooks()
    changed = [p.name for p in books.values() if (folder / p.name).exists()
               and (folder / p.name).read_bytes() != p.read_bytes()]  # fmt: skip
    if changed and not force:
        raise UsageError(f"{folder}: {', '.join(changed)} changed since copied (outputs or edits); "
                         "nothing was copied; add --force to overwrite them, or choose another folder")  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in books.values():
        target = folder / source.name
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
            written.append(target)
    return written
