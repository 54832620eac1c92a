"""Opening the Optuna storage: the journal file (default) or a database URL.

The journal is one JSON line per operation, appended under a lock. The lock here is an OS lock
(``flock`` on ``optuna.journal.flock``) instead of Optuna's default symlink lock: the kernel
drops it when its holder dies, so a killed worker never leaves a stale lock behind, and no
path inside it is relative. Opening a journal checks every line: a torn last line (a writer
killed mid-write) is cut off, keeping a copy; any other damage is a StorageError naming the file
and the way out. Every storage problem (a path where a URL is due, no database server, a
read-only folder) is a StorageError: one message, no traceback.

The URL can come from $LANDSCAPE_STORAGE (``from_environment``) when ``--storage`` is not
given, so a password need not be typed on a command line; wherever a URL is shown (messages,
errors, logs) its password is replaced by ``***`` (``redact``). A journal on a network file
system (NFS, Lustre, GPFS, CIFS, ...) depends on that file system's locking across hosts, which
is often missing or unsafe: opening one warns, pointing to PostgreSQL (docs/cluster.md).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import socket
import sys
import time
from pathlib import Path

import optuna
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from landscape.errors import UserError
from landscape.records import JOURNAL

optuna.logging.set_verbosity(optuna.logging.WARNING)

JOURNAL_PREFIX = "journal:"
LOCK_SUFFIX = ".flock"
LOCK_TIMEOUT = 300.0  # seconds waiting on a live holder before saying who holds the lock
URL_SCHEMES = ("postgresql", "mysql", "sqlite", "oracle", "mssql")
STORAGE_ENV = "LANDSCAPE_STORAGE"  # the storage URL when --storage is not given
# File systems whose locks across hosts a journal cannot trust (type names of /proc/mounts).
NETWORK_FS = ("nfs", "nfs4", "lustre", "gpfs", "cifs", "smb", "smb2", "smb3", "smbfs")
NETWORK_FS += ("beegfs", "ceph", "fuse.ceph", "glusterfs", "fuse.glusterfs", "9p", "afs")
NETWORK_FS += ("panfs", "ocfs2", "gfs2", "fuse.sshfs", "wekafs", "fuse.juicefs")
_warned: set[str] = set()  # journals warned about in this process


class StorageError(UserError, ValueError):
    """The storage cannot be used. The message names the storage, the problem and the fix."""


def from_environment() -> str | None:
    """The storage URL of $LANDSCAPE_STORAGE, or None when it is unset or empty."""
    return os.environ.get(STORAGE_ENV, "").strip() or None


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``
    (postgresql://user:secret@host/db -> postgresql://user:***@host/db)."""
    text = re.sub(r"(\w[\w+.-]*://[^:/@\s'\"]*):[^@\s'\"]*@", r"\1:***@", str(text))
    return re.sub(r"([^:/@\s'\"]+):[^@\s'\"/]+@", r"\1:***@", text)  # one with no scheme


def default_storage(results: Path) -> str:
    return f"{JOURNAL_PREFIX}{Path(results).absolute() / JOURNAL}"


def journal_path(url: str) -> Path | None:
    """The journal file of a ``journal:PATH`` URL (absolute), or None for a database URL."""
    if not url.startswith(JOURNAL_PREFIX):
        return None
    return Path(url.removeprefix(JOURNAL_PREFIX)).expanduser().absolute()


def check_url(url: str) -> None:
    if url.startswith(JOURNAL_PREFIX):
        return
    scheme = url.partition("://")[0].partition("+")[0]
    if "://" not in url or scheme not in URL_SCHEMES:
        hint = f"; did you mean {JOURNAL_PREFIX}{url}" if url.endswith(".journal") else ""
        raise StorageError(
            f"storage {redact(repr(url))} (--storage or ${STORAGE_ENV}) is not a storage "
            f"URL{hint}? Give journal:PATH for a journal file or a database URL such as postgresql+psycopg://user@host:5432/db"
        )


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """``journal:PATH`` (the default, no server) or any Optuna storage URL (postgresql://...)."""
    check_url(url)
    path = journal_path(url)
    if path is not None:
        return open_journal(path)
    # Workers started together (a Slurm array) race to create the schema in an empty
    # database; the losers see "already exists" errors. A moment later the schema is there.
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=None)
        except ImportError as error:
            raise StorageError(
                f"storage {redact(url)}: its driver is not installed ({error})"
            ) from None
        except Exception as error:  # sqlalchemy's OperationalError / IntegrityError / ...
            message = str(error).lower()
            if attempt == 4 or not ("already exists" in message or "duplicate" in message):
                first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
                first = redact(first).replace(password_of(url) or "\0", "***")
                raise StorageError(
                    f"storage {redact(url)}: cannot connect or set it up: {first}. Check that the "
                    f"server runs and the URL (user, host, port, database) is right"
                ) from None
            time.sleep(0.5 + attempt)
    raise AssertionError("unreachable")


CANDIDATES = 64  # waiting trials a claim lists at a time (more than workers race for at once)


def waiting(storage: optuna.storages.BaseStorage, study_id: int, n: int) -> list[tuple[int, int]]:
    """(trial id, number) of the first ``n`` WAITING trials of a study, oldest first. On a
    database this is one query of two columns: Optuna's ``get_all_trials`` would load every
    waiting trial with all its attributes (the 540 of a paper grid, at every claim). A journal
    is in memory already (one read of the log's new lines, as any call)."""
    if isinstance(storage, optuna.storages.RDBStorage):
        import sqlalchemy
        from optuna.storages._rdb.models import TrialModel  # Optuna's schema (versioned)

        t = TrialModel.__table__
        query = (
            sqlalchemy.select(t.c.trial_id, t.c.number)
            .where(t.c.study_id == study_id, t.c.state == TrialState.WAITING)
            .order_by(t.c.trial_id)
            .limit(n)
        )
        with storage.engine.connect() as connection:
            return [(int(i), int(number)) for i, number in connection.execute(query)]
    trials = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,))
    # the trial's own id, not get_trial_id_from_study_id_trial_number: each such call on a
    # journal reads the log again, 64 reads per claim
    return [(t._trial_id, t.number) for t in trials[:n]]


def take(storage: optuna.storages.BaseStorage, trial_id: int) -> bool:
    """Claim a WAITING trial (WAITING -> RUNNING, one write that one process wins). False
    when another process took it first, or took and ended it since it was listed."""
    try:
        return storage.set_trial_state_values(trial_id, TrialState.RUNNING)
    except (optuna.exceptions.UpdateFinishedTrialError, KeyError):
        return False


def password_of(url: str) -> str | None:
    match = re.match(r"\w[\w+.-]*://[^:/@\s]*:([^@\s]*)@", url)
    return match.group(1) if match and match.group(1) else None


def mount_of(path: Path, mounts: str) -> tuple[str, str] | None:
    """(mount point, file system type) of the mount holding ``path``: of the lines of
    ``mounts`` (the text of /proc/mounts), the one whose mount point is the longest prefix."""
    best: tuple[str, str] | None = None
    target = str(path)
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ").replace("\\011", "\t")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > len(best[0])):
            best = (point, fields[2])
    return best


def network_fs_warning(path: Path, mounts: str) -> str | None:
    """The warning for a journal on a network file system, or None on a local one."""
    found = mount_of(path, mounts)
    if found is None:
        return None
    point, kind = found
    if kind not in NETWORK_FS and kind.partition(".")[0] not in NETWORK_FS:
        return None
    return (
        f"warning: the journal {path} is on a {kind} file system (mounted at {point}). Workers "
        f"on several hosts sharing it rely on {kind}'s file locks, which may be missing or "
        f"unsafe there (lost writes, or flock refused). For workers on many hosts use "
        f"PostgreSQL: --storage postgresql+psycopg://USER@HOST/DB or {STORAGE_ENV} "
        f"(docs/cluster.md, docs/studies.md 'Which storage'). Workers on one host only are fine"
    )


def warn_if_network_fs(path: Path) -> None:
    if str(path) in _warned:
        return
    _warned.add(str(path))
    try:
        mounts = Path("/proc/mounts").read_text()
    except OSError:
        return
    message = network_fs_warning(path.resolve(), mounts)
    if message:
        print(message, file=sys.stderr, flush=True)


def open_journal(path: Path) -> JournalStorage:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        warn_if_network_fs(path)
        lock = JournalLock(path)
        with lock:
            check_journal(path)
            _drop_dangling_optuna_lock(path)
            backend = CheckedJournal(str(path), lock_obj=lock)
        return JournalStorage(backend)
    except OSError as error:
        raise StorageError(
            f"journal {path}: {error.strerror or error}. The study's results folder must be "
            f"writable (a worker records every run in it)"
        ) from None


class CheckedJournal(JournalFileBackend):
    """Optuna's journal file, whose damage (appearing while a worker runs) is a StorageError
    naming the file and the line, as at opening."""

    def __init__(self, file_path: str, lock_obj: JournalLock) -> None:
        super().__init__(file_path, lock_obj=lock_obj)
        self.path = Path(file_path)

    def read_logs(self, log_number_from: int):
        try:
            yield from super().read_logs(log_number_from)
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as error:
            raise StorageError(damage(self.path) or f"journal: {error}") from None


class JournalLock:
    """An exclusive ``flock`` beside the journal, released by the kernel if its holder dies.
    It has the methods of Optuna's journal locks (acquire, release), which JournalFileBackend
    takes as its ``lock_obj``.

    The lock file holds the last holder's host and pid, so a lock held too long is named."""

    def __init__(self, journal: Path, timeout: float = LOCK_TIMEOUT) -> None:
        self.path = Path(str(Path(journal).absolute()) + LOCK_SUFFIX)
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + self.timeout
        pause = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            if time.monotonic() > deadline:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise StorageError(
                    f"journal lock {self.path}: held for over {self.timeout:.0f} s by {holder} "
                    f"(a process that is alive but stuck, e.g. stopped with Ctrl-Z); end it"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{socket.gethostname()}:{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock

    def __enter__(self) -> JournalLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _drop_dangling_optuna_lock(path: Path) -> None:
    """Optuna's own symlink lock, left by older versions that gave a relative journal path: its
    link dangles (no holder can be alive behind it), and Optuna's lock spins on it forever."""
    link = Path(f"{path}.lock")
    if link.is_symlink() and not link.exists():
        link.unlink(missing_ok=True)
        print(f"removed the stale journal lock {link} (a link to nowhere)", flush=True)


def check_journal(path: Path) -> None:
    """Repair a torn last line (keeping a copy of the file); any other damage is an error that
    names the line and the way out. Call with the journal's lock held."""
    if not path.exists():
        return
    data = path.read_bytes()
    if not data:
        return
    problem = damage(path, data)
    if problem:
        raise StorageError(problem)
    torn = data.rsplit(b"\n", 1)[-1]  # b"" when the file ends with a newline
    if torn:
        copy = path.with_name(f"{path.name}.torn-{time.strftime('%Y%m%d-%H%M%S')}")
        shutil.copy2(path, copy)
        with open(path, "r+b") as f:
            f.truncate(len(data) - len(torn))
            f.flush()
            os.fsync(f.fileno())
        print(
            f"journal {path}: cut off a torn last line (a writer was killed mid-write); "
            f"the original is kept as {copy.name}",
            flush=True,
        )


def damage(path: Path, data: bytes | None = None) -> str | None:
    """What is wrong with the journal's complete lines (a torn last line aside), or None."""
    data = path.read_bytes() if data is None else data
    for number, line in enumerate(data.split(b"\n")[:-1], start=1):
        try:
            json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return corrupt_message(path, number, error)
    return None


def corrupt_message(path: Path, line: int, error: Exception) -> str:
    what = f"is not JSON ({error})"
    if isinstance(error, UnicodeDecodeError):
        what = "is not UTF-8 text (garbage bytes)"
    return (
        f"journal {path}: line {line} {what}: the file is damaged, so the queue cannot be read. "
        f"The run folders hold the results: `landscape run STUDY --rebuild-queue` moves this "
        f"journal aside and queues the study again from them (finished runs are recorded "
        f"without training, unfinished ones resume)"
    )
