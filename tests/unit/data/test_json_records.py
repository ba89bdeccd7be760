"""hpcseq.data.json_records: the sarcasm headlines in both published forms, bad records named by
file and line, and their prepared splits.

The real file (Sarcasm_Headlines_Dataset.json, 28,619 records) cannot be downloaded here (no
internet on the test machines): these files copy its exact form, one JSON object per line with
`article_link`, `headline`, `is_sarcastic`, and the course's sarcasm.json form (one JSON array).
"""

from __future__ import annotations

import json

import pytest

from hpcseq.data.json_records import read_records
from hpcseq.data.labelled_sentences import prepare_sentences, read_prepared
from hpcseq.errors import InputDataError
from tests.unit.conftest import leftovers, resolved_settings

# the first records of the authors' file, as they are written there
RECORDS = [
    {
        "article_link": "https://www.huffingtonpost.com/entry/versace-black-code_us_5861fbefe4b0de3a08f600d5",
        "headline": "former versace store clerk sues over secret 'black code' for minority shoppers",
        "is_sarcastic": 0,
    },
    {
        "article_link": "https://www.huffingtonpost.com/entry/roseanne-revival-review_us_5ab3a497e4b054d118e04365",
        "headline": "the 'roseanne' revival catches up to our thorny political mood, for better and worse",
        "is_sarcastic": 0,
    },
    {
        "article_link": "https://local.theonion.com/mom-starting-to-fear-son-s-web-series-closest-thing-she-1819576697",
        "headline": "mom starting to fear son's web series closest thing she will have to grandchild",
        "is_sarcastic": 1,
    },
    {
        "article_link": "https://politics.theonion.com/boehner-just-wants-wife-to-listen-not-come-up-with-alt-1819574302",
        "headline": "boehner just wants wife to listen, not come up with alternative debt-reduction ideas",
        "is_sarcastic": 1,
    },
]


def json_lines(records) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def dataset(path, **fields) -> dict:
    return {"format": "json_records", "path": str(path), **fields}


def test_both_forms_give_the_same_examples(write_file):
    lines = write_file("Sarcasm_Headlines_Dataset.json", json_lines(RECORDS))
    array = write_file("sarcasm.json", json.dumps(RECORDS, indent=4))  # the course's copy: one array
    from_lines, info_lines = read_records(dataset(lines), {"tokenizer": "words"})
    from_array, info_array = read_records(dataset(array), {"tokenizer": "words"})
    assert [(e.label, e.tokens) for e in from_lines] == [(e.label, e.tokens) for e in from_array]
    assert [e.label for e in from_lines] == [0, 0, 1, 1]
    headline = "mom starting to fear son's web series closest thing she will have to grandchild"
    assert " ".join(from_lines[2].tokens) == headline
    assert info_lines["form"] == "one JSON record per line" and info_array["form"] == "one JSON array"
    assert [e.line for e in from_lines] == [1, 2, 3, 4]
    assert [e.line for e in from_array] == [2, 7, 12, 17]  # where each record starts


@pytest.mark.parametrize(
    ("bad_line", "fragment"),
    [
        ('{"headline": "half a record", "is_sarc', "not valid JSON"),
        ('{"headline": "a label of 2", "is_sarcastic": 2}', "is_sarcastic is 2, not 0 or 1"),
        ('{"headline": "a label of true", "is_sarcastic": true}', "is_sarcastic is True, not 0 or 1"),
        ('{"article_link": "x", "is_sarcastic": 1}', "no field 'headline'"),
        ('{"headline": "no label"}', "no field 'is_sarcastic'"),
        ('{"headline": "", "is_sarcastic": 0}', "not a non-empty string"),
        ('["a", "list"]', "a JSON list, not an object"),
    ],
)
def test_a_bad_record_is_named_by_file_and_line_and_nothing_is_written(tmp_path, write_file, bad_line, fragment):
    path = write_file("bad.json", json_lines(RECORDS[:2]) + bad_line + "\n" + json_lines(RECORDS[2:]))
    settings = resolved_settings({"model": "headline_pooling", "ranks": 1}, dataset(path))
    output = tmp_path / "prepared"
    with pytest.raises(InputDataError) as caught:
        prepare_sentences(settings, output)
    assert caught.value.line == 3 and f"{path}, line 3: " in str(caught.value)
    assert fragment in str(caught.value) and "on_bad_line: skip" in str(caught.value)
    assert not output.exists() or (leftovers(output) == [] and not (output / "train.tsv").exists())


def test_skip_drops_bad_records_and_counts_them(write_file):
    path = write_file("bad.json", json_lines(RECORDS[:1]) + "{oops\n\n" + '{"headline": "x", "is_sarcastic": 7}\n')
    examples, info = read_records(dataset(path), {"on_bad_line": "skip"})
    assert len(examples) == 1 and info["bad_lines_skipped"] == 2
    assert [(bad["line"], bad["file"]) for bad in info["bad_lines_first"]] == [(2, str(path)), (4, str(path))]


def test_a_broken_array_is_an_error_even_when_skipping(write_file):
    text = json.dumps(RECORDS, indent=4)
    path = write_file("sarcasm.json", text.replace('"is_sarcastic": 1', '"is_sarcastic" 1', 1))
    with pytest.raises(InputDataError) as caught:
        read_records(dataset(path), {"on_bad_line": "skip"})
    assert caught.value.line == 15 and "cannot be read on" in str(caught.value)


def test_other_field_names_and_the_prepared_splits(tmp_path, write_file):
    records = [{"text": f"headline number {i} {'yes' if i % 2 else 'no'}", "label": i % 2} for i in range(40)]
    path = write_file("other.json", json_lines(records))
    data = dataset(path, text_field="text", label_field="label")
    settings = resolved_settings({"model": "headline_pooling", "ranks": 1, "preprocess": {"split": "random"}}, data)
    report = prepare_sentences(settings, tmp_path / "prepared")
    assert report["source_format"] == "json_records" and report["source"]["examples"] == 40
    assert {split: report["sizes"][split]["sentences"] for split in ("train", "validation", "test")} == {
        "train": 28,
        "validation": 4,
        "test": 8,
    }
    labels, tokens = read_prepared(tmp_path / "prepared" / "test.tsv")
    assert all(label == (1 if words[-1] == "yes" else 0) for label, words in zip(labels, tokens, strict=True))
