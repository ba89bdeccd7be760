"""hpcseq.data.text_corpus: the lecture's cleaning (switch by switch), headers, subsets, contiguous splits, errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from hpcseq.data.text_corpus import (
    CleaningOptions,
    CleaningStats,
    clean_lines,
    prepare_text_corpus,
    split_sizes,
)
from hpcseq.errors import InputDataError
from tests.unit.conftest import PLAIN_TEXT, PLAIN_TEXT_CLEANED, lecture_clean, leftovers


def read_split(prepared_dir, split: str) -> str:
    with open(Path(prepared_dir) / f"{split}.txt", encoding="utf-8", newline="") as handle:
        return handle.read()


SPLITS = ("train", "validation", "test")


def run(tmp_path, text_settings, write_file, content, name="corpus.txt", **preprocess):
    """Prepare `content`; return (report, {split: text}, output_dir)."""
    path = write_file(name, content)
    output = tmp_path / "prepared"
    report = prepare_text_corpus(text_settings(path, **preprocess), output)
    return report, {split: read_split(output, split) for split in SPLITS}, output


def cleaned(tmp_path, text_settings, write_file, content, **preprocess) -> str:
    _, parts, _ = run(tmp_path, text_settings, write_file, content, **preprocess)
    return "".join(parts[split] for split in SPLITS)


# ------------------------------------------------------------------------------ cleaning switches


def test_default_cleaning_is_the_lectures(tmp_path, text_settings, write_file):
    assert lecture_clean(PLAIN_TEXT.encode()) == PLAIN_TEXT_CLEANED  # the hand-worked expectation
    assert cleaned(tmp_path, text_settings, write_file, PLAIN_TEXT) == PLAIN_TEXT_CLEANED


def test_default_cleaning_matches_the_lecture_on_ascii_text(tmp_path, text_settings, write_file):
    content = b"\tTo BE, or not\r\n\n  to be:  \nTHAT is\x0b the QUESTION.\n\n\n Whether 'tis nobler\n"
    assert cleaned(tmp_path, text_settings, write_file, content) == lecture_clean(content)


def test_default_cleaning_matches_the_lecture_when_non_ascii_touches_line_ends(tmp_path, text_settings, write_file):
    # The lecture strips the raw bytes first and drops non-ASCII bytes afterwards, so a space
    # before a line-final em dash (or after a line-initial one) survives into the text.
    content = "Word \u2014\n\u2014 Next\nEnd\n".encode()
    assert lecture_clean(content) == "word   next end"
    assert cleaned(tmp_path, text_settings, write_file, content) == lecture_clean(content)


def test_strip_lines_off_keeps_whitespace_and_whitespace_only_lines(tmp_path, text_settings, write_file):
    # "  first citizen:" | "before we proceed any further,\t" | "   " | "hear me speak." joined by " "
    expected = "  first citizen: before we proceed any further,\t" + " " + "   " + " " + "hear me speak."
    assert cleaned(tmp_path, text_settings, write_file, PLAIN_TEXT, strip_lines=False) == expected


def test_lowercase_off_keeps_case(tmp_path, text_settings, write_file):
    expected = "First Citizen: Before we proceed ANY further, hear me speak."
    assert cleaned(tmp_path, text_settings, write_file, PLAIN_TEXT, lowercase=False) == expected


def test_drop_empty_lines_off_keeps_an_empty_piece_per_blank_line(tmp_path, text_settings, write_file):
    # five lines: "first citizen:", "", "before ... further,", "", "hear me speak."
    expected = "first citizen:  before we proceed any further,  hear me speak."
    assert cleaned(tmp_path, text_settings, write_file, PLAIN_TEXT, drop_empty_lines=False) == expected


def test_join_with_newline(tmp_path, text_settings, write_file):
    expected = "first citizen:\nbefore we proceed any further,\nhear me speak."
    assert cleaned(tmp_path, text_settings, write_file, PLAIN_TEXT, join_with="\n") == expected


def test_ascii_only_drops_non_ascii_and_counts_the_bytes(tmp_path, text_settings, write_file):
    content = "Café Noël\nÆther ok\n".encode()
    report, parts, _ = run(tmp_path, text_settings, write_file, content)
    assert "".join(parts.values()) == "caf nol ther ok"
    assert report["stats"]["non_ascii_characters_dropped"] == 6  # é, ë, Æ: two UTF-8 bytes each


def test_ascii_only_off_keeps_and_lowercases_unicode(tmp_path, text_settings, write_file):
    content = "Café Noël\nÆther ok\n".encode()
    assert cleaned(tmp_path, text_settings, write_file, content, ascii_only=False) == "café noël æther ok"


def test_all_switches_off_keep_the_text_as_is_but_line_endings(tmp_path, text_settings, write_file):
    content = " A\n\nB \n"
    result = cleaned(
        tmp_path,
        text_settings,
        write_file,
        content,
        strip_lines=False,
        lowercase=False,
        ascii_only=False,
        drop_empty_lines=False,
        join_with="\n",
    )
    assert result == " A\n\nB "


@pytest.mark.parametrize("ascii_only", [True, False])
def test_bom_and_windows_line_endings_change_nothing(tmp_path, text_settings, write_file, ascii_only):
    plain = "Première ligne\n\nSecond LINE  \nthird\n"
    variants = {
        "plain": plain.encode(),
        "bom": b"\xef\xbb\xbf" + plain.encode(),
        "crlf": plain.replace("\n", "\r\n").encode(),
        "bom_crlf": b"\xef\xbb\xbf" + plain.replace("\n", "\r\n").encode(),
        "crlf_no_final_newline": plain.rstrip("\n").replace("\n", "\r\n").encode(),
    }
    results = {}
    for name, content in variants.items():
        path = write_file(f"{name}.txt", content)
        output = tmp_path / name
        report = prepare_text_corpus(text_settings(path, ascii_only=ascii_only), output)
        results[name] = ([read_split(output, s) for s in SPLITS], report["characters"])
        # the checksum is of the file as it is, BOM included
        assert report["source"]["sha256"] == hashlib.sha256(content).hexdigest()
    expected = "premire ligne second line third" if ascii_only else "première ligne second line third"
    assert "".join(results["plain"][0]) == expected
    for name in variants:
        assert results[name] == results["plain"], name


def test_clean_lines_directly_with_stats():
    lines = [(1, b"  Hello "), (2, b""), (3, b"W\xc3\xb6rld"), (4, b"   ")]
    stats = CleaningStats()
    out = list(clean_lines(lines, CleaningOptions(), Path("x.txt"), stats))
    assert out == ["hello", "wrld"]
    assert (stats.lines_read, stats.lines_kept, stats.empty_lines_dropped) == (4, 2, 2)
    assert stats.non_ascii_characters_dropped == 2


def test_cleaning_options_from_settings_ignores_split_keys():
    options = CleaningOptions.from_settings({"lowercase": False, "validation_fraction": 0.1, "join_with": "|"})
    assert options == CleaningOptions(lowercase=False, join_with="|")


# ------------------------------------------------------------------------------ headers

FOLGER = (
    "Hamlet\n"
    "by William Shakespeare\n"
    "Edited by Barbara A. Mowat and Paul Werstine\n"
    "Folger Shakespeare Library\n"
    "https://shakespeare.folger.edu/shakespeares-works/hamlet/\n"
    "Created on Jul 31, 2015, from FDT version 0.9.0.1\n"
    "\n"
    "Characters in the Play\n"
    "======================\n"
    "ACT 1\n"
    "Scene 1\n"
    "Enter Barnardo and Francisco, two sentinels.\n"
)


def test_start_after_drops_a_folger_header(tmp_path, text_settings, write_file):
    report, parts, _ = run(tmp_path, text_settings, write_file, FOLGER, start_after=r"^=+\s*$")
    assert "".join(parts.values()) == "act 1 scene 1 enter barnardo and francisco, two sentinels."
    assert report["stats"]["start_marker_line"] == 9
    assert report["stats"]["header_lines_skipped"] == 9
    assert report["stats"]["lines_kept"] == 3


def test_start_after_matching_nothing_is_an_error(tmp_path, text_settings, write_file):
    path = write_file("play.txt", FOLGER)
    with pytest.raises(InputDataError) as caught:
        prepare_text_corpus(text_settings(path, start_after="^\\*\\*\\* START"), tmp_path / "out")
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value) and "start_after" in str(caught.value)
    assert not (tmp_path / "out" / "train.txt").exists()
    assert leftovers(tmp_path / "out") == []


def test_skip_header_lines(tmp_path, text_settings, write_file):
    report, parts, _ = run(tmp_path, text_settings, write_file, FOLGER, skip_header_lines=9)
    assert "".join(parts.values()) == "act 1 scene 1 enter barnardo and francisco, two sentinels."
    assert report["stats"]["header_lines_skipped"] == 9


def test_skip_header_lines_counts_lines_after_a_bom_and_crlf(tmp_path, text_settings, write_file):
    content = b"\xef\xbb\xbfHEADER one\r\nHEADER two\r\nBody text\r\n"
    assert cleaned(tmp_path, text_settings, write_file, content, skip_header_lines=2) == "body text"


# ------------------------------------------------------------------------------ subsets


def test_max_characters_truncates_and_reports_a_subset(tmp_path, text_settings, write_file):
    content = PLAIN_TEXT.encode()
    digest = hashlib.sha256(content).hexdigest()
    report, parts, _ = run(tmp_path, text_settings, write_file, content, max_characters=30, sha256=digest)
    text = "".join(parts[s] for s in SPLITS)
    assert text == PLAIN_TEXT_CLEANED[:30] == "first citizen: before we proce"
    assert report["subset"] == "first 30 cleaned characters of corpus.txt"
    assert report["stats"]["truncated_at_max_characters"] is True
    assert report["source"]["sha256"] == digest
    assert report["source"]["checksum_verified"] is True
    assert report["source"]["bytes"] == len(content)


def test_max_characters_on_a_large_file_still_checks_the_whole_file(tmp_path, text_settings, write_file):
    # larger than the reader's 1 MiB block, so the cleaning stops long before the end of the file
    line = b"The quick brown fox jumps over the lazy dog.\n"
    content = line * 60_000
    digest = hashlib.sha256(content).hexdigest()
    report, parts, _ = run(tmp_path, text_settings, write_file, content, max_characters=100, sha256=digest)
    assert "".join(parts[s] for s in SPLITS) == lecture_clean(line * 3)[:100]
    assert report["source"]["bytes"] == len(content)
    assert report["source"]["sha256"] == digest

    changed = content[:-2] + b"!\n"  # differs only after the part that was used
    path = write_file("changed.txt", changed)
    with pytest.raises(InputDataError) as caught:
        prepare_text_corpus(text_settings(path, max_characters=100, sha256=digest), tmp_path / "changed")
    assert str(path) in str(caught.value) and "sha256" in str(caught.value)


def test_max_characters_not_reached_is_not_a_subset(tmp_path, text_settings, write_file):
    report, parts, _ = run(tmp_path, text_settings, write_file, PLAIN_TEXT, max_characters=1000)
    assert "".join(parts.values()) == PLAIN_TEXT_CLEANED
    assert report["subset"] is None
    assert report["stats"]["truncated_at_max_characters"] is False


def test_max_characters_equal_to_the_text_length_is_not_a_subset(tmp_path, text_settings, write_file):
    # nothing is cut when the cleaned text is exactly max_characters long
    length = len(PLAIN_TEXT_CLEANED)
    report, parts, _ = run(tmp_path, text_settings, write_file, PLAIN_TEXT, max_characters=length)
    assert "".join(parts.values()) == PLAIN_TEXT_CLEANED
    assert report["subset"] is None
    assert report["stats"]["truncated_at_max_characters"] is False


# ------------------------------------------------------------------------------ splits


@pytest.mark.parametrize(
    "total, validation, test, expected",
    [
        (30, 0.1, 0.1, {"train": 24, "validation": 3, "test": 3}),
        (30, 0.2, 0.3, {"train": 15, "validation": 6, "test": 9}),
        (101, 0.1, 0.2, {"train": 71, "validation": 10, "test": 20}),
        (1000, 0.1, 0.0, {"train": 900, "validation": 100, "test": 0}),
        (7, 0.1, 0.1, {"train": 5, "validation": 1, "test": 1}),
    ],
)
def test_split_sizes(total, validation, test, expected):
    assert split_sizes(total, validation, test) == expected


def test_splits_of_a_30_character_text_are_contiguous(tmp_path, text_settings, write_file):
    text = "abcdefghijklmnopqrstuvwxyz0123"  # 30 characters, one line
    report, parts, output = run(tmp_path, text_settings, write_file, text + "\n")
    assert parts == {"train": text[:24], "validation": text[24:27], "test": text[27:]}
    assert report["characters"] == {"train": 24, "validation": 3, "test": 3}
    assert report["character_offsets"] == {"train": [0, 24], "validation": [24, 27], "test": [27, 30]}
    assert report["kind"] == "text" and report["experiment"] == "exp"
    on_disk = json.loads((output / "split_report.json").read_text())
    assert on_disk == report
    assert sorted(p.name for p in output.iterdir()) == ["split_report.json", "test.txt", "train.txt", "validation.txt"]


def test_splits_concatenate_to_the_cleaned_text(tmp_path, text_settings, write_file):
    content = "".join(f"Line {i}: Some TEXT here, and more.\n\n" for i in range(200))
    report, parts, _ = run(tmp_path, text_settings, write_file, content, validation_fraction=0.15, test_fraction=0.05)
    whole = lecture_clean(content.encode())
    assert parts["train"] + parts["validation"] + parts["test"] == whole
    assert {s: len(parts[s]) for s in SPLITS} == split_sizes(len(whole), 0.15, 0.05)
    assert report["stats"]["characters"] == len(whole)


def test_no_test_split(tmp_path, text_settings, write_file):
    text = "x" * 50 + "y" * 50
    _, parts, _ = run(tmp_path, text_settings, write_file, text, validation_fraction=0.1, test_fraction=0.0)
    assert parts == {"train": text[:90], "validation": text[90:], "test": ""}


def test_preparing_again_replaces_the_outputs(tmp_path, text_settings, write_file):
    run(tmp_path, text_settings, write_file, "a" * 40)
    _, parts, output = run(tmp_path, text_settings, write_file, "b" * 20)
    assert parts == {"train": "b" * 16, "validation": "bb", "test": "bb"}
    assert leftovers(output) == []


# ------------------------------------------------------------------------------ errors


def test_wrong_sha256_names_the_file_and_writes_nothing(tmp_path, text_settings, write_file):
    path = write_file("corpus.txt", PLAIN_TEXT)
    output = tmp_path / "prepared"
    with pytest.raises(InputDataError) as caught:
        prepare_text_corpus(text_settings(path, sha256="0" * 64), output)
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value)
    assert hashlib.sha256(PLAIN_TEXT.encode()).hexdigest() in str(caught.value)
    assert not (output / "train.txt").exists()
    assert not (output / "split_report.json").exists()
    assert leftovers(output) == []


def test_right_sha256_is_verified(tmp_path, text_settings, write_file):
    digest = hashlib.sha256(PLAIN_TEXT.encode()).hexdigest()
    report, _, _ = run(tmp_path, text_settings, write_file, PLAIN_TEXT, sha256=digest)
    assert report["source"]["checksum_verified"] is True
    report, _, _ = run(tmp_path, text_settings, write_file, PLAIN_TEXT)
    assert report["source"]["checksum_verified"] is False
    assert report["source"]["sha256"] == digest


@pytest.mark.parametrize(
    "content",
    [b"", b"\n\n   \n\t\n", "\u00e9\u00e8\n\u00fc\n".encode()],
    ids=["empty", "blank-lines", "only-non-ascii"],
)
def test_nothing_left_after_cleaning_is_an_error(tmp_path, text_settings, write_file, content):
    path = write_file("corpus.txt", content)
    output = tmp_path / "prepared"
    with pytest.raises(InputDataError) as caught:
        prepare_text_corpus(text_settings(path), output)
    assert caught.value.path == str(path) and str(path) in str(caught.value)
    assert "no text left" in str(caught.value)
    assert not (output / "train.txt").exists()
    assert leftovers(output) == []


def test_undecodable_bytes_without_ascii_only_name_the_line(tmp_path, text_settings, write_file):
    content = b"first line\nsecond line\nthird \xff\xfe line\nfourth\n"
    path = write_file("corpus.txt", content)
    output = tmp_path / "prepared"
    with pytest.raises(InputDataError) as caught:
        prepare_text_corpus(text_settings(path, ascii_only=False), output)
    assert caught.value.line == 3
    assert caught.value.path == str(path)
    assert f"{path}, line 3" in str(caught.value)
    assert not (output / "train.txt").exists()
    assert leftovers(output) == []
    # with ascii_only (the default) the same bytes are dropped
    assert cleaned(tmp_path, text_settings, write_file, content) == "first line second line third  line fourth"


def test_latin1_dataset_encoding(tmp_path, text_settings, write_file):
    path = write_file("latin1.txt", "Caf\u00e9 cr\u00e8me\n".encode("latin-1"))
    output = tmp_path / "prepared"
    prepare_text_corpus(text_settings(path, ascii_only=False, encoding="latin-1"), output)
    assert "".join(read_split(output, s) for s in SPLITS) == "caf\u00e9 cr\u00e8me"


def test_too_little_text_for_a_validation_split(tmp_path, text_settings, write_file):
    path = write_file("tiny.txt", "abc\n")  # 3 characters: round(0.3) = 0 for validation
    with pytest.raises(InputDataError) as caught:
        prepare_text_corpus(text_settings(path), tmp_path / "prepared")
    assert str(path) in str(caught.value) and "validation split would be empty" in str(caught.value)
    assert not (tmp_path / "prepared" / "train.txt").exists()


def test_missing_file(tmp_path, text_settings):
    path = tmp_path / "absent.txt"
    with pytest.raises(InputDataError) as caught:
        prepare_text_corpus(text_settings(path), tmp_path / "prepared")
    assert str(path) in str(caught.value) and "does not exist" in str(caught.value)
