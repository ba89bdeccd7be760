"""hpcseq.data.vocabulary: character and word vocabularies from the training split, encoding, id files."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from hpcseq import config as config_module
from hpcseq.data import vocabularies
from hpcseq.data import vocabulary as vocab
from hpcseq.data.text_corpus import prepare_text_corpus
from hpcseq.data.vocabulary import (
    PAD,
    UNK,
    build_char_vocabulary,
    build_char_vocabulary_and_encode,
    build_vocabulary,
    build_word_vocabulary,
    char_split_length,
    id_dtype,
    load_char_ids,
    load_sentences,
    load_vocabulary,
    unseen_summary,
)
from hpcseq.errors import InputDataError
from hpcseq.paths import ExperimentPaths
from tests.conftest import run_directory
from tests.unit.conftest import leftovers

SPLITS = ("train", "validation", "test")


def write_prepared(directory, **texts):
    directory.mkdir(parents=True, exist_ok=True)
    for split, text in texts.items():
        (directory / f"{split}.txt").write_text(text, encoding="utf-8", newline="")
    return directory


def char_settings(policy="unknown"):
    return {"name": "chars", "model": "char_rnn", "task": "next_character", "vocabulary": {"unseen": policy}}


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
    monkeypatch.setattr(vocabularies, "CHUNK_CHARS", 4)
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
    # "!" is missing from training: left out, so that no unknown id is needed
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


def test_refuse_names_the_split_the_character_its_count_and_the_key(tmp_path):
    prepared = write_prepared(tmp_path / "p", train="abc abc", validation="abc aXc X", test="abc")
    encoded = tmp_path / "encoded"
    with pytest.raises(InputDataError) as caught:
        build_char_vocabulary_and_encode(char_settings("refuse"), prepared, tmp_path / "vocab.json", encoded)
    message = str(caught.value)
    assert caught.value.path == str(prepared / "validation.txt")
    assert "character 'X' (U+0058, first at character offset 5) occurs 2 time(s) in the validation split" in message
    assert "set vocabulary.unseen: unknown (the default)" in message
    assert not encoded.exists() and not (tmp_path / "vocab.json").exists()  # refused before writing anything


def test_refuse_offset_counts_across_chunks_and_names_the_other_unseen_characters(tmp_path, monkeypatch):
    monkeypatch.setattr(vocabularies, "CHUNK_CHARS", 3)
    prepared = write_prepared(tmp_path / "p", train="ab", validation="ab", test="abba\u00e9ab\u00e9z")
    with pytest.raises(InputDataError) as caught:
        build_char_vocabulary_and_encode(char_settings("refuse"), prepared, tmp_path / "v.json", tmp_path / "e")
    message = str(caught.value)
    assert "'\u00e9' (U+00E9, first at character offset 4) occurs 2 time(s) in the test split" in message
    assert "1 other unseen character(s) occur 1 time(s)" in message


def test_skip_drops_unseen_characters_and_counts_them(tmp_path, monkeypatch):
    monkeypatch.setattr(vocabularies, "CHUNK_CHARS", 3)
    prepared = write_prepared(tmp_path / "p", train="ab", validation="aXbYYa\u00e9b", test="ab")
    document = build_char_vocabulary_and_encode(char_settings("skip"), prepared, tmp_path / "v.json", tmp_path / "e")
    validation = document["encoded"]["splits"]["validation"]
    assert validation == {"length": 4, "unseen": 4, "unseen_characters": {"X": 1, "Y": 2, "\u00e9": 1}}
    assert document["unk_id"] is None and document["size"] == 2
    assert list(np.fromfile(tmp_path / "e" / "validation.ids", dtype=np.uint8)) == [0, 1, 0, 1]  # a b a b
    assert "dropped (vocabulary.unseen: skip)" in unseen_summary(document)


# ------------------------------------------------------------------ the unknown id (the default)

# A test part with a backtick that its training part lacks, as a new user's corpus has.
BACKTICK_SPLITS = {"train": "it is what it is, said the cat.", "validation": "what is it?", "test": "it is `cat`."}


def test_default_maps_unseen_characters_to_an_unknown_id_after_the_training_characters(tmp_path):
    prepared = write_prepared(tmp_path / "p", **BACKTICK_SPLITS)
    document = build_vocabulary(char_settings(), prepared, tmp_path / "vocab.json", tmp_path / "e")
    train_chars = sorted(set(BACKTICK_SPLITS["train"]))
    unk = len(train_chars)  # after the training characters: their ids are those of a vocabulary without it
    assert document["settings"] == {"unseen": "unknown"}
    assert document["size"] == unk + 1 and document["unk_id"] == unk
    assert document["entries"][-1] == {"id": unk, "token": "<unk>", "codepoint": None, "count": 0}
    assert [e["token"] for e in document["entries"][:-1]] == train_chars
    splits = document["encoded"]["splits"]
    # "?" is unseen in validation, "`" twice in test; training never has an unseen character
    assert {split: (r["unseen"], r["unseen_characters"]) for split, r in splits.items()} == {
        "train": (0, {}),
        "validation": (1, {"?": 1}),
        "test": (2, {"`": 2}),
    }
    ids = load_char_ids(tmp_path / "e", "test")
    assert len(ids) == len(BACKTICK_SPLITS["test"]) and list(ids == unk).count(True) == 2
    loaded = load_vocabulary(tmp_path / "vocab.json")
    assert loaded.chars == train_chars and loaded.unk_id == unk and loaded.size == unk + 1
    assert loaded.id_counts[-1] == 0
    assert loaded.decode(ids) == "it is \ufffdcat\ufffd."  # the marker stands for the unknown id
    np.testing.assert_array_equal(loaded.encode_text("`it"), [unk, *loaded.encode_text("it")])
    assert unseen_summary(document) == (
        "characters unseen in training: validation 1, test 2 ('`' 2x, '?' 1x): encoded as the unknown id <unk> "
        f"(id {unk}) (vocabulary.unseen: unknown)"
    )


def test_no_unknown_id_where_no_split_needs_one(tmp_path):
    prepared = write_prepared(tmp_path / "p", train="abcabc", validation="cab", test="bca")
    document = build_char_vocabulary_and_encode(char_settings(), prepared, tmp_path / "v.json", tmp_path / "e")
    assert document["size"] == 3 and document["unk_id"] is None
    assert [e["token"] for e in document["entries"]] == ["a", "b", "c"]
    assert load_vocabulary(tmp_path / "v.json").unk_id is None
    assert unseen_summary(document) == "characters unseen in training: none; no unknown id added"


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


def write_sentences(directory, validation: str, test: str):
    """Prepared sentence splits: TOKENS as training, labels alternating; `validation`, `test` as given."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "train.tsv").write_text("".join(f"{i % 2}\t{' '.join(t)}\n" for i, t in enumerate(TOKENS)))
    (directory / "validation.tsv").write_text(validation)
    (directory / "test.tsv").write_text(test)
    return directory


def test_word_vocabulary_build_and_encode_files(tmp_path):
    prepared = write_sentences(tmp_path / "prepared", "1\tthe zebra sat\n", "0\ta mat\n1\tunknown words only\n")
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
    # "mat" is a training word beyond max_words: UNK but not unseen; the other three never occur in training
    assert document["encoded"]["splits"]["test"] == {
        "sentences": 2,
        "tokens": 5,
        "unknown_tokens": 4,
        "unseen": 3,
        "unseen_words": {"only": 1, "unknown": 1, "words": 1},
    }
    assert document["encoded"]["splits"]["validation"]["unknown_tokens"] == 2
    assert document["encoded"]["splits"]["validation"]["unseen"] == 1
    assert unseen_summary(document) == (
        "words unseen in training: validation 1, test 3 ('only' 1x, 'unknown' 1x, 'words' 1x, 'zebra' 1x): "
        "encoded as the unknown id <unk> (id 1) (vocabulary.unseen: unknown)"
    )

    loaded = load_vocabulary(tmp_path / "vocab.json")
    assert loaded.words == ["<pad>", "<unk>", "the", "a", "cat", "dog"]
    assert loaded.total_distinct == 8


def test_words_refuse_names_the_split_the_word_its_count_and_the_key(tmp_path):
    prepared = write_sentences(tmp_path / "prepared", "1\tthe cat sat\n", "0\ta zebra\n1\tzebra and gnu\n")
    vocabulary = {"max_words": 4, "min_count": 1, "unseen": "refuse"}
    settings = {"name": "w", "model": "sentiment_lstm", "task": "sequence_classification", "vocabulary": vocabulary}
    with pytest.raises(InputDataError) as caught:
        build_vocabulary(settings, prepared, tmp_path / "vocab.json", tmp_path / "encoded")
    assert caught.value.path == str(prepared / "test.tsv")
    message = str(caught.value)
    assert "word 'zebra' occurs 2 time(s) in the test split but never in the training split" in message
    assert "1 other unseen word(s) occur 1 time(s)" in message and "set vocabulary.unseen: unknown" in message
    assert not (tmp_path / "vocab.json").exists() and not (tmp_path / "encoded").exists()


# ------------------------------------------------------------ Shakespeare: as it was, bit for bit

GOLDEN = Path(__file__).parent / "golden"
# sha256 of what the code before unseen characters got an unknown id (commit 980c3a9) wrote for the
# shipped shakespeare_char_rnn, run in a directory of its own as `make run` runs it
BEFORE = {
    "quick": {
        "train.ids": "d2067675d334deb7752872c25a8c89ea43560138b3540bc544b9459e8f71b37d",
        "validation.ids": "512c3e5122be9d3062655af9f320b18635db96b4b8b53dd8ed9b63ea496efd5f",
        "test.ids": "8a84af0e923dc3ad18ce1ff95baf0a0816f276ecab76739fcd908d423b85ac7e",
        "vocab.json": "fb4375adac1da40c5983a75fc8b638a0c4bee7bfa8d2c2003696521fd30bbd23",
    },
    "lecture": {
        "train.ids": "dbae711967af7b9dd6c0e6fb8fc3da0b8a394f29f2e4c8ae26eb04332bdd78d7",
        "validation.ids": "8a84af0e923dc3ad18ce1ff95baf0a0816f276ecab76739fcd908d423b85ac7e",
        "test.ids": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "vocab.json": "0dd077b61cde6ee5786cc03c1123e40676187553c09ce91d60116378cf7a0ba1",
    },
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def as_before(document: dict) -> bytes:
    """The vocabulary file in the layout of before: the setting under its old name and value, and
    no unseen counts (all of Shakespeare's are 0), written as write_json writes."""
    old = {key: value for key, value in document.items() if key != "unk_id"}
    old["settings"] = {"unknown_characters": "error"}
    for split, record in old["encoded"]["splits"].items():
        assert record["unseen"] == 0, split
        old["encoded"]["splits"][split] = {
            "length": record["length"],
            "unknown_characters_skipped": 0,
            "first_unknown": None,
        }
    return (json.dumps(old, indent=2) + "\n").encode()


@pytest.mark.parametrize("preset", ["quick", "lecture"])
def test_shakespeare_gets_no_unknown_id_and_the_same_vocabulary_file(preset, tmp_path, monkeypatch):
    """The shipped experiment's vocabulary file equals its golden copy byte for byte; its ids are
    those of before this option existed, and so is the file, apart from the setting and the count
    fields of the new layout (the file records the setting, whose name and default changed)."""
    monkeypatch.chdir(run_directory(tmp_path / "run"))  # data/ and config/ as `make run` sees them
    config = config_module.load_config("config/config.yaml", {"preset": preset})
    settings = config_module.experiment_settings(config, "shakespeare_char_rnn")
    paths = ExperimentPaths.of("results", settings["name"])
    prepare_text_corpus(settings, paths.prepared)
    document = build_vocabulary(
        config_module.stage_settings(settings, "vocabulary"), paths.prepared, paths.vocab, paths.encoded
    )
    assert document["unk_id"] is None and document["size"] == 38
    written = paths.vocab.read_bytes()
    assert written == (GOLDEN / f"shakespeare_char_rnn.{preset}.vocab.json").read_bytes()
    for split in SPLITS:
        assert sha256(paths.encoded_split(split, "next_character").read_bytes()) == BEFORE[preset][f"{split}.ids"]
    assert sha256(as_before(json.loads(written))) == BEFORE[preset]["vocab.json"]
