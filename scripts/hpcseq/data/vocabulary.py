"""Vocabularies, built from the training split only, and the encoded id arrays every later stage reads.

Characters get ids in code point order (stable across runs and machines). Words are ranked by
frequency, ties broken alphabetically, with PAD = 0 and UNK = 1 reserved. The vocabulary file
records counts and the settings that made it.

Validation and test text may hold characters or words the training split lacks (`unseen`). Setting
`vocabulary.unseen` says what becomes of them: `unknown` (the default) encodes them as the unknown
id, so that any corpus runs; `refuse` stops with an error naming the split, the item and its count;
`skip` (characters, and the words of a word language model's lines) drops them. Words always have
UNK (it also stands for the words beyond max_words). Characters get an unknown id, after all
training characters, only when some split has an unseen character: a corpus without any
(Shakespeare) keeps its vocabulary, ids and model size.
Every split's count of unseen items is recorded in the vocabulary file and its encoded index.

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

from hpcseq.data import time_series
from hpcseq.errors import InputDataError
from hpcseq.io import atomic_open, write_json
from hpcseq.paths import ENCODED_INDEX, SPLITS, encoded_split_file, prepared_split_file

PAD, UNK = 0, 1
UNKNOWN_TOKEN = "<unk>"  # the unknown id's token in the vocabulary file, for words and characters
# How text shows the character unknown id (a seed window holding it); generated text never has it.
UNKNOWN_MARKER = "\ufffd"
UNSEEN_KEY = "vocabulary.unseen"  # the setting, as messages name it
UNKNOWN, REFUSE, SKIP = "unknown", "refuse", "skip"  # its values (skip: characters and lines of words)
UNSEEN_LISTED_WORDS = 10  # the most frequent unseen words a split's record names
CHUNK_CHARS = 1 << 22
TEXT, SENTENCES, LINES = "text", "labelled_sentences", "text_lines"  # the stage formats (paths.TASK_STAGE_FORMAT)


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
    chars: list[str]  # the training split's characters; index = id
    counts: list[int]
    unknown: bool = False  # an unknown id after them (only when some split has unseen characters)

    @property
    def size(self) -> int:
        return len(self.chars) + self.unknown

    @property
    def unk_id(self) -> int | None:
        return len(self.chars) if self.unknown else None

    @property
    def id_counts(self) -> list[int]:
        """Training count of every id: the unknown id's is 0, training never has it."""
        return self.counts + [0] * self.unknown

    def lookup_table(self) -> np.ndarray:
        """Code point -> id; characters outside the vocabulary get the unknown id, or -1 without one."""
        top = max(ord(c) for c in self.chars) + 1
        table = np.full(top, -1 if self.unk_id is None else self.unk_id, dtype=np.int64)
        for index, char in enumerate(self.chars):
            table[ord(char)] = index
        return table

    def ids_of(self, points: np.ndarray, table: np.ndarray) -> np.ndarray:
        """Ids of code points through `table` (lookup_table()); -1 where a character has none."""
        outside = -1 if self.unk_id is None else self.unk_id
        return np.where(points < len(table), table[np.minimum(points, len(table) - 1)], outside)

    def encode_text(self, text: str, table: np.ndarray | None = None) -> np.ndarray:
        """Ids of `text` as int64 (unseen characters: the unknown id); raises ValueError naming the
        first character that has no id (a vocabulary without an unknown id)."""
        table = self.lookup_table() if table is None else table
        ids = self.ids_of(_codepoints(text), table)
        if (ids < 0).any():
            position = int(np.argmax(ids < 0))
            raise ValueError(
                f"character {text[position]!r} (U+{ord(text[position]):04X}) at position "
                f"{position} is not in the vocabulary"
            )
        return ids

    def decode(self, ids) -> str:
        """Text of `ids`, the unknown id shown as UNKNOWN_MARKER."""
        return "".join(self.chars[int(i)] if int(i) < len(self.chars) else UNKNOWN_MARKER for i in ids)

    def to_json(self) -> dict:
        entries = [
            {"id": i, "token": c, "codepoint": ord(c), "count": n}
            for i, (c, n) in enumerate(zip(self.chars, self.counts, strict=True))
        ]
        if self.unknown:
            entries.append({"id": self.unk_id, "token": UNKNOWN_TOKEN, "codepoint": None, "count": 0})
        return {"kind": "characters", "size": self.size, "unk_id": self.unk_id, "entries": entries}


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


def count_codepoints(path: str | Path) -> np.ndarray:
    """How often each code point occurs in a text file (index = code point), read in chunks."""
    counts = np.zeros(0, dtype=np.int64)
    for chunk in _read_chunks(Path(path)):
        chunk_counts = np.bincount(_codepoints(chunk))
        if len(chunk_counts) > len(counts):
            chunk_counts[: len(counts)] += counts
            counts = chunk_counts
        else:
            counts[: len(chunk_counts)] += chunk_counts
    return counts


def build_char_vocabulary(train_path: str | Path, counts: np.ndarray | None = None) -> CharVocabulary:
    """The training split's characters; `counts`: its count_codepoints(), where already at hand."""
    counts = count_codepoints(train_path) if counts is None else counts
    present = np.nonzero(counts)[0]
    if len(present) == 0:
        raise InputDataError(train_path, "the training split is empty: no vocabulary can be built")
    return CharVocabulary([chr(int(p)) for p in present], [int(counts[p]) for p in present])


def unseen_characters(train_counts: np.ndarray, split_counts: np.ndarray) -> dict[str, int]:
    """Characters of a split that the training split lacks, with their counts, in code point order."""
    seen = np.zeros(len(split_counts), dtype=bool)
    seen[: min(len(train_counts), len(seen))] = train_counts[: len(seen)] > 0
    return {chr(int(p)): int(split_counts[p]) for p in np.nonzero((split_counts > 0) & ~seen)[0]}


def _first_offset(path: Path, char: str) -> int:
    """Character offset of the first `char` in a text file (it occurs there)."""
    offset = 0
    for chunk in _read_chunks(path):
        if (position := chunk.find(char)) >= 0:
            return offset + position
        offset += len(chunk)
    raise ValueError(f"{char!r} does not occur in {path}")


def _code_point_and_offset(path: Path):
    """What refuse_unseen says of a character: its code point and first offset in `path`."""
    return lambda char: f" (U+{ord(char):04X}, first at character offset {_first_offset(path, char)})"


def refuse_unseen(path: Path, split: str, unseen: dict, kind: str, detail=lambda item: "") -> None:
    """The error of `unseen: refuse`: the split's most frequent unseen item (its repr, `detail`
    and count), how many others there are, and the key that lets them through."""
    item, count = next(iter(most_frequent(unseen, 1).items()))
    others = sum(unseen.values()) - count
    rest = f"; {len(unseen) - 1} other unseen {kind}(s) occur {others} time(s)" if others else ""
    raise InputDataError(
        path,
        f"{kind} {item!r}{detail(item)} occurs {count} time(s) in the {split} split but never in the training "
        f"split, so it has no id{rest}; set {UNSEEN_KEY}: {UNKNOWN} (the default) to encode unseen {kind}s as "
        f"the unknown id {UNKNOWN_TOKEN}, or change the split/cleaning so that training sees them",
    )


def most_frequent(counts: dict, top: int = UNSEEN_LISTED_WORDS) -> dict:
    """The `top` most frequent items, ties in alphabetical order (as the word ranking breaks them)."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top])


def build_word_vocabulary(token_lists: list[list[str]], max_words: int | None, min_count: int = 1) -> WordVocabulary:
    """The training words by frequency (ties alphabetical), at most `max_words` (None: all)."""
    counter = Counter(token for tokens in token_lists for token in tokens)
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))  # ties: alphabetical
    kept = [(word, n) for word, n in ranked if n >= min_count][:max_words]
    unknown = sum(counter.values()) - sum(n for _, n in kept)
    return WordVocabulary(
        ["<pad>", "<unk>"] + [w for w, _ in kept], [0, unknown] + [n for _, n in kept], total_distinct=len(counter)
    )


def encode_char_split(vocabulary: CharVocabulary, source: Path, destination: Path) -> int:
    """Stream `source` text into `destination` ids; characters without an id (only under
    `unseen: skip`) are dropped. Returns the number of ids written."""
    table = vocabulary.lookup_table()
    dtype = id_dtype(vocabulary.size)
    length = 0
    with atomic_open(destination, "wb") as out:
        for chunk in _read_chunks(source):
            ids = vocabulary.ids_of(_codepoints(chunk), table)
            ids = ids[ids >= 0]
            out.write(ids.astype(dtype).tobytes())
            length += len(ids)
    return length


def build_char_vocabulary_and_encode(
    settings: dict, prepared_dir: str | Path, vocab_path: str | Path, encoded_dir: str | Path
) -> dict:
    """The vocabulary of the training split, an unknown id only where a split needs one, every
    split encoded; each split's unseen characters are counted before anything is written."""
    prepared_dir, encoded_dir = Path(prepared_dir), Path(encoded_dir)
    sources = {split: prepared_split_file(prepared_dir, split, TEXT) for split in SPLITS}
    train_counts = count_codepoints(sources["train"])
    vocabulary = build_char_vocabulary(sources["train"], train_counts)
    policy = settings["vocabulary"].get("unseen", UNKNOWN)
    unseen = {
        split: {} if split == "train" else unseen_characters(train_counts, count_codepoints(sources[split]))
        for split in SPLITS
    }
    for split in SPLITS:
        if unseen[split] and policy == REFUSE:
            refuse_unseen(sources[split], split, unseen[split], "character", _code_point_and_offset(sources[split]))
    vocabulary.unknown = policy == UNKNOWN and any(unseen.values())
    splits = {
        split: {
            "length": encode_char_split(vocabulary, sources[split], encoded_split_file(encoded_dir, split, TEXT)),
            "unseen": sum(unseen[split].values()),
            "unseen_characters": unseen[split],
        }
        for split in SPLITS
    }
    index = {"kind": "characters", "dtype": id_dtype(vocabulary.size).str, "splits": splits}
    write_json(encoded_dir / ENCODED_INDEX, index)
    document = {
        "experiment": settings["name"],
        "settings": settings["vocabulary"],
        "built_from": str(sources["train"]),
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
    seen = {token for tokens in train_tokens for token in tokens}
    policy = options.get("unseen", UNKNOWN)
    splits = {}
    dtype = id_dtype(vocabulary.size)
    read = {
        split: (train_labels, train_tokens)
        if split == "train"
        else read_prepared(prepared_split_file(prepared_dir, split, SENTENCES))
        for split in SPLITS
    }
    unseen = {
        split: Counter(token for tokens in read[split][1] for token in tokens if token not in seen) for split in SPLITS
    }
    for split in SPLITS:
        if unseen[split] and policy == REFUSE:
            refuse_unseen(prepared_split_file(prepared_dir, split, SENTENCES), split, unseen[split], "word")
    for split in SPLITS:
        labels, token_lists = read[split]
        ids = [vocabulary.encode(tokens, index_map) for tokens in token_lists]
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(row) for row in ids])
        flat = np.fromiter((i for row in ids for i in row), dtype=dtype, count=int(offsets[-1]))
        with atomic_open(encoded_split_file(encoded_dir, split, SENTENCES), "wb") as handle:
            np.savez(handle, ids=flat, offsets=offsets, labels=np.asarray(labels, dtype=np.int8))
        splits[split] = {
            "sentences": len(ids),
            "tokens": int(offsets[-1]),
            "unknown_tokens": int((flat == UNK).sum()),  # unseen words and those beyond max_words/min_count
            "unseen": sum(unseen[split].values()),
            "unseen_words": most_frequent(unseen[split]),
        }
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


def build_line_vocabulary_and_encode(
    settings: dict, prepared_dir: str | Path, vocab_path: str | Path, encoded_dir: str | Path
) -> dict:
    """The words of the training lines (all of them unless max_words), every split's lines encoded
    as one flat id array with line offsets (encoded/<split>.npz: ids, offsets). Unseen words:
    the unknown id, an error (refuse) or left out of their line (skip)."""
    from hpcseq.data.text_lines import read_lines

    prepared_dir, encoded_dir = Path(prepared_dir), Path(encoded_dir)
    options = settings["vocabulary"]
    sources = {split: prepared_split_file(prepared_dir, split, LINES) for split in SPLITS}
    read = {split: read_lines(sources[split]) for split in SPLITS}
    vocabulary = build_word_vocabulary(read["train"], options["max_words"], options["min_count"])
    index_map = vocabulary.index()
    seen = {token for tokens in read["train"] for token in tokens}
    policy = options.get("unseen", UNKNOWN)
    unseen = {
        split: Counter(token for tokens in read[split] for token in tokens if token not in seen) for split in SPLITS
    }
    for split in SPLITS:
        if unseen[split] and policy == REFUSE:
            refuse_unseen(sources[split], split, unseen[split], "word")
    dtype = id_dtype(vocabulary.size)
    splits = {}
    for split in SPLITS:
        lines = read[split] if policy != SKIP else [[t for t in tokens if t in seen] for tokens in read[split]]
        ids = [vocabulary.encode(tokens, index_map) for tokens in lines]
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(row) for row in ids])
        flat = np.fromiter((i for row in ids for i in row), dtype=dtype, count=int(offsets[-1]))
        with atomic_open(encoded_split_file(encoded_dir, split, LINES), "wb") as handle:
            np.savez(handle, ids=flat, offsets=offsets)
        splits[split] = {
            "lines": len(ids),
            "tokens": int(offsets[-1]),
            "longest_line": int(np.diff(offsets).max(initial=0)),  # the model's input length follows from it
            "unknown_tokens": int((flat == UNK).sum()),
            "unseen": sum(unseen[split].values()),
            "unseen_words": most_frequent(unseen[split]),
        }
    index = {"kind": "words", "dtype": dtype.str, "splits": splits}
    write_json(encoded_dir / ENCODED_INDEX, index)
    document = {
        "experiment": settings["name"],
        "settings": options,
        "built_from": str(sources["train"]),
        **vocabulary.to_json(),
        "encoded": index,
    }
    write_json(vocab_path, document)
    return document


def build_vocabulary(settings: dict, prepared_dir, vocab_path, encoded_dir) -> dict:
    """The vocabulary stage of the experiment's task; for a time series (no vocabulary) the
    normalisation of the training split (hpcseq.data.time_series), so every task has the same stages."""
    builders = {
        "next_character": build_char_vocabulary_and_encode,
        "sequence_classification": build_word_vocabulary_and_encode,
        "next_word": build_line_vocabulary_and_encode,
        "next_character_sequence": build_char_vocabulary_and_encode,
        "sequence_regression": time_series.build_normalisation_and_encode,
    }
    return builders[settings["task"]](settings, prepared_dir, vocab_path, encoded_dir)


def load_vocabulary(path: str | Path) -> CharVocabulary | WordVocabulary | time_series.Normalisation:
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    if document["kind"] == time_series.KIND:
        return time_series.Normalisation.from_json(document)
    entries = document["entries"]
    if document["kind"] == "characters":
        known = [e for e in entries if e["id"] != document.get("unk_id")]
        return CharVocabulary(
            [e["token"] for e in known], [e["count"] for e in known], unknown=document.get("unk_id") is not None
        )
    return WordVocabulary(
        [e["token"] for e in entries], [e["count"] for e in entries], document.get("distinct_words_in_training", 0)
    )


def encoded_index(encoded_dir: str | Path) -> dict:
    """The encoded splits' index: dtype, and per split its length and its unseen items."""
    with open(Path(encoded_dir) / ENCODED_INDEX, encoding="utf-8") as handle:
        return json.load(handle)


def unseen_summary(document: dict) -> str:
    """One line for the vocabulary stage's log (and so `hpcseq logs`): each split's unseen items,
    what became of them."""
    kind = document["kind"]
    if kind == time_series.KIND:
        spread = ", ".join(
            f"{name} {mean:.4g} +- {std:.4g}"
            for name, mean, std in zip(document["columns"], document["mean"], document["std"], strict=True)
        )
        return f"normalisation from the training split only (mean +- std): {spread}"
    splits = document["encoded"]["splits"]
    if not any(record["unseen"] for record in splits.values()):
        return f"{kind} unseen in training: none" + ("; no unknown id added" if kind == "characters" else "")
    listed = Counter()
    for record in splits.values():
        listed.update(record["unseen_characters" if kind == "characters" else "unseen_words"])
    counts = ", ".join(f"{split} {record['unseen']}" for split, record in splits.items() if record["unseen"])
    shown = ", ".join(f"{item!r} {count}x" for item, count in most_frequent(listed).items())
    policy = document["settings"].get("unseen", UNKNOWN)
    fate = "dropped" if policy == SKIP else f"encoded as the unknown id {UNKNOWN_TOKEN} (id {document['unk_id']})"
    return f"{kind} unseen in training: {counts} ({shown}): {fate} ({UNSEEN_KEY}: {policy})"


def load_char_ids(encoded_dir: str | Path, split: str, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Memory-map one split's ids and return the slice [start, stop) (only that part is read)."""
    encoded_dir = Path(encoded_dir)
    index = encoded_index(encoded_dir)
    length = index["splits"][split]["length"]
    if length == 0:
        return np.zeros(0, dtype=np.dtype(index["dtype"]))
    ids = np.memmap(
        encoded_split_file(encoded_dir, split, TEXT), dtype=np.dtype(index["dtype"]), mode="r", shape=(length,)
    )
    return np.array(ids[start:stop])


def char_split_length(encoded_dir: str | Path, split: str) -> int:
    return encoded_index(encoded_dir)["splits"][split]["length"]


def load_lines(encoded_dir: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (flat ids, line offsets) of one split of a word language model."""
    with np.load(encoded_split_file(encoded_dir, split, LINES)) as data:
        return data["ids"], data["offsets"]


def load_sentences(encoded_dir: str | Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (flat ids, offsets, labels) of one split."""
    with np.load(encoded_split_file(encoded_dir, split, SENTENCES)) as data:
        return data["ids"], data["offsets"], data["labels"]
