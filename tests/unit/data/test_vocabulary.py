"""hpcseq.data.vocabulary: character and word vocabularies from the training split, encoding, id files."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from hpcseq.data import vocabulary as vocab
from hpcseq.data.vocabulary import (
    PAD,
    UNK,
    build_char_vocabulary,
    build_char_vocabulary_and_encode,
    build_vocabulary,
    build_word_vocabulary,
    char_split_length,
    encode_char_split,
    id_dtype,
    load_char_ids,
    load_sentences,
    load_vocabulary,
)
from hpcseq.errors import InputDataError
from tests.unit.conftest import leftovers

SPLITS = ("train", "validation", "test")


def write_prepared(directory, **texts):
    directory.mkdir(parents=True, exist_ok=True)
    for split, text in texts.items():
        (directory / f"{split}.txt").write_text(text, encoding="utf-8", newline="")
    return directory


def char_settings(policy="error"):
    return {
        "name": "chars",
        "model": "char_rnn",
        "task": "next_character",
        "vocabulary": {"unknown_characters": policy},
    }


# ------------------------------------------------------------------------------ characters


def test_char_vocabulary_in_code_point_order_with_training_counts(tmp_path):
    prepared = write_prepared(tmp_path / "p", train="hello world, caf\u00e9 \u20ac!", validation="hello", test="zzz")
    vocabulary = build_char_vocabulary(prepared / "train.txt")
    # worked out by hand: sorted by code point, counted in the training text only
    assert vocabulary.chars == [" ", "!", ",", "a", "c", "d", "e", "f", "h", "l", "o", "r", "w", "\u00e9", "\u20ac"]
    assert vocabulary.counts == [3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 2, 1, 1, 1, 1]
    assert "z" not in vocabulary.chars  # only the test split has it


def test_char_vocabulary_counts_across_chunks(tmp_path, monkeypatch):
    # small chunks exercise merging counts whose lengths differ from chunk to chunk
    monkeypatch.setattr(vocab, "CHUNK_CHARS", 4)
    text = "ab\u00e9aa~~ b\u4e2d\u00e9a\nzz\U0001f600a"
    prepared = write_prepared(tmp_path / "p", train=text)
    vocabulary = build_char_vocabulary(prepared / "train.txt")
    expected = sorted(Counter(text).items(), key=lambda item: ord(item[0]))
    assert list(zip(vocabulary.chars, vocabulary.counts, strict=True)) == expected


def test_empty_training_split_is_an_error(tmp_path):
    prepared = write_prepared(tmp_path / "p", train="")
    with pytest.raises(InputDataError) as caught:
        build_char_vocabulary(prepared / "train.txt")
    assert str(prepared / "train.txt") in str(caught.value)


def test_build_encode_and_load_round_trip(tmp_path):
    train, validation, test = "to be, or not to be: that is the question", "to be or", "not to be!"
    # "!" is missing from training: skip it
    prepared = write_prepared(tmp_path / "p", train=train, validation=validation, test=test.rstrip("!"))
    vocab_path, encoded = tmp_path / "vocab.json", tmp_path / "encoded"
    document = build_char_vocabulary_and_encode(char_settings(), prepared, vocab_path, encoded)

    chars = sorted(set(train))
    ids_of = {c: i for i, c in enumerate(chars)}
    assert document["size"] == len(chars)
    assert [e["token"] for e in document["entries"]] == chars
    assert [e["count"] for e in document["entries"]] == [train.count(c) for c in chars]
    assert document["encoded"]["dtype"] == "|u1"
    assert json.loads(vocab_path.read_text()) == document

    for split, text in (("train", train), ("validation", validation), ("test", test.rstrip("!"))):
        expected = np.array([ids_of[c] for c in text], dtype=np.uint8)
        assert char_split_length(encoded, split) == len(text)
        assert (encoded / f"{split}.ids").stat().st_size == len(text)  # one byte per id
        whole = load_char_ids(encoded, split)
        assert whole.dtype == np.uint8
        np.testing.assert_array_equal(whole, expected)
        for start, stop in ((0, 5), (3, 11), (len(text) - 4, len(text)), (2, None)):
            np.testing.assert_array_equal(load_char_ids(encoded, split, start, stop), expected[start:stop])

    loaded = load_vocabulary(vocab_path)
    assert loaded.chars == chars
    assert loaded.decode(load_char_ids(encoded, "train", 0, 12)) == train[:12]
    assert leftovers(encoded) == [] and leftovers(tmp_path) == []


def test_empty_split_loads_as_an_empty_array(tmp_path):
    prepared = write_prepared(tmp_path / "p", train="abcabc", validation="cab", test="")
    build_char_vocabulary_and_encode(char_settings(), prepared, tmp_path / "v.json", tmp_path / "e")
    ids = load_char_ids(tmp_path / "e", "test")
    assert ids.shape == (0,) and ids.dtype == np.uint8


def test_unknown_character_error_names_character_and_offset(tmp_path):
    prepared = write_prepared(tmp_path / "p", train="abc abc", validation="abc aXc X", test="abc")
    encoded = tmp_path / "encoded"
    with pytest.raises(InputDataError) as caught:
        build_char_vocabulary_and_encode(char_settings("error"), prepared, tmp_path / "vocab.json", encoded)
    message = str(caught.value)
    assert caught.value.path == str(prepared / "validation.txt")
    assert "'X' (U+0058) at character offset 5" in message
    assert "unknown_characters: skip" in message
    assert not (encoded / "validation.ids").exists()
    assert not (tmp_path / "vocab.json").exists()
    assert leftovers(encoded) == []


def test_unknown_character_offset_counts_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(vocab, "CHUNK_CHARS", 3)
    prepared = write_prepared(tmp_path / "p", train="ab", validation="abba\u00e9ab")
    vocabulary = build_char_vocabulary(prepared / "train.txt")
    destination = tmp_path / "validation.ids"
    with pytest.raises(InputDataError) as caught:
        encode_char_split(vocabulary, prepared / "validation.txt", destination, "error")
    assert "'\u00e9' (U+00E9) at character offset 4" in str(caught.value)
    assert not destination.exists()
    assert leftovers(tmp_path) == []


def test_unknown_characters_skip_drops_and_counts(tmp_path, monkeypatch):
    monkeypatch.setattr(vocab, "CHUNK_CHARS", 3)
    prepared = write_prepared(tmp_path / "p", train="ab", validation="aXbYYa\u00e9b")
    vocabulary = build_char_vocabulary(prepared / "train.txt")
    destination = tmp_path / "validation.ids"
    result = encode_char_split(vocabulary, prepared / "validation.txt", destination, "skip")
    assert result == {"length": 4, "unknown_characters_skipped": 4, "first_unknown": {"offset": 1, "char": "X"}}
    assert list(np.fromfile(destination, dtype=np.uint8)) == [0, 1, 0, 1]  # a b a b


def test_skip_policy_in_the_build_records_the_counts(tmp_path):
    prepared = write_prepared(tmp_path / "p", train="hello", validation="help!", test="hole")
    document = build_char_vocabulary_and_encode(char_settings("skip"), prepared, tmp_path / "v.json", tmp_path / "e")
    splits = document["encoded"]["splits"]
    assert splits["validation"]["length"] == 3 and splits["validation"]["unknown_characters_skipped"] == 2
    assert splits["validation"]["first_unknown"] == {"offset": 3, "char": "p"}
    assert splits["test"]["unknown_characters_skipped"] == 0 and splits["test"]["first_unknown"] is None
    index = json.loads((tmp_path / "e" / "index.json").read_text())
    assert index == document["encoded"]


@pytest.mark.parametrize(
    "size, dtype", [(1, np.uint8), (256, np.uint8), (257, np.uint16), (65536, np.uint16), (65537, np.uint32)]
)
def test_id_dtype(size, dtype):
    assert id_dtype(size) == np.dtype(dtype)


def test_more_than_256_characters_use_two_byte_ids(tmp_path):
    chars = "".join(chr(0x100 + i) for i in range(300))
    prepared = write_prepared(tmp_path / "p", train=chars, validation=chars[::-1], test=chars[:7])
    document = build_char_vocabulary_and_encode(char_settings(), prepared, tmp_path / "v.json", tmp_path / "e")
    assert document["size"] == 300 and document["encoded"]["dtype"] == "<u2"
    ids = load_char_ids(tmp_path / "e", "validation")
    assert ids.dtype == np.uint16
    np.testing.assert_array_equal(ids, np.arange(299, -1, -1))
    assert (tmp_path / "e" / "validation.ids").stat().st_size == 600


def test_exactly_256_characters_fit_in_uint8(tmp_path):
    chars = "".join(chr(0x20 + i) for i in range(256))
    prepared = write_prepared(tmp_path / "p", train=chars, validation=chars[-3:], test=chars[:2])
    document = build_char_vocabulary_and_encode(char_settings(), prepared, tmp_path / "v.json", tmp_path / "e")
    assert document["encoded"]["dtype"] == "|u1"
    np.testing.assert_array_equal(load_char_ids(tmp_path / "e", "validation"), [253, 254, 255])


def test_encode_text_names_the_first_unknown_character():
    vocabulary = vocab.CharVocabulary(["a", "b"], [1, 1])
    np.testing.assert_array_equal(vocabulary.encode_text("abba"), [0, 1, 1, 0])
    with pytest.raises(ValueError, match=r"'c' \(U\+0063\) at position 2"):
        vocabulary.encode_text("abcz")


# ------------------------------------------------------------------------------ words

TOKENS = [
    ["the", "cat", "sat", "on", "the", "mat"],
    ["the", "dog", "sat"],
    ["a", "cat", "and", "a", "dog"],
]
# counts: the 3, cat 2, sat 2, dog 2, a 2, on 1, mat 1, and 1


def test_word_vocabulary_ranked_by_frequency_then_alphabetically():
    vocabulary = build_word_vocabulary(TOKENS, max_words=100)
    assert vocabulary.words == ["<pad>", "<unk>", "the", "a", "cat", "dog", "sat", "and", "mat", "on"]
    assert vocabulary.counts == [0, 0, 3, 2, 2, 2, 2, 1, 1, 1]
    assert vocabulary.total_distinct == 8
    assert PAD == 0 and UNK == 1


def test_word_vocabulary_max_words_and_min_count():
    top = build_word_vocabulary(TOKENS, max_words=3)
    assert top.words == ["<pad>", "<unk>", "the", "a", "cat"]
    assert top.counts == [0, 14 - 7, 3, 2, 2]  # 14 tokens, 7 of them kept
    frequent = build_word_vocabulary(TOKENS, max_words=100, min_count=2)
    assert frequent.words == ["<pad>", "<unk>", "the", "a", "cat", "dog", "sat"]
    assert frequent.counts[UNK] == 3


def test_unknown_words_encode_as_unk():
    vocabulary = build_word_vocabulary(TOKENS, max_words=3)
    assert vocabulary.encode(["the", "dog", "cat", "zebra", "a"]) == [2, UNK, 4, UNK, 3]


def test_word_vocabulary_build_and_encode_files(tmp_path):
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "train.tsv").write_text("".join(f"{i % 2}\t{' '.join(t)}\n" for i, t in enumerate(TOKENS)))
    (prepared / "validation.tsv").write_text("1\tthe zebra sat\n")
    (prepared / "test.tsv").write_text("0\ta mat\n1\tunknown words only\n")
    settings = {
        "name": "words",
        "model": "sentiment_lstm",
        "task": "sequence_classification",
        "vocabulary": {"max_words": 4, "min_count": 1},
    }
    document = build_vocabulary(settings, prepared, tmp_path / "vocab.json", tmp_path / "encoded")
    # kept: the, a, cat, dog -> ids 2..5
    assert [e["token"] for e in document["entries"]] == ["<pad>", "<unk>", "the", "a", "cat", "dog"]
    assert document["pad_id"] == 0 and document["unk_id"] == 1

    ids, offsets, labels = load_sentences(tmp_path / "encoded", "train")
    assert ids.dtype == np.uint8
    assert list(offsets) == [0, 6, 9, 14]
    assert list(ids[0:6]) == [2, 4, UNK, UNK, 2, UNK]
    assert list(ids[9:14]) == [3, 4, UNK, 3, 5]
    assert list(labels) == [0, 1, 0]

    ids, offsets, labels = load_sentences(tmp_path / "encoded", "test")
    assert list(ids) == [3, UNK, UNK, UNK, UNK] and list(offsets) == [0, 2, 5] and list(labels) == [0, 1]
    assert document["encoded"]["splits"]["test"] == {"sentences": 2, "tokens": 5, "unknown_tokens": 4}
    assert document["encoded"]["splits"]["validation"]["unknown_tokens"] == 2

    loaded = load_vocabulary(tmp_path / "vocab.json")
    assert loaded.words == ["<pad>", "<unk>", "the", "a", "cat", "dog"]
    assert loaded.total_distinct == 8
