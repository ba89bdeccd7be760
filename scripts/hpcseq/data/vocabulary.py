"""Vocabularies, built from the training split only, and the encoded id arrays every later stage reads.

Characters get ids in code point order (stable across runs and machines). Words are ranked by
frequency, ties broken alphabetically, with PAD = 0 and UNK = 1 reserved. The vocabulary file
records counts and the settings that made it.

Encoding streams: text is converted chunk by chunk to code points and mapped through a lookup
table, so memory stays constant and a 10 GB corpus encodes at disk speed. Character ids are
stored as raw little-endian arrays (`encoded/<split>.ids`, uint8 when the vocabulary has at most
256 entries), which training memory-maps and slices per rank without reading the rest.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpcseq.errors import InputDataError
from hpcseq.io import atomic_open, write_json
from hpcseq.paths import ENCODED_INDEX, SPLITS, encoded_split_file, prepared_split_file

PAD, UNK = 0, 1
CHUNK_CHARS = 1 << 22
TEXT, SENTENCES = "text", "labelled_sentences"  # the data formats (paths.TASK_DATA_FORMAT)


def id_dtype(size: int) -> np.dtype:
    if size <= 256:
        return np.dtype("<u1")
    if size <= 65536:
        return np.dtype("<u2")
    return np.dtype("<u4")


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


def _read_chunks(path: Path):
    with open(path, encoding="utf-8", newline="") as handle:
        yield from iter(lambda: handle.read(CHUNK_CHARS), "")


@dataclass
class CharVocabulary:
    chars: list[str]
    counts: list[int]

    @property
    def size(self) -> int:
        return len(self.chars)

    def lookup_table(self) -> np.ndarray:
        """Code point -> id, -1 for characters outside the vocabulary."""
        top = max(ord(c) for c in self.chars) + 1
        table = np.full(top, -1, dtype=np.int64)
        for index, char in enumerate(self.chars):
            table[ord(char)] = index
        return table

    def encode_text(self, text: str, table: np.ndarray | None = None) -> np.ndarray:
        """Ids of `text` as int64; raises ValueError naming the first unknown character."""
        table = self.lookup_table() if table is None else table
        points = _codepoints(text)
        ids = np.where(points < len(table), table[np.minimum(points, len(table) - 1)], -1)
        if (ids < 0).any():
            position = int(np.argmax(ids < 0))
            raise ValueError(
                f"character {text[position]!r} (U+{ord(text[position]):04X}) at position "
                f"{position} is not in the vocabulary"
            )
        return ids

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self) -> dict:
        return {
            "kind": "characters",
            "size": self.size,
            "entries": [
                {"id": i, "token": c, "codepoint": ord(c), "count": n}
                for i, (c, n) in enumerate(zip(self.chars, self.counts, strict=True))
            ],
        }


@dataclass
class WordVocabulary:
    words: list[str]  # index = id; words[0] = "<pad>", words[1] = "<unk>"
    counts: list[int]
    total_distinct: int

    @property
    def size(self) -> int:
        return len(self.words)

    def index(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words)}

    def encode(self, tokens: list[str], index: dict[str, int] | None = None) -> list[int]:
        index = self.index() if index is None else index
        return [index.get(token, UNK) for token in tokens]

    def to_json(self) -> dict:
        return {
            "kind": "words",
            "size": self.size,
            "distinct_words_in_training": self.total_distinct,
            "pad_id": PAD,
            "unk_id": UNK,
            "entries": [
                {"id": i, "token": w, "count": n} for i, (w, n) in enumerate(zip(self.words, self.counts, strict=True))
            ],
        }


def build_char_vocabulary(train_path: str | Path) -> CharVocabulary:
    counts = np.zeros(0, dtype=np.int64)
    for chunk in _read_chunks(Path(train_path)):
        chunk_counts = np.bincount(_codepoints(chunk))
        if len(chunk_counts) > len(counts):
            chunk_counts[: len(counts)] += counts
            counts = chunk_counts
        else:
            counts[: len(chunk_counts)] += chunk_counts
    present = np.nonzero(counts)[0]
    if len(present) == 0:
        raise InputDataError(train_path, "the training split is empty: no vocabulary can be built")
    return CharVocabulary([chr(int(p)) for p in present], [int(counts[p]) for p in present])


def build_word_vocabulary(token_lists: list[list[str]], max_words: int, min_count: int = 1) -> WordVocabulary:
    counter = Counter(token for tokens in token_lists for token in tokens)
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))  # ties: alphabetical
    kept = [(word, n) for word, n in ranked if n >= min_count][:max_words]
    unknown = sum(counter.values()) - sum(n for _, n in kept)
    return WordVocabulary(
        ["<pad>", "<unk>"] + [w for w, _ in kept], [0, unknown] + [n for _, n in kept], total_distinct=len(counter)
    )


def encode_char_split(
    vocabulary: CharVocabulary, source: Path, destination: Path, unknown_characters: str = "error"
) -> dict:
    """Stream `source` text into `destination` ids; returns {length, unknown}."""
    table = vocabulary.lookup_table()
    dtype = id_dtype(vocabulary.size)
    length = unknown = offset = 0
    first_unknown = None
    with atomic_open(destination, "wb") as out:
        for chunk in _read_chunks(source):
            points = _codepoints(chunk)
            ids = np.where(points < len(table), table[np.minimum(points, len(table) - 1)], -1)
            missing = ids < 0
            if missing.any():
                n_missing = int(missing.sum())
                if first_unknown is None:
                    position = int(np.argmax(missing))
                    first_unknown = (offset + position, chunk[position])
                unknown += n_missing
                if unknown_characters == "error":
                    where, char = first_unknown
                    raise InputDataError(
                        source,
                        f"character {char!r} (U+{ord(char):04X}) at character offset {where} does not "
                        "occur in the training split, so it has no id; set vocabulary.unknown_characters: skip "
                        "to drop such characters, or change the split/cleaning so training sees it",
                    )
                ids = ids[~missing]
            out.write(ids.astype(dtype).tobytes())
            length += len(ids)
            offset += len(chunk)
    return {
        "length": length,
        "unknown_characters_skipped": unknown,
        "first_unknown": None if first_unknown is None else {"offset": first_unknown[0], "char": first_unknown[1]},
    }


def build_char_vocabulary_and_encode(
    settings: dict, prepared_dir: str | Path, vocab_path: str | Path, encoded_dir: str | Path
) -> dict:
    prepared_dir, encoded_dir = Path(prepared_dir), Path(encoded_dir)
    vocabulary = build_char_vocabulary(prepared_split_file(prepared_dir, "train", TEXT))
    policy = settings["vocabulary"].get("unknown_characters", "error")
    splits = {
        split: encode_char_split(
            vocabulary,
            prepared_split_file(prepared_dir, split, TEXT),
            encoded_split_file(encoded_dir, split, TEXT),
            policy,
        )
        for split in SPLITS
    }
    index = {"kind": "characters", "dtype": id_dtype(vocabulary.size).str, "splits": splits}
    write_json(encoded_dir / ENCODED_INDEX, index)
    document = {
        "experiment": settings["name"],
        "settings": settings["vocabulary"],
        "built_from": str(prepared_split_file(prepared_dir, "train", TEXT)),
        **vocabulary.to_json(),
        "encoded": index,
    }
    write_json(vocab_path, document)
    return document


def build_word_vocabulary_and_encode(
    settings: dict, prepared_dir: str | Path, vocab_path: str | Path, encoded_dir: str | Path
) -> dict:
    from hpcseq.data.labelled_sentences import read_prepared

    prepared_dir, encoded_dir = Path(prepared_dir), Path(encoded_dir)
    options = settings["vocabulary"]
    train_labels, train_tokens = read_prepared(prepared_split_file(prepared_dir, "train", SENTENCES))
    vocabulary = build_word_vocabulary(train_tokens, options["max_words"], options["min_count"])
    index_map = vocabulary.index()
    splits = {}
    dtype = id_dtype(vocabulary.size)
    for split in SPLITS:
        labels, token_lists = (
            (train_labels, train_tokens)
            if split == "train"
            else read_prepared(prepared_split_file(prepared_dir, split, SENTENCES))
        )
        ids = [vocabulary.encode(tokens, index_map) for tokens in token_lists]
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(row) for row in ids])
        flat = np.fromiter((i for row in ids for i in row), dtype=dtype, count=int(offsets[-1]))
        with atomic_open(encoded_split_file(encoded_dir, split, SENTENCES), "wb") as handle:
            np.savez(handle, ids=flat, offsets=offsets, labels=np.asarray(labels, dtype=np.int8))
        unknown = int((flat == UNK).sum())
        splits[split] = {"sentences": len(ids), "tokens": int(offsets[-1]), "unknown_tokens": unknown}
    index = {"kind": "words", "dtype": dtype.str, "splits": splits}
    write_json(encoded_dir / ENCODED_INDEX, index)
    document = {
        "experiment": settings["name"],
        "settings": options,
        "built_from": str(prepared_split_file(prepared_dir, "train", SENTENCES)),
        **vocabulary.to_json(),
        "encoded": index,
    }
    write_json(vocab_path, document)
    return document


def build_vocabulary(settings: dict, prepared_dir, vocab_path, encoded_dir) -> dict:
    if settings["task"] == "next_character":
        return build_char_vocabulary_and_encode(settings, prepared_dir, vocab_path, encoded_dir)
    return build_word_vocabulary_and_encode(settings, prepared_dir, vocab_path, encoded_dir)


def load_vocabulary(path: str | Path) -> CharVocabulary | WordVocabulary:
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    entries = document["entries"]
    if document["kind"] == "characters":
        return CharVocabulary([e["token"] for e in entries], [e["count"] for e in entries])
    return WordVocabulary(
        [e["token"] for e in entries], [e["count"] for e in entries], document.get("distinct_words_in_training", 0)
    )


def load_char_ids(encoded_dir: str | Path, split: str, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Memory-map one split's ids and return the slice [start, stop) (only that part is read)."""
    encoded_dir = Path(encoded_dir)
    with open(Path(encoded_dir) / ENCODED_INDEX, encoding="utf-8") as handle:
        index = json.load(handle)
    length = index["splits"][split]["length"]
    if length == 0:
        return np.zeros(0, dtype=np.dtype(index["dtype"]))
    ids = np.memmap(
        encoded_split_file(encoded_dir, split, TEXT), dtype=np.dtype(index["dtype"]), mode="r", shape=(length,)
    )
    return np.array(ids[start:stop])


def char_split_length(encoded_dir: str | Path, split: str) -> int:
    with open(Path(encoded_dir) / ENCODED_INDEX, encoding="utf-8") as handle:
        return json.load(handle)["splits"][split]["length"]


def load_sentences(encoded_dir: str | Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (flat ids, offsets, labels) of one split."""
    with np.load(encoded_split_file(encoded_dir, split, SENTENCES)) as data:
        return data["ids"], data["offsets"], data["labels"]
