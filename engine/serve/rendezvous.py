"""Where readers find the process that owns a database file.

The owner writes a small JSON *owner file* beside its socket, in a per-user runtime
folder (`[serve] runtime_dir`, else `$XDG_RUNTIME_DIR/pmax`, else `/run/user/<uid>/pmax`,
else `/tmp/pmax-<uid>`, always mode 0700; readers look in all of them). Both are named
after a hash of the database's absolute path:

    <runtime>/<key>.json   {"pid", "kind": "run"|"tui", "db", "socket", "token",
                            "started_at", "yield_to_run", "allow_control"}
    <runtime>/<key>.sock   the Arrow Flight endpoint (mode 0600)

A file whose process is gone (kill -9 leaves it behind) is stale: `find_owner`
ignores it and removes it with its socket. The token is a second lock on the door:
only a process that can read the 0600 owner file can ask anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import stat
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.errors import UsageError

__all__ = ["OwnerInfo", "runtime_dir", "owner_paths", "find_owner", "publish_owner", "withdraw_owner"]

KIND_LABEL = {"run": "pmax --run", "tui": "the pmax app"}


@dataclass(frozen=True)
class OwnerInfo:
    """What a reader needs to reach the owner of one database file."""

    pid: int
    kind: str  # "run" (headless) or "tui"
    db: str
    socket: str  # grpc+unix:// URI
    token: str
    started_at: str
    yield_to_run: bool = False
    allow_control: bool = False

    @property
    def label(self) -> str:
        """`pmax --run (pid 123)`: how messages name the owner."""
        return f"{KIND_LABEL.get(self.kind, 'pmax')} (pid {self.pid})"


def candidate_dirs(configured: str = "") -> list[Path]:
    """Where owner files may be, most preferred first.

    A cron job often has no `$XDG_RUNTIME_DIR` while an SSH login has one, so readers
    look in every candidate and the owner publishes in the first usable one.
    """
    if configured:
        return [Path(configured).expanduser()]
    out = []
    if os.environ.get("XDG_RUNTIME_DIR") and Path(os.environ["XDG_RUNTIME_DIR"]).is_dir():
        out.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "pmax")
    if Path(f"/run/user/{os.getuid()}").is_dir():
        out.append(Path(f"/run/user/{os.getuid()}") / "pmax")
    out.append(Path(tempfile.gettempdir()) / f"pmax-{os.getuid()}")
    return list(dict.fromkeys(out))


def runtime_dir(configured: str = "") -> Path:
    """The per-user folder this owner publishes in, created 0700 if missing.

    Refuses a folder that another user owns or that others can enter: a socket there
    would not be private.
    """
    base = candidate_dirs(configured)[0]
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _private(base):
        raise UsageError(
            f"runtime folder {base} is not private to this user",
            "remove it, or set [serve] runtime_dir to a folder only you can open (chmod 700)",
        )
    return base


def _private(folder: Path) -> bool:
    info = folder.lstat()
    return not stat.S_ISLNK(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def db_key(db: str | Path) -> str:
    """A short stable name for a database file (its absolute, resolved path hashed)."""
    return hashlib.sha256(str(Path(db).expanduser().resolve()).encode()).hexdigest()[:20]


def owner_paths(db: str | Path, configured_dir: str = "") -> tuple[Path, Path]:
    """(owner file, socket file) for `db`."""
    base = runtime_dir(configured_dir)
    key = db_key(db)
    return base / f"{key}.json", base / f"{key}.sock"


def new_owner(
    db: str | Path, kind: str, configured_dir: str = "", *, yield_to_run: bool = False, allow_control: bool = False
) -> OwnerInfo:
    """The owner record this process will publish once its endpoint listens."""
    _, sock = owner_paths(db, configured_dir)
    return OwnerInfo(
        pid=os.getpid(),
        kind=kind,
        db=str(Path(db).expanduser().resolve()),
        socket=f"grpc+unix://{sock}",
        token=secrets.token_hex(16),
        started_at=dt.datetime.now().isoformat(timespec="seconds"),
        yield_to_run=yield_to_run,
        allow_control=allow_control,
    )


def publish_owner(info: OwnerInfo, configured_dir: str = "") -> None:
    """Write the owner file atomically, readable by this user only."""
    path, _ = owner_paths(info.db, configured_dir)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(info), fh)
    os.replace(tmp, path)


def withdraw_owner(info: OwnerInfo, configured_dir: str = "") -> None:
    """Remove the owner file and socket if they are still this owner's."""
    path, sock = owner_paths(info.db, configured_dir)
    current = _read(path)
    if current is not None and (current.pid, current.token) != (info.pid, info.token):
        return
    for p in (path, sock):
        p.unlink(missing_ok=True)


def find_owner(db: str | Path, configured_dir: str = "") -> OwnerInfo | None:
    """The live owner of `db`, or None (a stale owner file is removed)."""
    key = db_key(db)
    for folder in candidate_dirs(configured_dir):
        if not folder.is_dir() or not _private(folder):
            continue
        path, sock = folder / f"{key}.json", folder / f"{key}.sock"
        info = _read(path)
        if info is None:
            continue
        if info.pid == os.getpid() or _alive(info.pid):
            return info
        for p in (path, sock):
            p.unlink(missing_ok=True)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process reused the pid: not our owner
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed child not yet reaped by its parent still answers kill(pid, 0)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _read(path: Path) -> OwnerInfo | None:
    try:
        data = json.loads(path.read_text())
        return OwnerInfo(**data)
    except (OSError, ValueError, TypeError):
        return None
