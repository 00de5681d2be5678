"""Atomic writes (a file appears whole under its name or not at all, whenever the writer is killed), and the
checks that keep what a run names, deletes or replaces inside its own folder."""

import os
import shutil
import unicodedata


def check_name(name, what):
    """`name` unchanged, or a ValueError naming `what` (a flag or field) unless it is one folder or file name:
    not empty, not "." or "..", no path separator ("/", "\\" and the system's own) and no control character."""
    if not isinstance(name, str) or name in ("", ".", ".."):
        raise ValueError(f"{what}: expected a folder or file name, got {name!r}")
    separators = {"/", "\\", os.sep, os.altsep} - {None}
    bad = [char for char in name if char in separators or unicodedata.category(char) == "Cc"]
    if bad:
        raise ValueError(f"{what}: expected a folder or file name without path separators or control "
                         f"characters, got {name!r}")
    return name


def inside(path, parent):
    """`path` unchanged, or a ValueError unless it resolves (links followed) to something strictly inside the
    folder `parent`: what a run deletes or replaces is never that folder itself nor anything outside it."""
    resolved, folder = os.path.realpath(path), os.path.realpath(parent)
    if resolved == folder or os.path.commonpath([resolved, folder]) != folder:
        raise ValueError(f"{os.fspath(path)}: refused to delete or replace it, it is not inside {os.fspath(parent)}")
    return path


def atomic_write(path, write):
    """Calls write(temporary_path), then renames the result to `path` (parent folders created); returns `path`.

    The temporary name keeps the extension (some writers check it) and sits
    beside `path`, so the rename stays on one file system.
    """
    path = os.fspath(path)
    folder, name = os.path.split(path)
    os.makedirs(folder or ".", exist_ok=True)
    temporary = os.path.join(folder, f".partial-{name}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def atomic_folder(path, write):
    """Calls write(temporary_folder), then puts that folder in place of `path` (an old one is removed); `path`
    must name a folder inside its parent (`inside`)."""
    path = os.fspath(path)
    folder, name = os.path.split(path)
    inside(path, folder or ".")
    temporary = os.path.join(folder, f".partial-{name}")
    shutil.rmtree(temporary, ignore_errors=True)
    write(temporary)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(temporary, path)
    return path


def atomic_text(path, text):
    """Writes `text` to `path` atomically."""
    def write(temporary):
        with open(temporary, "w") as handle:
            handle.write(text)
    return atomic_write(path, write)


def file_stamp(path):
    """"size:mtime_ns" of a file; of a folder (a frame folder), that of each file in it, by name; "-1" when there
    is no such path."""
    if not path or not os.path.exists(path):
        return "-1"
    if not os.path.isdir(path):
        stat = os.stat(path)
        return f"{stat.st_size}:{stat.st_mtime_ns}"
    with os.scandir(path) as entries:
        files = sorted((entry.name, entry.stat()) for entry in entries if entry.is_file())
    return ",".join(f"{name}:{stat.st_size}:{stat.st_mtime_ns}" for name, stat in files)
