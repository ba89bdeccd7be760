"""The block-wise fast paths give what the line-by-line paths give: the reader's blocks and its lines,
clean_blocks and clean_lines (every switch, headers, CRLF, non-ASCII, blocks that end inside a
line or a character), and the vocabulary's ASCII byte path and its decoding path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hpcseq.data import source_files, vocabularies
from hpcseq.data.source_files import HashingLineReader
from hpcseq.data.text_corpus import CleaningOptions, CleaningStats, clean_blocks, clean_lines
from hpcseq.data.vocabularies import CharVocabulary, count_codepoints, encode_char_split
from hpcseq.errors import InputDataError

ODD = (
    b"\xef\xbb\xbf  First Line \r\n\r\n\tTwo\x0b \xc3\xa9t\xc3\xa9\r\r\n \n"
    b"START here\nA very long line that is longer than any block, with \xce\xa3 \xce\xa3A\xce\xa3 in it\n"
    b"  \xc2\xa0 \n\x1cend\xc2\x85\r\nlast \r"
)
BLOCKS = (3, 7, 16, 1 << 20)  # bytes read at a time: cut inside lines, CRLFs and characters (the BOM: whole)


def reference_lines(content: bytes) -> list[bytes]:
    """What the reader yields: lines split at \\n, one trailing \\r dropped, a leading BOM dropped."""
    content = content.removeprefix(source_files.BOM)
    lines = content.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return [line.removesuffix(b"\r") for line in lines]


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("content", [ODD, b"", b"\n", b"\r", b"a\r\nb\r\n", b"no newline at all", b"\r\n\r\n"])
def test_blocks_hold_the_lines_the_reader_yields(tmp_path, monkeypatch, block, content):
    monkeypatch.setattr(source_files, "READ_BLOCK", block)
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    reader = HashingLineReader(path)
    numbered = [
        (first + index, line)
        for first, data, count in reader.blocks()
        for index, line in enumerate(data.split(b"\n"))
        if index < count or pytest.fail("more lines than counted")
    ]
    assert numbered == list(enumerate(reference_lines(content), 1))
    assert list(HashingLineReader(path)) == numbered
    assert reader.bytes_read == len(content)


OPTION_SETS = [
    dict(zip(("strip_lines", "lowercase", "ascii_only", "drop_empty_lines"), switches, strict=True))
    for switches in itertools.product((True, False), repeat=4)
]


def cleaned_both_ways(path, options: CleaningOptions, encoding="utf-8"):
    """(text, stats) of clean_blocks and of clean_lines joined with join_with."""
    block_stats, line_stats = CleaningStats(), CleaningStats()
    by_blocks = "".join(clean_blocks(HashingLineReader(path), options, path, block_stats, encoding))
    by_lines = options.join_with.join(clean_lines(HashingLineReader(path), options, path, line_stats, encoding))
    return (by_blocks, block_stats), (by_lines, line_stats)


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("switches", OPTION_SETS)
def test_clean_blocks_cleans_as_clean_lines(tmp_path, monkeypatch, block, switches):
    monkeypatch.setattr(source_files, "READ_BLOCK", block)
    path = tmp_path / "corpus.txt"
    path.write_bytes(ODD * 3)
    for extra in ({}, {"join_with": "\u00b6X"}, {"skip_header_lines": 2}, {"start_after": "START"}):
        options = CleaningOptions(**switches, **extra)
        blocks, lines = cleaned_both_ways(path, options)
        assert blocks == lines, extra
    options = CleaningOptions(**switches, join_with="")
    assert cleaned_both_ways(path, options, encoding="latin-1")[0] == cleaned_both_ways(path, options, "latin-1")[1]


@pytest.mark.parametrize("block", (5, 1 << 20))
def test_clean_blocks_reports_an_undecodable_line_as_clean_lines_does(tmp_path, monkeypatch, block):
    monkeypatch.setattr(source_files, "READ_BLOCK", block)
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"fine\nalso fine\nbad \xff byte\nnever read\n")
    options = CleaningOptions(ascii_only=False)
    messages = []
    for clean in (clean_blocks, clean_lines):
        with pytest.raises(InputDataError) as error:
            "".join(clean(HashingLineReader(path), options, path, CleaningStats()))
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert "line 3" in messages[0]


def test_clean_blocks_without_the_start_marker_is_an_error(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"a\nb\n")
    with pytest.raises(InputDataError, match=r"no line matches preprocess\.start_after"):
        "".join(clean_blocks(HashingLineReader(path), CleaningOptions(start_after="X"), path, CleaningStats()))


TEXTS = {
    "ascii": "hello world\nthe quick brown fox " * 20,
    "non-ascii": "h\u00e9llo \u03a3 w\u00f6rld \U0001f600 " * 20,
    "mixed": "plain ascii for a while " * 10 + "then \u00e9\u00e9 " + "plain again " * 10,
}


@pytest.mark.parametrize("chunk", (1, 2, 7, 1 << 22))
@pytest.mark.parametrize("name", TEXTS)
def test_counts_and_ids_across_chunks_as_on_the_whole_text(tmp_path, monkeypatch, chunk, name):
    """Chunks cut inside multi-byte characters, and switch between the byte and the decoding path."""
    monkeypatch.setattr(vocabularies, "CHUNK_CHARS", chunk)
    text = TEXTS[name]
    path = tmp_path / "split.txt"
    path.write_bytes(text.encode("utf-8"))
    counts = count_codepoints(path)
    assert np.array_equal(np.trim_zeros(counts, "b"), np.bincount(vocabularies.codepoints(text)))
    for vocabulary in (
        CharVocabulary(sorted(set(text)), [1] * len(set(text))),
        CharVocabulary(sorted(set(text) - {"o", "\u00e9"}), [1] * len(set(text) - {"o", "\u00e9"}), unknown=True),
    ):
        length = encode_char_split(vocabulary, path, tmp_path / "ids")
        expected = vocabulary.encode_text(text).astype(vocabularies.id_dtype(vocabulary.size))
        assert length == len(text)
        assert (tmp_path / "ids").read_bytes() == expected.tobytes()


@pytest.mark.parametrize("chunk", (3, 1 << 22))
def test_characters_without_an_id_are_dropped_on_both_paths(tmp_path, monkeypatch, chunk):
    """unseen: skip leaves characters without an id (no unknown id): both paths drop them."""
    monkeypatch.setattr(vocabularies, "CHUNK_CHARS", chunk)
    text = TEXTS["mixed"]
    path = tmp_path / "split.txt"
    path.write_bytes(text.encode("utf-8"))
    known = sorted(set(text) - {"a", "\u00e9"})
    vocabulary = CharVocabulary(known, [1] * len(known))
    length = encode_char_split(vocabulary, path, tmp_path / "ids")
    kept = "".join(char for char in text if char in known)
    assert length == len(kept)
    assert (tmp_path / "ids").read_bytes() == vocabulary.encode_text(kept).astype(np.uint8).tobytes()
