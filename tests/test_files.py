"""Tests of avtfuse.files: folder and file names checked, and nothing deleted or replaced outside its folder."""

import os

import pytest

from avtfuse.files import atomic_folder, check_name, inside
from avtfuse.runs.folder import RunFolder


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "/abs", "a\x00b", "line\nbreak", "tab\there"])
def test_a_name_that_is_not_one_folder_name_is_refused_naming_its_flag(name):
    with pytest.raises(ValueError, match="^--run-name: expected a folder or file name"):
        check_name(name, "--run-name")


@pytest.mark.parametrize("name", ["run", "prop-small-avt-paper-seed0", "lr-0.001", "..hidden", "ü"])
def test_a_folder_name_is_kept(name):
    assert check_name(name, "--run-name") == name


def sentinel_tree(tmp_path):
    """tmp_path/parent/sentinel.txt and tmp_path/parent/child/inner.txt; returns (parent, child, sentinels)."""
    parent, child = tmp_path / "parent", tmp_path / "parent" / "child"
    child.mkdir(parents=True)
    sentinels = [parent / "sentinel.txt", child / "inner.txt", tmp_path / "beside.txt"]
    for path in sentinels:
        path.write_text("keep")
    return parent, child, sentinels


def test_inside_refuses_the_folder_itself_and_anything_outside_it(tmp_path):
    parent, child, _ = sentinel_tree(tmp_path)
    assert inside(str(child), str(parent)) == str(child)
    assert inside(os.path.join(parent, "not-yet"), parent)
    for path in (parent, os.path.join(parent, "."), os.path.join(child, ".."), os.path.join(parent, ".."),
                 tmp_path / "beside.txt"):
        with pytest.raises(ValueError, match="not inside"):
            inside(path, parent)
    (parent / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="not inside"):
        inside(parent / "link", parent)


@pytest.mark.parametrize("tail", ["..", ".", ""])
def test_atomic_folder_never_replaces_its_parent(tmp_path, tail):
    parent, child, sentinels = sentinel_tree(tmp_path)
    with pytest.raises(ValueError, match="not inside"):
        atomic_folder(os.path.join(child, tail), lambda temporary: os.makedirs(temporary))
    assert all(path.read_text() == "keep" for path in sentinels)


def test_a_run_folder_removes_nothing_outside_it(tmp_path):
    parent, child, sentinels = sentinel_tree(tmp_path)
    folder = RunFolder(str(child))
    for parts in ((), ("..",), ("..", "sentinel.txt"), (".",)):
        with pytest.raises(ValueError, match="not inside"):
            folder.remove(*parts)
    folder.remove("inner.txt")
    assert not (child / "inner.txt").exists()
    assert all(path.read_text() == "keep" for path in sentinels[::2])
