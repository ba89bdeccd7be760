"""hpcseq.data.labelled_sentences: parsing with file/line errors, tokenising, random and grouped splits,
prepared files."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter

import pytest

from hpcseq.data.labelled_sentences import (
    Example,
    grouped_split,
    overlap,
    parse_line,
    prepare_sentences,
    random_split,
    read_examples,
    read_prepared,
    tokenize,
)
from hpcseq.errors import InputDataError
from tests.unit.conftest import SENTENCES, leftovers

SPLITS = ("train", "validation", "test")

# SENTENCES tokenised by hand (lowercase, words with inner apostrophes, punctuation as tokens)
HAND_TOKENS = [
    "the da vinci code book is just awesome .",
    "i hate harry potter , it's stupid !",
    "i've loved brokeback mountain .",
    "mission impossible 3 sucked .",
    "harry potter is awesome ! !",
    "don't watch da vinci code , it sucks .",
]

GOOD = b"1\tThe movie was great.\n0\tThe movie was bad.\n"


def examples_from(keys_and_counts, seed=0) -> list[Example]:
    """Examples with the given token keys repeated; shuffled deterministically; line numbers 1..n."""
    keys = [key for key, count in keys_and_counts for _ in range(count)]
    random.Random(seed).shuffle(keys)
    return [Example(line=i + 1, label=len(key) % 2, tokens=tuple(key.split())) for i, key in enumerate(keys)]


# ------------------------------------------------------------------------------ parsing


def test_parse_line_returns_label_and_stripped_sentence():
    assert parse_line(b"1\tI love it ") == (1, "I love it")
    assert parse_line(b" 0 \t  meh\t tabs inside") == (0, "meh\t tabs inside")


@pytest.mark.parametrize(
    "bad, fragment, options",
    [
        (b"1 no tab here", "no tab between label and sentence", {}),
        (b"2\tlabel two", "label '2' is not 0 or 1", {}),
        (b"pos\tlabel word", "label 'pos' is not 0 or 1", {}),
        (b"1\t   ", "empty sentence", {}),
        (b"1\tcaf\xe9 au lait", "cannot decode as utf-8 at byte 5", {}),
        (b"", "empty line", {}),
        (b"   \t ", "empty line", {}),
        (b"1\t!!! ...", "has no tokens", {"tokenizer": "words"}),
    ],
    ids=["no-tab", "label-2", "label-word", "empty-sentence", "undecodable", "blank", "whitespace", "no-tokens"],
)
def test_bad_line_names_file_and_line(write_file, bad, fragment, options):
    path = write_file("data.tsv", GOOD + bad + b"\n1\tFine again.\n")
    with pytest.raises(InputDataError) as caught:
        read_examples(path, {"on_bad_line": "error", **options})
    error = caught.value
    assert error.line == 3
    assert error.path == str(path)
    assert str(error).startswith(f"{path}, line 3: ")
    assert fragment in str(error)
    assert "on_bad_line: skip" in str(error)


def test_skip_drops_and_counts_bad_lines(write_file):
    content = (
        b"1\tGood one.\n"  # 1
        b"no tab\n"  # 2 bad
        b"0\tBad film.\n"  # 3
        b"7\tseven\n"  # 4 bad
        b"\n"  # 5 bad
        b"1\tcaf\xe9\n"  # 6 bad
        b"0\t  \n"  # 7 bad
        b"1\tLovely!\n"
    )  # 8
    path = write_file("data.tsv", content)
    examples, info = read_examples(path, {"on_bad_line": "skip"})
    assert [(e.line, e.label, e.tokens) for e in examples] == [
        (1, 1, ("good", "one", ".")),
        (3, 0, ("bad", "film", ".")),
        (8, 1, ("lovely", "!")),
    ]
    assert info["bad_lines_skipped"] == 5
    assert [bad["line"] for bad in info["bad_lines_first"]] == [2, 4, 5, 6, 7]
    assert "no tab" in info["bad_lines_first"][0]["problem"]
    assert info["lines_read"] == 8 and info["examples"] == 3
    assert info["sha256"] == hashlib.sha256(content).hexdigest()


def test_only_the_first_bad_lines_are_listed(write_file):
    content = b"1\tok\n" + b"broken\n" * 30
    examples, info = read_examples(write_file("data.tsv", content), {"on_bad_line": "skip"})
    assert len(examples) == 1
    assert info["bad_lines_skipped"] == 30
    assert [bad["line"] for bad in info["bad_lines_first"]] == list(range(2, 22))


def test_all_lines_bad_is_an_error_even_when_skipping(write_file):
    path = write_file("data.tsv", b"a\nb\n")
    with pytest.raises(InputDataError) as caught:
        read_examples(path, {"on_bad_line": "skip"})
    assert str(path) in str(caught.value) and "2 malformed" in str(caught.value)


def test_bom_and_crlf_parse_like_the_plain_file(write_file):
    plain = "1\tI've loved it!\n0\tDon't go.\n1\tNaïve but fun\n"
    variants = [
        plain.encode(),
        b"\xef\xbb\xbf" + plain.encode(),
        plain.replace("\n", "\r\n").encode(),
        b"\xef\xbb\xbf" + plain.rstrip("\n").replace("\n", "\r\n").encode(),
    ]
    results = [read_examples(write_file(f"v{i}.tsv", content), {})[0] for i, content in enumerate(variants)]
    assert [(e.label, e.key) for e in results[0]] == [(1, "i've loved it !"), (0, "don't go ."), (1, "naïve but fun")]
    for result in results[1:]:
        assert result == results[0]


def test_crlf_without_final_newline(write_file):
    examples, _ = read_examples(write_file("d.tsv", b"1\tyes\r\n0\tno"), {})
    assert [(e.line, e.label, e.key) for e in examples] == [(1, 1, "yes"), (2, 0, "no")]


def test_max_lines_reads_a_subset_and_checks_the_whole_file(write_file):
    content = b"".join(f"{i % 2}\tsentence number {i}\n".encode() for i in range(100))
    digest = hashlib.sha256(content).hexdigest()
    path = write_file("d.tsv", content)
    examples, info = read_examples(path, {"max_lines": 5}, expected_sha256=digest)
    assert [e.key for e in examples] == [f"sentence number {i}" for i in range(5)]
    assert info["subset"] == "first 5 lines"
    assert info["sha256"] == digest and info["checksum_verified"] is True
    with pytest.raises(InputDataError) as caught:
        read_examples(path, {"max_lines": 5}, expected_sha256="f" * 64)
    assert str(path) in str(caught.value) and "sha256" in str(caught.value)


# ------------------------------------------------------------------------------ tokenising


def test_tokenize_keeps_contractions_and_punctuation():
    sentence = "I've got it, don't you?! Rock'n'roll..."
    assert tokenize(sentence) == ["i've", "got", "it", ",", "don't", "you", "?", "!", "rock'n'roll", ".", ".", "."]
    assert tokenize(sentence, "words") == ["i've", "got", "it", "don't", "you", "rock'n'roll"]
    assert tokenize(sentence, "words", lowercase=False) == ["I've", "got", "it", "don't", "you", "Rock'n'roll"]


def test_tokenize_sentences_by_hand():
    for (_, sentence), expected in zip(SENTENCES, HAND_TOKENS, strict=True):
        assert " ".join(tokenize(sentence)) == expected


# ------------------------------------------------------------------------------ splits


def _check_partition(parts, examples):
    lines = [e.line for split in SPLITS for e in parts[split]]
    assert sorted(lines) == [e.line for e in examples]  # every example exactly once
    for split in SPLITS:
        assert [e.line for e in parts[split]] == sorted(e.line for e in parts[split])  # file order kept


def test_random_split_sizes_and_determinism():
    examples = [Example(line=i + 1, label=i % 2, tokens=(f"w{i}",)) for i in range(50)]
    parts = random_split(examples, 0.1, 0.2, seed=42)
    assert {s: len(parts[s]) for s in SPLITS} == {"train": 35, "validation": 5, "test": 10}
    _check_partition(parts, examples)
    assert random_split(examples, 0.1, 0.2, seed=42) == parts
    other = random_split(examples, 0.1, 0.2, seed=7)
    assert other["test"] != parts["test"]
    assert {s: len(other[s]) for s in SPLITS} == {"train": 35, "validation": 5, "test": 10}


def test_random_split_leaks_duplicates_into_test():
    # five sentences, twenty copies each: the lecture's random split puts copies of every test
    # sentence into training as well (for seed 42 no sentence has all copies outside training)
    examples = examples_from([(f"sentence {i}", 20) for i in range(5)])
    parts = random_split(examples, 0.1, 0.2, seed=42)
    numbers = overlap(parts["train"], parts["test"])
    assert numbers["test_sentences"] == 20
    assert numbers["test_sentences_also_in_train"] == 20


def test_grouped_split_never_shares_a_sentence_between_splits():
    groups = [(f"sentence number {i}", i + 1) for i in range(12)]  # 78 examples, groups of 1..12
    examples = examples_from(groups, seed=3)
    for seed in range(10):
        parts = grouped_split(examples, 0.1, 0.2, seed=seed)
        _check_partition(parts, examples)
        keys = {split: {e.key for e in parts[split]} for split in SPLITS}
        assert not keys["train"] & keys["test"]
        assert not keys["train"] & keys["validation"]
        assert not keys["validation"] & keys["test"]
        # whole groups: every copy of a key sits in its split
        counts = Counter(e.key for e in examples)
        for split in SPLITS:
            for key in keys[split]:
                assert sum(e.key == key for e in parts[split]) == counts[key]
        # test is filled until it reaches round(78 * 0.2) = 16 lines, overshooting by less than a group
        assert 16 <= len(parts["test"]) < 16 + 12
        assert 8 <= len(parts["validation"]) < 8 + 12
        assert overlap(parts["train"], parts["test"])["test_sentences_also_in_train"] == 0


def test_grouped_split_is_deterministic_and_depends_on_the_seed():
    examples = examples_from([(f"s{i}", 1 + i % 4) for i in range(30)])
    first = grouped_split(examples, 0.1, 0.2, seed=42)
    assert grouped_split(examples, 0.1, 0.2, seed=42) == first
    # the same examples in another order give the same groups in the same splits
    shuffled = sorted(examples, key=lambda e: e.key)
    again = grouped_split(shuffled, 0.1, 0.2, seed=42)
    assert {s: sorted(e.line for e in again[s]) for s in SPLITS} == {s: [e.line for e in first[s]] for s in SPLITS}
    assert any(grouped_split(examples, 0.1, 0.2, seed=s)["test"] != first["test"] for s in range(1, 6))


def test_overlap_counts():
    def ex(key):
        return Example(line=0, label=0, tokens=tuple(key.split()))

    train = [ex("a b"), ex("c"), ex("a b")]
    test = [ex("a b"), ex("a b"), ex("d"), ex("c"), ex("e f")]
    assert overlap(train, test) == {
        "test_sentences": 5,
        "test_sentences_also_in_train": 3,
        "test_distinct": 4,
        "test_distinct_also_in_train": 2,
    }
    assert overlap([], test)["test_sentences_also_in_train"] == 0


# ------------------------------------------------------------------------------ prepare_sentences


def _read_tsv(path):
    return [tuple(line.split("\t")) for line in path.read_text(encoding="utf-8").splitlines()]


def _overlap_from_files(output):
    train = {tokens for _, tokens in _read_tsv(output / "train.tsv")}
    test = [tokens for _, tokens in _read_tsv(output / "test.tsv")]
    shared = [t for t in test if t in train]
    return {
        "test_sentences": len(test),
        "test_sentences_also_in_train": len(shared),
        "test_distinct": len(set(test)),
        "test_distinct_also_in_train": len(set(shared)),
    }


def test_prepare_sentences_writes_splits_and_report(tmp_path, sentence_file, sentence_settings):
    expected_lines = Counter()
    for raw in sentence_file.read_text(encoding="utf-8").splitlines():
        label, sentence = raw.split("\t")
        expected_lines[(label, HAND_TOKENS[[s for _, s in SENTENCES].index(sentence)])] += 1
    assert sum(expected_lines.values()) == 18

    reports = {}
    for method in ("grouped", "random"):
        output = tmp_path / method
        report = prepare_sentences(sentence_settings(sentence_file, split=method), output)
        reports[method] = report
        assert sorted(p.name for p in output.iterdir()) == [
            "split_report.json",
            "test.tsv",
            "train.tsv",
            "validation.tsv",
        ]
        assert json.loads((output / "split_report.json").read_text()) == report
        rows = {split: _read_tsv(output / f"{split}.tsv") for split in SPLITS}
        assert Counter(row for split in SPLITS for row in rows[split]) == expected_lines
        for split in SPLITS:
            labels = Counter(label for label, _ in rows[split])
            assert report["sizes"][split] == {
                "sentences": len(rows[split]),
                "distinct": len({tokens for _, tokens in rows[split]}),
                "positive": labels["1"],
                "negative": labels["0"],
            }
        assert report["split"] == method
        assert report["overlap"][method] == _overlap_from_files(output)
        assert report["source"]["examples"] == 18 and report["source"]["bad_lines_skipped"] == 0
        assert report["kind"] == "labelled_sentences"
        # read_prepared gives the same labels and tokens
        labels, token_lists = read_prepared(output / "train.tsv")
        assert [(str(label), " ".join(tokens)) for label, tokens in zip(labels, token_lists, strict=True)] == rows[
            "train"
        ]

    # both reports carry the overlap of both methods, and they agree with each other
    assert set(reports["grouped"]["overlap"]) == {"grouped", "random"}
    assert reports["grouped"]["overlap"] == reports["random"]["overlap"]
    assert reports["grouped"]["overlap"]["grouped"]["test_sentences_also_in_train"] == 0
    assert reports["grouped"]["sizes"]["test"]["sentences"] >= 4  # round(18 * 0.2)
    assert reports["random"]["sizes"]["test"]["sentences"] == 4
    assert reports["random"]["sizes"]["validation"]["sentences"] == 2  # round(18 * 0.1)


def test_prepare_sentences_with_no_training_data_writes_nothing(tmp_path, write_file, sentence_settings):
    path = write_file("same.tsv", b"1\tthe same sentence\n" * 10)
    output = tmp_path / "prepared"
    with pytest.raises(InputDataError) as caught:
        prepare_sentences(sentence_settings(path, split="grouped"), output)
    assert str(path) in str(caught.value) and "split would be empty" in str(caught.value)
    assert not (output / "train.tsv").exists()
    assert not output.exists() or leftovers(output) == []


def test_prepare_sentences_bad_line_error(tmp_path, write_file, sentence_settings):
    path = write_file("bad.tsv", GOOD + b"1 missing tab\n")
    with pytest.raises(InputDataError) as caught:
        prepare_sentences(sentence_settings(path), tmp_path / "prepared")
    assert caught.value.line == 3 and f"{path}, line 3" in str(caught.value)
    assert not (tmp_path / "prepared" / "train.tsv").exists()


def test_read_prepared_rejects_a_raw_file(write_file):
    path = write_file("raw.tsv", "1\tgood\nlabel\tnot prepared\n")
    with pytest.raises(InputDataError) as caught:
        read_prepared(path)
    assert caught.value.line == 2 and str(path) in str(caught.value)
