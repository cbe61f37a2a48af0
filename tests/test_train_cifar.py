"""CIFAR-10 by hand: the archive format (a fixture written in it, never a download), missing and
corrupt data (one line, exit 2), the augmentation on tensors, and ``resnet18-cifar10-fast``
trained end to end on the fixture, interrupted and resumed to the same bits.

The real ResNet-18 (width 64) on CPU costs about 0.1 s of CPU per image and step here, so the
fixture holds 10 training and 4 test images: two steps of 5.
"""

import io
import os
import pickle
import signal
import tarfile

import numpy as np
import pytest
import torch

import byhand.train.loop as loop
from byhand.cli import main
from byhand.data import cifar10
from byhand.train import checkpoint

FAST = ["--device", "cpu", "--threads", "1"]


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cifar")
    cifar10.write_fixture(folder, train_per_batch=2, test=4)
    return folder


def test_fixture_is_the_official_format(fixture_dir):
    with tarfile.open(fixture_dir / cifar10.ARCHIVE, "r:gz") as tar:
        names = sorted(m.name for m in tar.getmembers())
        batch = pickle.load(
            tar.extractfile("cifar-10-batches-py/data_batch_3"), encoding="bytes"
        )
    assert names == sorted(
        [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)]
        + ["cifar-10-batches-py/test_batch"]
    )
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (2, 3072)
    assert isinstance(batch[b"labels"], list) and len(batch[b"labels"]) == 2
    train, test = cifar10.load_cifar10(fixture_dir)
    assert (len(train), len(test)) == (10, 4)
    assert train.images.dtype == torch.uint8 and tuple(train.images.shape) == (10, 3, 32, 32)
    # Row-major R, then G, then B planes: pixel (c, y, x) is data[c * 1024 + y * 32 + x].
    third = torch.from_numpy(batch[b"data"][1].astype(np.int64))
    assert torch.equal(train.images[5].long(), third.reshape(3, 32, 32))
    assert train.labels[5].item() == batch[b"labels"][1]
    values = train.images.double().div(255).transpose(0, 1).reshape(3, -1)
    assert torch.allclose(train.mean.double(), values.mean(1), atol=1e-6)
    normalised = cifar10.normalize(train.images, train.mean, train.std)
    channel = normalised.transpose(0, 1).reshape(3, -1)
    assert torch.allclose(channel.mean(1), torch.zeros(3), atol=1e-5)
    assert torch.allclose(channel.std(1), torch.ones(3), atol=1e-5)


def test_a_pickle_naming_another_class_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo should not run",))

    blob = pickle.dumps({b"data": Payload(), b"labels": []}, protocol=2)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in (*cifar10.TRAIN_BATCHES, cifar10.TEST_BATCH):
        (folder / name).write_bytes(blob)
    with pytest.raises(cifar10.DataFormatError, match="refused to build posix.system"):
        cifar10.load_cifar10(tmp_path)


def bad_data(tmp):
    corrupt = tmp / "corrupt"
    corrupt.mkdir()
    (corrupt / cifar10.ARCHIVE).write_bytes(b"\x1f\x8b\x08 not really gzip")
    short = tmp / "short"
    short.mkdir()
    with tarfile.open(short / cifar10.ARCHIVE, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    wrong = tmp / "wrong"
    cifar10.write_fixture(wrong, train_per_batch=2, test=2)
    with tarfile.open(wrong / cifar10.ARCHIVE, "r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    members["cifar-10-batches-py/test_batch"] = pickle.dumps(
        {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2
    )
    with tarfile.open(wrong / cifar10.ARCHIVE, "w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return [
        ("/nonexistent", "expected /nonexistent/cifar-10-python.tar.gz (CIFAR-10, python"),
        (corrupt, "is not a readable tar.gz archive (CIFAR-10, python version)"),
        (short, "lacks data_batch_2, data_batch_3"),
        (wrong, "test_batch: expected b'data' uint8 (N, 3072), got uint8 (2, 100)"),
    ]


def test_missing_or_corrupt_data_is_one_line_and_exit_2(tmp_path, capsys):
    for data, message in bad_data(tmp_path):
        out = tmp_path / "out"
        code = main(["train", "resnet18-cifar10", "--data", str(data), "--out", str(out), *FAST])
        err = capsys.readouterr().err
        assert code == 2, data
        assert err.count("\n") == 1 and message in err, (data, err)
        assert not (out / "config.json").exists()
    code = main(["train", "resnet18-cifar10", "--out", str(tmp_path / "none"), *FAST])
    assert code == 2 and "reads CIFAR-10 from --data DIR" in capsys.readouterr().err


def test_crop_flip_crops_the_padded_image_and_repeats_per_seed():
    images = torch.randint(1, 256, (64, 3, 8, 8), generator=torch.Generator().manual_seed(1))
    images = images.to(torch.uint8)
    out = cifar10.crop_flip(images, torch.Generator().manual_seed(5), padding=2)
    again = cifar10.crop_flip(images, torch.Generator().manual_seed(5), padding=2)
    other = cifar10.crop_flip(images, torch.Generator().manual_seed(6), padding=2)
    assert torch.equal(out, again) and not torch.equal(out, other)
    assert out.dtype == torch.uint8 and out.shape == images.shape
    padded = torch.nn.functional.pad(images, (2,) * 4)
    flips = 0
    for i in range(64):  # each output is one of the 25 crops of its padded image, maybe flipped
        crops = [padded[i, :, y : y + 8, x : x + 8] for y in range(5) for x in range(5)]
        plain = any(torch.equal(out[i], c) for c in crops)
        flipped = any(torch.equal(out[i], c.flip(-1)) for c in crops)
        assert plain or flipped, i
        flips += flipped and not plain
    assert 16 < flips < 48  # about half


def test_synthetic_data_has_cifar_shapes(tmp_path, capsys):
    train, test = cifar10.synthetic_cifar10(50, seed=3)
    assert tuple(train.images.shape) == (50, 3, 32, 32) and len(test) == 10
    assert torch.equal(train.images, cifar10.synthetic_cifar10(50, seed=3)[0].images)
    code = main(["train", "resnet18-cifar10", "--synthetic", "8", "--data", "x", *FAST])
    assert code == 2 and "--synthetic makes random data" in capsys.readouterr().err


def test_fast_recipe_trains_on_the_fixture_and_resumes_exactly(
    fixture_dir, tmp_path, capsys, monkeypatch
):
    args = ["resnet18-cifar10-fast", "--data", str(fixture_dir), "--epochs", "1"]
    args += ["--batch-size", "5", "--warmup-epochs", "0.5", *FAST]
    reference = tmp_path / "uninterrupted"
    assert main(["train", *args, "--out", str(reference)]) == 0
    calls, real_step = [], loop.train_step

    def interrupt_at_step_1(*step_args):
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(*step_args)

    monkeypatch.setattr(loop, "train_step", interrupt_at_step_1)
    stopped = tmp_path / "stopped"
    assert main(["train", *args, "--out", str(stopped)]) == 130
    blob = checkpoint.load_checkpoint(stopped / "checkpoint-last.pt")
    assert (blob["epoch"], blob["step"]) == (0, 1) and "augment" in blob["ranks"][0]
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["train", *args, "--out", str(stopped), "--resume"]) == 0
    out = capsys.readouterr().out
    assert f"resumed from {stopped / 'checkpoint-last.pt'} at epoch 1, step 1 of 2" in out
    final = (stopped / "model-final.pt").read_bytes()
    assert final == (reference / "model-final.pt").read_bytes()
    config = (stopped / "config.json").read_text()
    assert '"precision": "fp32"' in config and '"channels_last": false' in config
    assert '"Conv2d": "byhand.nn.conv"' in config and '"label_smoothing"' not in config
