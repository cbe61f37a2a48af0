"""Text for the Transformer classifier, read and tokenised by hand.

* ``tokenize`` splits lower-cased text into words; a ``Vocabulary`` keeps the words seen at
  least ``min_freq`` times (at most ``max_size``) after the specials ``<pad>`` (id 0) and
  ``<unk>`` (id 1); ``encode_batch`` pads a batch of id lists and returns their lengths, and
  ``padding_mask`` turns lengths into PyTorch's ``key_padding_mask`` (``True`` = padding).
* ``stdlib_docstrings`` is a real data set that ships with Python itself: the docstrings of the
  modules, classes and functions of a few standard-library packages, labelled by package. It is
  read with ``ast`` from the source files (nothing is imported or downloaded); the split into
  train and validation is a hash of each docstring's place, so it is the same on every run.
* ``load_ag_news_csv`` reads the AG News CSV format (``class,title,description``, classes
  1-4) for users who have that file; nothing here downloads it.

A missing or malformed file raises ``DataFormatError`` with one line naming the file and what
was expected (``byhand train`` prints it and exits with status 2).
"""

import ast
import collections
import csv
import re
import sysconfig
import zlib
from pathlib import Path

import torch

from byhand.data.digits import DataFormatError

__all__ = [
    "PAD",
    "UNK",
    "tokenize",
    "Vocabulary",
    "encode_batch",
    "padding_mask",
    "TextDataset",
    "STDLIB_PACKAGES",
    "stdlib_docstrings",
    "AG_NEWS_CLASSES",
    "load_ag_news_csv",
]

PAD, UNK = "<pad>", "<unk>"
WORD = re.compile(r"[a-z0-9]+")


# --8<-- [start:tokenizer]
def tokenize(text):
    """Lower-cased runs of letters and digits: ``"Return the Future's result."`` →
    ``["return", "the", "future", "s", "result"]``."""
    return WORD.findall(text.lower())


class Vocabulary:
    """Word ↔ id. Ids 0 and 1 are ``<pad>`` and ``<unk>``; then the words counted at least
    ``min_freq`` times, most frequent first (ties alphabetically), at most ``max_size`` in all.
    """

    def __init__(self, texts, min_freq=2, max_size=None, specials=()):
        counts = collections.Counter(word for text in texts for word in tokenize(text))
        kept = sorted(
            (w for w, n in counts.items() if n >= min_freq), key=lambda w: (-counts[w], w)
        )
        self.itos = [PAD, UNK, *specials, *kept]
        if max_size is not None:
            self.itos = self.itos[:max_size]
        self.stoi = {word: i for i, word in enumerate(self.itos)}
        self.pad_id, self.unk_id = 0, 1

    def __len__(self):
        return len(self.itos)

    def encode(self, text, max_len=None):
        """The ids of ``text``'s words (``<unk>`` for words not kept), cut to ``max_len``."""
        ids = [self.stoi.get(word, self.unk_id) for word in tokenize(text)]
        return ids[:max_len] if max_len is not None else ids

    def decode(self, ids):
        return [self.itos[i] for i in ids]


def encode_batch(id_lists, pad_id=0, min_len=1):
    """Pad lists of ids to one length: ``ids (N, L)`` int64 and ``lengths (N,)``.

    An empty text would leave attention a row with nothing to attend to, so every length is at
    least ``min_len`` (the pads it then covers are attended to like words).
    """
    lengths = [max(len(ids), min_len) for ids in id_lists]
    width = max(lengths, default=min_len)
    rows = [ids + [pad_id] * (width - len(ids)) for ids in id_lists]
    return torch.tensor(rows, dtype=torch.int64), torch.tensor(lengths, dtype=torch.int64)


def padding_mask(lengths, max_len=None):
    """``(N, L)`` bool, ``True`` at the padded positions ``t ≥ lengths[n]`` (PyTorch's
    ``key_padding_mask`` convention), on ``lengths``' device."""
    max_len = int(lengths.max()) if max_len is None else max_len
    positions = torch.arange(max_len, device=lengths.device)
    return positions[None, :] >= lengths[:, None]


# --8<-- [end:tokenizer]


class TextDataset(torch.utils.data.Dataset):
    """``(ids (L,), label)`` pairs of texts encoded by ``vocab`` and cut to ``max_len`` words;
    ``collate`` pads a batch to its longest member: ``(ids (N, L), labels (N,))``."""

    def __init__(self, texts, labels, vocab, max_len=64, places=None):
        self.texts, self.labels = list(texts), torch.as_tensor(labels, dtype=torch.int64)
        self.places = list(places) if places is not None else None
        self.vocab, self.max_len = vocab, max_len
        self.ids = [vocab.encode(text, max_len) for text in self.texts]

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        return self.ids[index], self.labels[index]

    def collate(self, batch):
        ids, _ = encode_batch([item[0] for item in batch], self.vocab.pad_id)
        return ids, torch.stack([item[1] for item in batch])

    def tensors(self):
        """The whole set padded at once: ``(ids (N, L), labels (N,))``."""
        return self.collate([self[i] for i in range(len(self))])


# --- the standard library's docstrings -------------------------------------------------------
STDLIB_PACKAGES = ("asyncio", "email", "logging", "tkinter", "unittest", "xml")


def _docstrings(path):
    """``(qualified name, docstring)`` of the module, classes and functions in one file."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                text = ast.get_docstring(child)
                if text:
                    found.append((name, text))
                visit(child, name + ".")

    text = ast.get_docstring(tree)
    if text:
        found.append(("<module>", text))
    visit(tree, "")
    return found


def stdlib_docstrings(packages=STDLIB_PACKAGES, min_words=5, per_package=250, root=None):
    """``(train, val)``: lists of ``(text, label, place)``; ``label`` indexes ``packages``.

    Every docstring of ``min_words`` words or more in ``root/<package>/**/*.py`` (tests
    excluded), at most ``per_package`` per package (the first ones in path order, so classes
    stay balanced); a docstring goes to validation when the CRC-32 of its place
    (``"asyncio/tasks.py:gather"``) is 0 mod 5 — about one in five, the same on every run.
    """
    root = Path(sysconfig.get_paths()["stdlib"] if root is None else root)
    train, val = [], []
    for label, package in enumerate(packages):
        folder = root / package
        if not (folder / "__init__.py").is_file():
            raise DataFormatError(
                f"expected the standard-library package {package!r} at {folder}, not found"
            )
        items = []
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if "test" in relative.split("/")[1:-1] or path.name.startswith("test_"):
                continue
            if len(items) >= per_package:
                break
            for name, text in _docstrings(path):
                if len(text.split()) >= min_words:
                    items.append((text, label, f"{relative}:{name}"))
        for item in items[:per_package]:
            (val if zlib.crc32(item[2].encode()) % 5 == 0 else train).append(item)
    return train, val


# --- AG News ---------------------------------------------------------------------------------
AG_NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")


def load_ag_news_csv(path):
    """``(texts, labels)`` from an AG News CSV file: rows ``class,title,description`` without a
    header, ``class`` in 1-4; the text is ``title + " " + description``, labels are 0-3."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(
            f"{path}: expected an AG News CSV file (class,title,description), not found"
        )
    texts, labels = [], []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            for number, row in enumerate(csv.reader(f), start=1):
                if len(row) != 3 or row[0].strip() not in ("1", "2", "3", "4"):
                    raise DataFormatError(
                        f"{path}:{number}: expected class,title,description with class 1-4, "
                        f"got {row!r:.80}"
                    )
                labels.append(int(row[0]) - 1)
                texts.append(f"{row[1]} {row[2]}".replace("\\", " "))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataFormatError(f"{path}: not a UTF-8 CSV file: {exc}") from None
    if not texts:
        raise DataFormatError(f"{path}: expected AG News rows (class,title,description), empty")
    return texts, labels
