"""File locks around the writers of shared folders: the feature cache, the synthetic set, a run folder.

The lock of `<parent>/<name>` is `<parent>/.locks/<name>.lock` (beside the folder, not inside it, so that deleting
and replacing the folder keeps the lock), with a sidecar `<name>.lock.json` naming its holder: pid, host and start
time. `waiting` blocks until the holder is done (a cache being written: the next process then reads it);
`exclusive` refuses at once, naming the holder (a run folder: two runs must never write one). The locks are
flock(2) locks through the `filelock` package: the kernel drops one when its process dies, so a lock is never
left stale; a sidecar left by a killed holder is ignored while the lock is free. On a network file system
(NFS) flock may not hold across hosts (docs/runs.md).
"""

import contextlib
import datetime
import json
import logging
import os
import socket

import filelock

from avtfuse.files import atomic_text

logger = logging.getLogger(__name__)

LOCKS_FOLDER = ".locks"


class FolderInUse(RuntimeError):
    """Another process holds the lock of a folder that only one may write."""


def lock_path(folder):
    """The lock file of `folder`: `<parent>/.locks/<name>.lock`."""
    parent, name = os.path.split(os.path.normpath(os.path.abspath(folder)))
    return os.path.join(parent, LOCKS_FOLDER, f"{name}.lock")


def holder(folder):
    """The sidecar of `folder`'s lock as text, "pid P on HOST since TIME", or "another process" when there is none
    (or it cannot be read). Meaningful only while the lock is held."""
    try:
        with open(lock_path(folder) + ".json") as handle:
            values = json.load(handle)
        return f"pid {values['pid']} on {values['host']} since {values['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextlib.contextmanager
def waiting(folder, what):
    """Holds `folder`'s lock for the block, first waiting (logged once, naming the holder) for another process
    that holds it. `what`: the folder's kind in the log line, e.g. "feature cache"."""
    lock = _lock(folder)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        logger.info("waiting for %s, which is writing the %s %s", holder(folder), what, folder)
        lock.acquire()
    with _held(lock, folder):
        yield


@contextlib.contextmanager
def exclusive(folder, what, advice=""):
    """Holds `folder`'s lock for the block; FolderInUse (one line naming the holder, then `advice`) at once when
    another process holds it. `what`: the folder's kind, e.g. "run folder"."""
    lock = _lock(folder)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise FolderInUse(f"{folder}: the {what} is in use by {holder(folder)}{advice}") from None
    with _held(lock, folder):
        yield


def _lock(folder):
    path = lock_path(folder)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return filelock.FileLock(path)


@contextlib.contextmanager
def _held(lock, folder):
    """Writes the sidecar of the acquired `lock`, runs the block, removes the sidecar and releases the lock."""
    sidecar = lock_path(folder) + ".json"
    try:
        atomic_text(sidecar, json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}))
        yield
    finally:
        with contextlib.suppress(OSError):
            os.remove(sidecar)
        lock.release()
