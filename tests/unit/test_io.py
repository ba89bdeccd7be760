"""hpcseq.io: outputs are replaced whole or not at all."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from hpcseq.io import append_line, atomic_directory, atomic_open, stable_hash, write_json, write_text
from tests.unit.conftest import leftovers


class Boom(Exception):
    pass


def test_atomic_open_replaces_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with atomic_open(target) as handle:
        handle.write("new ")
        assert target.read_text() == "old\n"  # not visible until the block ends
        handle.write("content\n")
    assert target.read_text() == "new content\n"
    assert leftovers(tmp_path) == []


def test_atomic_open_keeps_the_old_file_when_the_body_raises(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(Boom), atomic_open(target) as handle:
        handle.write("half of the new")
        raise Boom()
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_atomic_open_creates_nothing_when_the_body_raises(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    with pytest.raises(KeyboardInterrupt), atomic_open(target, "wb") as handle:
        handle.write(b"\x00\x01")
        raise KeyboardInterrupt()
    assert not target.exists()
    assert leftovers(tmp_path / "sub") == []


def test_atomic_open_binary_and_parent_creation(tmp_path):
    target = tmp_path / "a" / "b" / "data.bin"
    with atomic_open(target, "wb") as handle:
        handle.write(b"\x00\xff\r\n")
    assert target.read_bytes() == b"\x00\xff\r\n"


def test_atomic_open_newline_argument(tmp_path):
    target = tmp_path / "crlf.txt"
    with atomic_open(target, newline="") as handle:
        handle.write("a\r\nb\n")
    assert target.read_bytes() == b"a\r\nb\n"


def test_atomic_open_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_open(tmp_path / "f.txt") as handle:
            handle.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o644


def test_write_json_and_write_text(tmp_path):
    data = {"b": [1, 2.5, None], "a": {"ü": "ß"}}
    write_json(tmp_path / "d.json", data)
    text = (tmp_path / "d.json").read_text(encoding="utf-8")
    assert json.loads(text) == data
    assert text.endswith("}\n")
    assert list(json.loads(text)) == ["b", "a"]  # key order kept
    write_text(tmp_path / "t.txt", "line one\nline two")
    assert (tmp_path / "t.txt").read_text() == "line one\nline two"
    assert leftovers(tmp_path) == []


def test_write_json_failure_leaves_the_old_file(tmp_path):
    target = tmp_path / "d.json"
    write_json(target, {"ok": 1})
    with pytest.raises(TypeError):
        write_json(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"ok": 1}
    assert leftovers(tmp_path) == []


def test_atomic_directory_new(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as work:
        (work / "weights.bin").write_bytes(b"123")
        assert not target.exists()
    assert sorted(p.name for p in target.iterdir()) == ["weights.bin"]
    assert leftovers(tmp_path) == []


def test_atomic_directory_replaces_only_on_success(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")

    with pytest.raises(Boom), atomic_directory(target) as work:
        (work / "new.txt").write_text("new")
        raise Boom()
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    assert (target / "old.txt").read_text() == "old"
    assert leftovers(tmp_path) == []

    with atomic_directory(target) as work:
        (work / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert leftovers(tmp_path) == []


def test_append_line_appends_whole_lines(tmp_path):
    log = tmp_path / "logs" / "metrics.jsonl"
    append_line(log, json.dumps({"epoch": 1}))
    append_line(log, json.dumps({"epoch": 2}) + "\n")  # a trailing newline is not doubled
    append_line(log, "")
    assert log.read_text() == '{"epoch": 1}\n{"epoch": 2}\n\n'
    assert [json.loads(line) for line in log.read_text().splitlines() if line] == [{"epoch": 1}, {"epoch": 2}]


def test_append_line_keeps_existing_content(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("first\n")
    append_line(log, "second")
    assert log.read_text() == "first\nsecond\n"


def test_stable_hash_is_stable_and_order_independent():
    a = {"b": [1, 2], "a": {"y": 1.5, "x": None}}
    b = {"a": {"x": None, "y": 1.5}, "b": [1, 2]}
    canonical = b'{"a":{"x":null,"y":1.5},"b":[1,2]}'
    assert stable_hash(a) == stable_hash(b) == hashlib.sha256(canonical).hexdigest()[:16]
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})
    assert stable_hash({"b": [1, 2]}) != stable_hash({"b": [2, 1]})  # list order matters
