"""Coloured shapes drawn by code, each image with its caption from a small grammar.

An image ``(3, size, size)`` holds one shape ("a red circle") or two shapes in a spatial
relation ("a red circle above a blue square"). Shapes: circle, square, triangle; colours:
red, green, blue, yellow; relations: above, below, left of, right of. Nothing is downloaded:
the same ``seed`` always draws the same images, on any machine.

A caption is fixed by its image: of two shapes, the one earlier in the order
(circle, square, triangle) × (red, green, blue, yellow) is named first, and the relation says
where it lies. The other description of the same image ("a blue square below a red circle")
is its second reference (:func:`references`), which BLEU can credit.

Words become indices through a :class:`Vocabulary` with the special tokens ``<NULL>`` (padding,
index 0), ``<START>``, ``<END>`` and ``<UNK>``.
"""

import torch

__all__ = [
    "COLOURS",
    "RELATIONS",
    "SHAPES",
    "ShapesCaptions",
    "Vocabulary",
    "make_shapes",
    "references",
    "shapes_datasets",
    "shapes_vocabulary",
]

SHAPES = ("circle", "square", "triangle")
COLOURS = {  # RGB in [0, 1]
    "red": (0.9, 0.15, 0.1),
    "green": (0.15, 0.75, 0.2),
    "blue": (0.15, 0.3, 0.95),
    "yellow": (0.95, 0.85, 0.1),
}
RELATIONS = ("above", "below", "left of", "right of")
OPPOSITE = {"above": "below", "below": "above", "left of": "right of", "right of": "left of"}
SPECIALS = ("<NULL>", "<START>", "<END>", "<UNK>")


# --8<-- [start:vocabulary]
class Vocabulary:
    """Words ↔ indices. ``<NULL>`` = 0 pads, ``<START>`` opens, ``<END>`` closes a caption;
    a word outside the vocabulary becomes ``<UNK>``."""

    def __init__(self, words):
        words = [w for w in dict.fromkeys(words) if w not in SPECIALS]
        self.idx_to_word = [*SPECIALS, *words]
        self.word_to_idx = {w: i for i, w in enumerate(self.idx_to_word)}
        self.null, self.start, self.end, self.unk = range(len(SPECIALS))

    def __len__(self):
        return len(self.idx_to_word)

    def encode(self, caption):
        """``"a red circle"`` → ``[<START>, a, red, circle, <END>]`` as indices."""
        words = caption.lower().split()
        return [self.start, *(self.word_to_idx.get(w, self.unk) for w in words), self.end]

    def encode_batch(self, captions, length=None):
        """``(N, length)`` int64 of encoded captions, padded with ``<NULL>`` on the right."""
        encoded = [self.encode(c) for c in captions]
        longest = max((len(e) for e in encoded), default=0)
        length = longest if length is None else length
        if longest > length:
            raise ValueError(
                f"encode_batch: length={length} is too short, the longest caption takes "
                f"{longest} tokens with <START> and <END>"
            )
        out = torch.full((len(encoded), length), self.null, dtype=torch.long)
        for row, e in zip(out, encoded):
            row[: len(e)] = torch.tensor(e)
        return out

    def decode(self, indices):
        """Indices → words, up to the first ``<END>``; ``<START>`` and ``<NULL>`` dropped."""
        words = []
        for i in indices.tolist() if torch.is_tensor(indices) else indices:
            if i == self.end:
                break
            if i not in (self.start, self.null):
                words.append(self.idx_to_word[i])
        return " ".join(words)


# --8<-- [end:vocabulary]


def _caption(shape, colour, relation=None, other_shape=None, other_colour=None):
    first = f"a {COLOURS_BY_INDEX[colour]} {SHAPES[shape]}"
    if relation is None:
        return first
    second = f"a {COLOURS_BY_INDEX[other_colour]} {SHAPES[other_shape]}"
    return f"{first} {RELATIONS[relation]} {second}"


COLOURS_BY_INDEX = tuple(COLOURS)


def _masks(kind, cx, cy, radius, size):
    """``(N, size, size)`` bool: pixels inside shape ``kind`` (0 circle, 1 square, 2 triangle)
    centred at ``(cx, cy)`` with half-size ``radius`` (all ``(N,)``)."""
    grid = torch.arange(size, dtype=torch.float32) + 0.5
    x, y = grid.view(1, 1, -1), grid.view(1, -1, 1)
    cx, cy, r = cx.view(-1, 1, 1), cy.view(-1, 1, 1), radius.view(-1, 1, 1)
    dx, dy = x - cx, y - cy
    circle = dx**2 + dy**2 <= r**2
    square = (dx.abs() <= 0.85 * r) & (dy.abs() <= 0.85 * r)
    depth = (dy + r) / (2 * r)  # 0 at the apex (top), 1 at the base
    triangle = (depth >= 0) & (depth <= 1) & (dx.abs() <= depth * r)
    kind = kind.view(-1, 1, 1)
    return torch.where(kind == 0, circle, torch.where(kind == 1, square, triangle))


# --8<-- [start:make_shapes]
def make_shapes(n, size=32, seed=0, two_fraction=0.8):
    """``n`` images ``(n, 3, size, size)`` float32 in ``[0, 1]`` and their ``n`` captions.

    A fraction ``two_fraction`` of the images hold two shapes, one in each half (top/bottom
    for above/below, left/right for left of/right of); the rest hold one shape anywhere.
    """
    if n < 0 or size < 16:
        raise ValueError(f"make_shapes expects n >= 0 and size >= 16, got n={n}, size={size}")
    g = torch.Generator().manual_seed(seed)

    def ints(high, *shape):
        return torch.randint(high, shape or (n,), generator=g)

    def uniform(low, high):
        return low + (high - low) * torch.rand(n, generator=g)

    # Two distinct (shape, colour) pairs per image; pair a is named first (lower index).
    pair_a = ints(len(SHAPES) * len(COLOURS))
    pair_b = (pair_a + 1 + ints(len(SHAPES) * len(COLOURS) - 1)) % (len(SHAPES) * len(COLOURS))
    first, second = torch.minimum(pair_a, pair_b), torch.maximum(pair_a, pair_b)
    relation, two = ints(len(RELATIONS)), torch.rand(n, generator=g) < two_fraction
    radius = uniform(0.12, 0.18) * size, uniform(0.12, 0.18) * size
    # Centre of `first` in its half (`near`), of `second` in the other half (`far`), and a free
    # coordinate along the other axis for each.
    near, far = uniform(0.2, 0.32) * size, uniform(0.68, 0.8) * size
    free_a, free_b = uniform(0.25, 0.75) * size, uniform(0.25, 0.75) * size
    # above: first on top (small y); below: first at the bottom; left of / right of: along x.
    first_low = (relation == 0) | (relation == 2)
    pos_a = torch.where(first_low, near, size - near)
    pos_b = torch.where(first_low, far, size - far)
    vertical = relation < 2
    ax, ay = torch.where(vertical, free_a, pos_a), torch.where(vertical, pos_a, free_a)
    bx, by = torch.where(vertical, free_b, pos_b), torch.where(vertical, pos_b, free_b)
    # One shape alone: anywhere that keeps it inside the image.
    ax = torch.where(two, ax, uniform(0.3, 0.7) * size)
    ay = torch.where(two, ay, uniform(0.3, 0.7) * size)

    colours = torch.tensor(list(COLOURS.values()))
    images = 0.1 + 0.05 * torch.rand(n, 3, size, size, generator=g)  # dark, slightly noisy
    jitter = 0.08 * (torch.rand(n, 2, 3, generator=g) - 0.5)
    for k, (pair, cx, cy, r, keep) in enumerate(
        (
            (first, ax, ay, radius[0], torch.ones(n, dtype=torch.bool)),
            (second, bx, by, radius[1], two),
        )
    ):
        mask = _masks(pair // len(COLOURS), cx, cy, r, size) & keep.view(-1, 1, 1)
        colour = (colours[pair % len(COLOURS)] + jitter[:, k]).clamp(0, 1)
        images = torch.where(mask.unsqueeze(1), colour.view(n, 3, 1, 1), images)

    C = len(COLOURS)
    captions = [
        _caption(*divmod(a, C), r, *divmod(b, C)) if t else _caption(*divmod(a, C))
        for a, b, r, t in zip(first.tolist(), second.tolist(), relation.tolist(), two.tolist())
    ]
    return images, captions


# --8<-- [end:make_shapes]


def references(caption):
    """Every caption of the grammar that describes the same image: ``caption`` itself and,
    for two shapes, the scene told from the other shape ("a blue square below a red circle")."""
    words = caption.split()
    if len(words) <= 3:
        return [caption]
    first, rest = " ".join(words[:3]), words[3:]
    relation = " ".join(rest[:-3])
    if relation not in OPPOSITE:
        raise ValueError(f"references: {caption!r} is not a caption of the shapes grammar")
    second = " ".join(rest[-3:])
    return [caption, f"{second} {OPPOSITE[relation]} {first}"]


def grammar_words():
    """Every word the grammar can use, in a fixed order (the vocabulary's order)."""
    words = ["a", *COLOURS, *SHAPES]
    for relation in RELATIONS:
        words += relation.split()
    return list(dict.fromkeys(words))


class ShapesCaptions(torch.utils.data.Dataset):
    """``(image (3, H, W), caption (T,))`` pairs; ``captions`` keeps the text of each."""

    def __init__(self, images, captions, vocab, length=None):
        self.images, self.captions, self.vocab = images, list(captions), vocab
        self.tokens = vocab.encode_batch(self.captions, length)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.tokens[index]


def shapes_vocabulary():
    """The :class:`Vocabulary` of the whole grammar (17 entries with the special tokens)."""
    return Vocabulary(grammar_words())


def shapes_datasets(n_train=2000, n_val=500, size=32, seed=0):
    """``(train, val, vocab)``: two :class:`ShapesCaptions` drawn from different seeds (so no
    validation image is a training image) and the vocabulary of the whole grammar."""
    vocab = shapes_vocabulary()
    length = 2 + max(len(c.split()) for c in _longest_captions())
    train = ShapesCaptions(*make_shapes(n_train, size, seed=2 * seed), vocab, length)
    val = ShapesCaptions(*make_shapes(n_val, size, seed=2 * seed + 1), vocab, length)
    return train, val, vocab


def _longest_captions():
    return [_caption(0, 0, r, 1, 1) for r in range(len(RELATIONS))]
