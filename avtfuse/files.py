"""Atomic writes: a file appears whole under its name or not at all, whenever the writer is killed."""

import os
import shutil


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
    """Calls write(temporary_folder), then puts that folder in place of `path` (an old one is removed)."""
    path = os.fspath(path)
    folder, name = os.path.split(path)
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
