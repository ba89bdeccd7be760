"""Labelled texts as JSON records (format `json_records`), e.g. the News Headlines Dataset for
Sarcasm Detection: `{"article_link": ..., "headline": ..., "is_sarcastic": 0|1}`.

Two forms of the same records are read: one JSON object per line (the authors' file,
Sarcasm_Headlines_Dataset.json), and one JSON array of them (the copy "TensorFlow in Practice"
reads, sarcasm.json), told apart by the first character that is not white space. Which fields hold
the text and the label is the dataset's `text_field` and `label_field` (defaults `headline` and
`is_sarcastic`); other fields are ignored. A bad record (not valid JSON, not an object, a missing
field, a label not 0 or 1, a text without tokens) is an error naming file and line, or with
`preprocess.on_bad_line: skip` counted and dropped; in the array form a syntax error ends the
reading (nothing after it can be found again), whatever on_bad_line says.

The file is read whole (the sarcasm file is 6 MB), hashed for the split report, and parsed
record by record: memory is that of the file plus its examples.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hpcseq.data.labelled_sentences import BadRecords, Example, example_of
from hpcseq.data.source_files import BOM, require_file
from hpcseq.errors import InputDataError

FORMAT = "json_records"
TEXT_FIELD, LABEL_FIELD = "headline", "is_sarcastic"  # the defaults of datasets.<name>.text_field, label_field


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _decode(path: Path, data: bytes, encoding: str) -> str:
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputDataError(
            path, f"cannot decode as {encoding} at byte {error.start} ({error.reason})", line=line
        ) from None


def _lines(path: Path, text: str):
    """(line, record or None, problem) of the one-record-per-line form; empty lines are skipped."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line), None
        except json.JSONDecodeError as error:
            yield number, None, f"not valid JSON ({error.msg} at column {error.colno})"


def _array(path: Path, text: str):
    """(line, record, None) of each element of the one-JSON-array form."""
    decoder = json.JSONDecoder()
    position = text.index("[") + 1

    def skip_space(at: int) -> int:
        while at < len(text) and text[at].isspace():
            at += 1
        return at

    position = skip_space(position)
    if position < len(text) and text[position] == "]":
        return
    while True:
        try:
            record, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise InputDataError(
                path, f"not valid JSON ({error.msg} at column {error.colno}); the array cannot be read on", error.lineno
            ) from None
        yield _line_at(text, position), record, None
        position = skip_space(end)
        if position < len(text) and text[position] == "]":
            if skip_space(position + 1) != len(text):
                raise InputDataError(path, "text after the closing ] of the array", _line_at(text, position + 1))
            return
        if position >= len(text) or text[position] != ",":
            raise InputDataError(path, "expected , or ] between the array's records", _line_at(text, position))
        position = skip_space(position + 1)


def parse_record(record, text_field: str, label_field: str) -> tuple[int, str]:
    """(label, text) of one record, or ValueError saying what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError(f"a JSON {type(record).__name__}, not an object with {text_field!r} and {label_field!r}")
    for field in (text_field, label_field):
        if field not in record:
            raise ValueError(f"no field {field!r} (the record has {', '.join(map(repr, record)) or 'none'})")
    label = record[label_field]
    if isinstance(label, bool) or label not in (0, 1):
        raise ValueError(f"{label_field} is {label!r}, not 0 or 1")
    text = record[text_field]
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{text_field} is {text!r}, not a non-empty string")
    return int(label), text


def read_records(dataset: dict, preprocess: dict) -> tuple[list[Example], dict]:
    """The examples of a json_records dataset and the split report's account of its file."""
    path = require_file(dataset["path"], "dataset file")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if dataset.get("sha256") and digest != dataset["sha256"]:
        raise InputDataError(path, f"sha256 is {digest}, expected {dataset['sha256']} (the dataset's `sha256`)")
    text = _decode(path, data, dataset.get("encoding", "utf-8"))
    del data
    text_field, label_field = dataset.get("text_field", TEXT_FIELD), dataset.get("label_field", LABEL_FIELD)
    array = text.lstrip().startswith("[")
    max_records = preprocess.get("max_lines")
    bad = BadRecords(preprocess)
    examples: list[Example] = []
    records = 0
    for number, record, problem in (_array if array else _lines)(path, text):
        if max_records is not None and records >= max_records:
            break
        records += 1
        try:
            if problem:
                raise ValueError(problem)
            label, headline = parse_record(record, text_field, label_field)
            examples.append(example_of(number, label, headline, preprocess))
        except ValueError as error:
            bad.found(path, number, str(error))
    if not examples:
        raise InputDataError(path, f"no usable records ({records} read, {bad.count} malformed)")
    info = {
        "path": str(path),
        "sha256": digest,
        "bytes": path.stat().st_size,
        "checksum_verified": bool(dataset.get("sha256")),
        "form": "one JSON array" if array else "one JSON record per line",
        "fields": {"text": text_field, "label": label_field},
        "lines_read": records,
        "bad_lines_skipped": bad.count,
        "bad_lines_first": bad.first,
        "examples": len(examples),
        "subset": f"first {max_records} records" if max_records is not None else None,
    }
    return examples, info
