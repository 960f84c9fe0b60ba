"""atomic_write: the whole new content or the old one, never a half-written file or a leftover."""

import os

import pytest

from jaxshadow import files
from jaxshadow.errors import UserError


def test_writes_text_and_bytes_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "out.json"
    files.atomic_write(target, "{}\n")
    files.atomic_write(tmp_path / "b.bin", b"\x00\x01")
    assert target.read_text() == "{}\n" and (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path)) == ["b.bin", "out.json"]


def test_a_failed_write_keeps_the_old_content_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "config.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(UserError, match=f"cannot write {target}: No space left on device"):
        files.atomic_write(target, "new")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["config.json"]


def test_a_missing_folder_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(UserError, match="cannot write .*nowhere/x.png"):
        files.atomic_write(tmp_path / "nowhere" / "x.png", b"")


def test_written_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        files.atomic_write(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / "f.txt").st_mode & 0o777) == 0o644
