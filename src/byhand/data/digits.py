"""The UCI handwritten digits (8×8 grey images, 1797 samples), read by hand from scikit-learn's
bundled ``digits.csv.gz``: one sample a line, 64 pixel values in ``0..16`` then the label.

The file ships inside scikit-learn, so nothing is downloaded: ``--download`` copies that bundled
file into ``--data DIR``.
"""

import gzip
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import torch

__all__ = ["DIGITS_FILE", "DataFormatError", "load_digits_tensors", "split_digits"]

DIGITS_FILE = "digits.csv.gz"
PIXELS = 64


class DataFormatError(ValueError):
    """A data folder that is missing its file or holds one in the wrong format."""


def _bundled_file():
    """scikit-learn's copy, found without importing scikit-learn (seconds saved)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DataFormatError("the digits ship with scikit-learn: pip install scikit-learn")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / DIGITS_FILE


def load_digits_tensors(data_dir=None, download=False):
    """Images ``(1797, 64)`` float32 in ``[0, 1]`` and labels ``(1797,)`` int64.

    ``data_dir=None`` reads scikit-learn's bundled copy; otherwise ``data_dir/digits.csv.gz``,
    which ``download=True`` first copies there from that bundled copy.
    """
    path = _bundled_file() if data_dir is None else Path(data_dir) / DIGITS_FILE
    if data_dir is not None and download and not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_bundled_file(), path)
    if not path.is_file():
        raise DataFormatError(
            f"--data {data_dir}: expected the file {path} (the UCI digits as CSV, gzip), "
            "not found; --download writes it there"
        )
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.float32, ndmin=2)
    except (OSError, EOFError, ValueError) as exc:
        raise DataFormatError(
            f"{path} is not in the expected format (gzip CSV, {PIXELS} pixels then a label "
            f"per line): {exc}"
        ) from None
    if table.shape[1] != PIXELS + 1 or len(table) == 0:
        raise DataFormatError(
            f"{path} is not in the expected format: expected {PIXELS + 1} columns "
            f"({PIXELS} pixels then a label), got {table.shape[1]} in {len(table)} rows"
        )
    pixels, labels = table[:, :PIXELS], table[:, PIXELS]
    if pixels.min() < 0 or pixels.max() > 16 or labels.min() < 0 or labels.max() > 9:
        raise DataFormatError(
            f"{path} is not in the expected format: pixels must lie in 0..16 and labels "
            f"in 0..9, got pixels {pixels.min()}..{pixels.max()}, labels "
            f"{labels.min()}..{labels.max()}"
        )
    images = torch.from_numpy(pixels / 16.0)
    return images, torch.from_numpy(labels.astype(np.int64))


def split_digits(images, labels, val_fraction=0.2, seed=0):
    """A seeded split into ``(train_images, train_labels), (val_images, val_labels)``.

    The split seed is fixed apart from the training seed, so every run validates on the same
    images.
    """
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    n_val = int(len(images) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    return (images[train], labels[train]), (images[val], labels[val])
