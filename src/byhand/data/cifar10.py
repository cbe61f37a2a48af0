"""CIFAR-10 read by hand from the official "python version" archive, ``cifar-10-python.tar.gz``.

The archive holds a folder ``cifar-10-batches-py/`` with ``data_batch_1`` … ``data_batch_5``
(50 000 training images) and ``test_batch`` (10 000), each a pickled dict: ``b"data"``, a uint8
array ``(10000, 3072)`` — per image the 1024 red values, then green, then blue, each a 32×32
image row by row — and ``b"labels"``, a list of ints in ``0..9``. The pickles are read with an
unpickler that builds NumPy arrays and plain containers only (a pickle can name any class and
run its code; this one refuses all others).

Images stay uint8 ``(N, 3, 32, 32)`` (a quarter of float32's bytes to move to the device);
``normalize`` turns a batch into float with the training set's channel mean and deviation, and
``crop_flip`` augments a batch on its own device.
"""

import hashlib
import io
import pickle
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import torch

from byhand.data.digits import DataFormatError

__all__ = [
    "ARCHIVE",
    "URL",
    "MD5",
    "CLASSES",
    "CIFAR10",
    "load_cifar10",
    "synthetic_cifar10",
    "write_fixture",
    "download_cifar10",
    "normalize",
    "crop_flip",
]

ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"  # published with the archive
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
PIXELS = 3 * 32 * 32

# What the official pickles (written by NumPy under Python 2) name, and nothing else; a
# protocol-2 pickle written by Python 3 stores bytes as ``_codecs.encode(text, "latin1")``.
_ALLOWED = {
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refused to build {module}.{name}")
        return super().find_class(module, name)


class CIFAR10(torch.utils.data.TensorDataset):
    """uint8 images ``(N, 3, 32, 32)`` and int64 labels ``(N,)``, plus the channel ``mean``
    and ``std`` (in ``[0, 1]`` units) the batches are normalised with."""

    def __init__(self, images, labels, mean, std):
        super().__init__(images, labels)
        self.images, self.labels, self.mean, self.std = images, labels, mean, std

    def batch_fn(self, model, batch, loss_fn):
        """``fit``'s ``batch_fn``: normalise the uint8 images, then score them."""
        from byhand.train.loop import classify

        images, labels = batch
        return classify(model, (normalize(images, self.mean, self.std), labels), loss_fn)


def _read_batch(blob, where):
    try:
        batch = _ArraysOnly(io.BytesIO(blob), encoding="bytes").load()
        data = np.asarray(batch[b"data"])
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as exc:
        raise DataFormatError(
            f"{where} is not a CIFAR-10 python batch (a pickled dict with b'data' uint8 "
            f"(N, {PIXELS}) and b'labels'): {str(exc) or type(exc).__name__}"
        ) from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        raise DataFormatError(
            f"{where}: expected b'data' uint8 (N, {PIXELS}), got {data.dtype} {data.shape}"
        )
    if len(labels) != len(data) or (len(labels) and not 0 <= labels.min() <= labels.max() <= 9):
        raise DataFormatError(
            f"{where}: expected {len(data)} labels in 0..9, got {len(labels)} "
            f"({labels.min() if len(labels) else '-'}..{labels.max() if len(labels) else '-'})"
        )
    return data, labels


def _members(data_dir):
    """``{batch name: bytes}`` from ``DIR/cifar-10-python.tar.gz`` or its extracted folder."""
    data_dir = Path(data_dir)
    folder, archive = data_dir / FOLDER, data_dir / ARCHIVE
    names = (*TRAIN_BATCHES, TEST_BATCH)
    if folder.is_dir():
        missing = [name for name in names if not (folder / name).is_file()]
        if missing:
            raise DataFormatError(
                f"--data {data_dir}: {folder} lacks {', '.join(missing)} (the CIFAR-10 python "
                "batches data_batch_1..5 and test_batch were expected)"
            )
        return {name: (folder / name).read_bytes() for name in names}
    if not archive.is_file():
        raise DataFormatError(
            f"--data {data_dir}: expected {archive} (CIFAR-10, python version) or the folder "
            f"{folder} extracted from it, found neither; --download fetches it"
        )
    try:
        with tarfile.open(archive, "r:gz") as tar:
            found = {}
            for member in tar.getmembers():
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and name in names:
                    found[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataFormatError(
            f"{archive} is not a readable tar.gz archive (CIFAR-10, python version): {exc}"
        ) from None
    missing = [name for name in names if name not in found]
    if missing:
        raise DataFormatError(
            f"{archive} lacks {', '.join(missing)} (expected {FOLDER}/data_batch_1..5 and "
            f"{FOLDER}/test_batch)"
        )
    return found


def _images(data):
    return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())


def _statistics(images):
    """Per-channel mean and standard deviation of uint8 ``images``, in ``[0, 1]`` units."""
    values = images.to(torch.float64).div(255).transpose(0, 1).reshape(3, -1)
    return values.mean(1).float(), values.std(1).float()


def load_cifar10(data_dir, download=False):
    """``(train, test)`` :class:`CIFAR10` datasets from ``data_dir``; ``DataFormatError`` if the
    files are missing or malformed. ``download=True`` fetches the archive first if absent."""
    if download:
        download_cifar10(data_dir)
    members = _members(data_dir)
    where = Path(data_dir) / ARCHIVE
    train = [_read_batch(members[name], f"{where}:{name}") for name in TRAIN_BATCHES]
    test_data, test_labels = _read_batch(members[TEST_BATCH], f"{where}:{TEST_BATCH}")
    train_images = _images(np.concatenate([d for d, _ in train]))
    train_labels = torch.from_numpy(np.concatenate([labels for _, labels in train]))
    if len(train_images) == 0:
        raise DataFormatError(f"{where}: the training batches hold no images")
    mean, std = _statistics(train_images)
    return (
        CIFAR10(train_images, train_labels, mean, std),
        CIFAR10(_images(test_data), torch.from_numpy(test_labels), mean, std),
    )


def synthetic_cifar10(count, seed=0):
    """``count`` random CIFAR-shaped training images and ``max(count // 5, 1)`` test ones."""
    generator = torch.Generator().manual_seed(seed)

    def make(n):
        images = torch.randint(0, 256, (n, 3, 32, 32), generator=generator, dtype=torch.uint8)
        return images, torch.randint(0, 10, (n,), generator=generator)

    (train_x, train_y), (test_x, test_y) = make(count), make(max(count // 5, 1))
    mean, std = _statistics(train_x)
    return CIFAR10(train_x, train_y, mean, std), CIFAR10(test_x, test_y, mean, std)


def write_fixture(path, train_per_batch=16, test=32, seed=0):
    """Write a small ``cifar-10-python.tar.gz`` in the official format to ``path`` (a folder).

    Five training batches of ``train_per_batch`` images and a test batch of ``test``, random
    pixels with a class-dependent brightness (so a model can learn something), pickled with
    protocol 2 as the original was.
    """
    rng = np.random.default_rng(seed)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    def batch(n, label):
        labels = rng.integers(0, 10, n)
        data = rng.integers(0, 128, (n, PIXELS)) + (labels[:, None] * 12)
        blob = {
            b"batch_label": label.encode(),
            b"labels": [int(x) for x in labels],
            b"data": data.astype(np.uint8),
            b"filenames": [f"fixture_{i}.png".encode() for i in range(n)],
        }
        return pickle.dumps(blob, protocol=2)

    members = {name: batch(train_per_batch, name) for name in TRAIN_BATCHES}
    members[TEST_BATCH] = batch(test, TEST_BATCH)
    temporary = path / f".{ARCHIVE}.tmp"
    with tarfile.open(temporary, "w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    temporary.replace(path / ARCHIVE)
    return path / ARCHIVE


def download_cifar10(data_dir):
    """Fetch the archive into ``data_dir`` unless it is there; check its MD5 either way."""
    archive = Path(data_dir) / ARCHIVE
    if not archive.is_file():
        archive.parent.mkdir(parents=True, exist_ok=True)
        temporary = archive.with_name(f".{ARCHIVE}.part")
        try:
            with (
                urllib.request.urlopen(URL, timeout=60) as response,
                open(temporary, "wb") as f,
            ):
                while chunk := response.read(1 << 20):
                    f.write(chunk)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise DataFormatError(f"--download: could not fetch {URL}: {exc}") from None
        temporary.replace(archive)
    digest = hashlib.md5()
    with open(archive, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != MD5:
        raise DataFormatError(
            f"{archive}: MD5 {digest.hexdigest()}, expected {MD5} (a partial or altered "
            "download: delete it and run --download again)"
        )
    return archive


def normalize(images, mean, std):
    """uint8 ``(N, 3, H, W)`` → float32 ``(x / 255 - mean_c) / std_c`` on the images' device."""
    mean = mean.to(images.device).reshape(1, -1, 1, 1)
    std = std.to(images.device).reshape(1, -1, 1, 1)
    return (images.float().div(255) - mean) / std


def crop_flip(images, generator, padding=4):
    """Random ``H × W`` crops of the images zero-padded by ``padding``, each flipped left-right
    with probability ½ — on the images' device, drawing from ``generator`` (on that device).

    ``(N, C, H, W) → (N, C, H, W)``; the same dtype (uint8 pads with black, as the usual
    ``RandomCrop(32, padding=4)`` on a PIL image does).
    """
    n, c, h, w = images.shape
    device = images.device
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    top = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=device)
    left = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=device)
    flip = torch.rand(n, 1, generator=generator, device=device) < 0.5
    rows = top + torch.arange(h, device=device)  # (N, H)
    cols = left + torch.arange(w, device=device)  # (N, W)
    cols = torch.where(flip, cols.flip(1), cols)
    index = torch.arange(n, device=device).reshape(n, 1, 1, 1)
    channel = torch.arange(c, device=device).reshape(1, c, 1, 1)
    return padded[index, channel, rows.reshape(n, 1, h, 1), cols.reshape(n, 1, 1, w)]
