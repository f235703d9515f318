"""Appending a chunk's scratch file to its day's staged file (datasets/zone_stream.py).

The copy is the kernel's (`os.copy_file_range`), never a read/write loop through Python: a
target opened in append mode made the kernel refuse it (EBADF) and every chunk was copied
through user space again.
"""

from __future__ import annotations

import shutil

import pytest

from retail_pipeline.datasets import zone_stream


@pytest.fixture
def no_user_space_copy(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("copied through Python (shutil.copyfileobj), not by the kernel")

    monkeypatch.setattr(shutil, "copyfileobj", refuse)


def test_append_grows_the_target_in_the_kernel(tmp_path, no_user_space_copy):
    target = tmp_path / "grow.jsonl"
    target.write_bytes(b'{"a":1}\n')
    for i in range(2, 5):
        scratch = tmp_path / "chunk.tmp"
        scratch.write_bytes(b'{"a":%d}\n' % i * 1000)
        zone_stream._append(str(scratch), str(target))
    assert target.read_bytes() == b'{"a":1}\n' + b"".join(b'{"a":%d}\n' % i * 1000 for i in range(2, 5))


def test_append_to_a_new_target_keeps_the_scratch_bytes(tmp_path, no_user_space_copy):
    scratch, target = tmp_path / "chunk.tmp", tmp_path / "grow.jsonl"
    scratch.write_bytes(b'{"a":1}\n' * 10)
    zone_stream._append(str(scratch), str(target))
    assert target.read_bytes() == b'{"a":1}\n' * 10


def test_append_of_an_empty_scratch_changes_nothing(tmp_path, no_user_space_copy):
    scratch, target = tmp_path / "chunk.tmp", tmp_path / "grow.jsonl"
    scratch.write_bytes(b"")
    target.write_bytes(b"x\n")
    zone_stream._append(str(scratch), str(target))
    assert target.read_bytes() == b"x\n"
