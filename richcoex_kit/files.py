"""Writing files that hold directory data: private (0600 in 0700 folders) and whole.

Backups, snapshots, scan CSV/HTML and evidence hold the security structure of a
directory — which accounts may write what, where inheritance is off — so they are
created readable by their owner only, whatever the umask. A file is written to a
temporary name in the same folder, flushed to disk (fsync) and renamed over the target,
so a reader sees the old file or the complete new one, never a torn write; when that
fails (a full disk) the temporary file is removed and the failure is one line, exit 3.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import CouldNotRunError

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: str | Path) -> Path:
    """Create `path` (and missing parents) 0700; an existing folder the kit did not create
    keeps its mode, but one it creates never inherits a permissive umask."""
    folder = Path(path)
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    try:
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        for created in missing:
            os.chmod(created, FOLDER_MODE)
    except OSError as error:
        raise CouldNotRunError(f"cannot create the folder {str(folder)!r}: {error.strerror or error}") from None
    return folder


def new_private_folder(parent: str | Path, name: str) -> Path:
    """A folder `name` under `parent` that no one else got: `name`, else `name-2`, `name-3`…
    (mkdir is atomic, so two runs started in the same second get one each), 0700."""
    base = private_folder(parent)
    for attempt in range(1, 1000):
        folder = base / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue
        except OSError as error:
            raise CouldNotRunError(f"cannot create the folder {str(folder)!r}: {error.strerror or error}") from None
        os.chmod(folder, FOLDER_MODE)
        return folder
    raise CouldNotRunError(f"{str(base)!r} already holds 999 folders named {name}")


def write_private(path: str | Path, content: str | bytes) -> Path:
    """Write `content` to `path` completely or not at all (temporary file, fsync, rename),
    0600, in a folder created 0700."""
    target = Path(path)
    private_folder(target.parent)
    data = content.encode("utf-8") if isinstance(content, str) else content
    temporary = None
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, target)
        _sync_folder(target.parent)
    except OSError as error:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise CouldNotRunError(f"could not write {str(target)!r} completely: {error.strerror or error}") from None
    return target


@contextlib.contextmanager
def open_private(path: str | Path, newline: str | None = None) -> Iterator[IO[str]]:
    """A text file streamed to as it is produced (a scan's CSV), created 0600; the
    whole-file guarantee of `write_private` does not apply to a stream."""
    target = Path(path)
    private_folder(target.parent)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        os.fchmod(fd, FILE_MODE)  # an existing file keeps its old mode through O_CREAT
    except OSError as error:
        raise CouldNotRunError(f"cannot write {str(target)!r}: {error.strerror or error}") from None
    with os.fdopen(fd, "w", newline=newline, encoding="utf-8") as out:
        yield out


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX: fsync the directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
