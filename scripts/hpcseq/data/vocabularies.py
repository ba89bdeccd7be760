"""The two kinds of vocabulary, characters and words: how each is built and turns text into ids.

What each holds, how it is built from the training split, how it encodes text; hpcseq.data.vocabulary
runs the vocabulary stage with them and reads back what the stage wrote.

Characters get ids in code point order (stable across runs and machines). Words are ranked by
frequency, ties broken alphabetically, with PAD = 0 and UNK = 1 reserved.

Encoding streams: text is converted chunk by chunk to code points and mapped through a lookup
table, so memory stays constant and a 10 GB corpus encodes at disk speed. Character ids are
stored as raw little-endian arrays (`encoded/<split>.ids`, uint8 when the vocabulary has at most
256 entries), which training memory-maps and slices per rank without reading the rest.
"""

from __future__ import annotations

import codecs
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpcseq.errors import InputDataError
from hpcseq.io import CHUNK_CHARS, atomic_open

PAD, UNK = 0, 1
UNKNOWN_TOKEN = "<unk>"  # the unknown id's token in the vocabulary file, for words and characters
COUNT_PIECE = 1 << 20  # code points counted at a time
# How text shows the character unknown id (a seed window holding it); generated text never has it.
UNKNOWN_MARKER = "\ufffd"


def id_dtype(size: int) -> np.dtype:
    if size <= 256:
        return np.dtype("<u1")
    if size <= 65536:
        return np.dtype("<u2")
    return np.dtype("<u4")


def codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


def read_chunks(path: Path):
    """A text file in chunks of CHUNK_CHARS characters."""
    with open(path, encoding="utf-8", newline="") as handle:
        yield from iter(lambda: handle.read(CHUNK_CHARS), "")


def read_text_blocks(path: Path):
    """A UTF-8 text file, CHUNK_CHARS bytes at a time: an ASCII block as its bytes (each byte is its
    code point, nothing to decode), any other as its code points (uint32; a character cut by the
    block's end is completed by the next block)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_CHARS), b""):
            if block.isascii() and not decoder.getstate()[0]:
                yield block
            else:
                yield codepoints(decoder.decode(block))
    decoder.decode(b"", final=True)  # a file that ends inside a character: UnicodeDecodeError


def _count(points: np.ndarray) -> np.ndarray:
    """np.bincount of a chunk, in pieces of COUNT_PIECE (bincount's index copy stays in cache)."""
    if len(points) <= COUNT_PIECE:
        return np.bincount(points)
    counts = np.zeros(int(points.max()) + 1, dtype=np.int64)
    for start in range(0, len(points), COUNT_PIECE):
        piece = np.bincount(points[start : start + COUNT_PIECE])
        counts[: len(piece)] += piece
    return counts


# ------------------------------------------------------------------------------ characters


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
        ids = self.ids_of(codepoints(text), table)
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


def count_codepoints(path: str | Path) -> np.ndarray:
    """How often each code point occurs in a text file (index = code point), read in chunks."""
    counts = np.zeros(0, dtype=np.int64)
    for block in read_text_blocks(Path(path)):
        chunk_counts = _count(np.frombuffer(block, dtype=np.uint8) if isinstance(block, bytes) else block)
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


def first_offset(path: Path, char: str) -> int:
    """Character offset of the first `char` in a text file (it occurs there)."""
    offset = 0
    for chunk in read_chunks(path):
        if (position := chunk.find(char)) >= 0:
            return offset + position
        offset += len(chunk)
    raise ValueError(f"{char!r} does not occur in {path}")


def encode_char_split(vocabulary: CharVocabulary, source: Path, destination: Path) -> int:
    """Stream `source` text into `destination` ids; characters without an id (only under
    `unseen: skip`) are dropped. Returns the number of ids written."""
    table = vocabulary.lookup_table()
    dtype = id_dtype(vocabulary.size)
    byte_ids = vocabulary.ids_of(np.arange(128), table)  # the ids of ASCII characters, -1: none
    # uint8 ids of an ASCII block in one bytes.translate: bytes without an id deleted, the rest mapped
    translation = np.maximum(byte_ids, 0).astype(np.uint8).tobytes() + bytes(128) if dtype.itemsize == 1 else None
    no_id = np.nonzero(byte_ids < 0)[0].astype(np.uint8).tobytes()
    length = 0
    with atomic_open(destination, "wb") as out:
        for block in read_text_blocks(source):
            if isinstance(block, bytes) and translation is not None:
                ids = block.translate(translation, no_id)
            else:
                points = np.frombuffer(block, dtype=np.uint8).astype(np.uint32) if isinstance(block, bytes) else block
                ids = vocabulary.ids_of(points, table)
                ids = ids[ids >= 0].astype(dtype).tobytes()
            out.write(ids)
            length += len(ids) // dtype.itemsize
    return length


# ------------------------------------------------------------------------------ words


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


def build_word_vocabulary(token_lists: list[list[str]], max_words: int | None, min_count: int = 1) -> WordVocabulary:
    """The training words by frequency (ties alphabetical), at most `max_words` (None: all)."""
    counter = Counter(token for tokens in token_lists for token in tokens)
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))  # ties: alphabetical
    kept = [(word, n) for word, n in ranked if n >= min_count][:max_words]
    unknown = sum(counter.values()) - sum(n for _, n in kept)
    words = ["<pad>", UNKNOWN_TOKEN] + [w for w, _ in kept]
    return WordVocabulary(words, [0, unknown] + [n for _, n in kept], total_distinct=len(counter))


def encode_word_rows(
    vocabulary: WordVocabulary, token_lists: list[list[str]], index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of tokens (sentences, lines) as one flat id array (id_dtype of the vocabulary) and the
    offsets where each row starts, one more than there are rows."""
    ids = [vocabulary.encode(tokens, index) for tokens in token_lists]
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(row) for row in ids])
    flat = np.fromiter((i for row in ids for i in row), dtype=id_dtype(vocabulary.size), count=int(offsets[-1]))
    return flat, offsets
