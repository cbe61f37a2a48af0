"""The text classifier's pieces: tokenizer, data sets, positional encodings, packed sequences,
the model with byhand and torch blocks, and a tiny training run."""

import json
import math

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import byhand
from byhand.data import DataFormatError
from byhand.data.text import (
    TextDataset,
    Vocabulary,
    encode_batch,
    load_ag_news_csv,
    padding_mask,
    stdlib_docstrings,
    tokenize,
)
from byhand.models.text_classifier import TextClassifier, evaluate, train_text_classifier

D = torch.float64


# --- tokenizer and padding -------------------------------------------------------------------
def test_tokenizer_vocabulary_and_padding():
    assert tokenize("Return the Future's result, 2x.") == [
        "return", "the", "future", "s", "result", "2x",
    ]  # fmt: skip
    vocab = Vocabulary(["a b b c", "b c d"], min_freq=2)
    assert vocab.itos == ["<pad>", "<unk>", "b", "c"]  # b (3) before c (2); a, d cut off
    assert vocab.encode("B a c") == [2, 1, 3]
    ids, lengths = encode_batch([[2, 3, 2], [3], []])
    assert ids.tolist() == [[2, 3, 2], [3, 0, 0], [0, 0, 0]]
    assert lengths.tolist() == [3, 1, 1]  # an empty text keeps one position to attend to
    mask = padding_mask(lengths)
    assert mask.tolist() == [[False] * 3, [False, True, True], [False, True, True]]
    assert Vocabulary(["x y z"] * 2, min_freq=1, max_size=3).itos == ["<pad>", "<unk>", "x"]


def test_stdlib_docstrings_are_real_labelled_and_split_the_same_way_each_time():
    first = stdlib_docstrings(("json", "html"), per_package=30)
    again = stdlib_docstrings(("json", "html"), per_package=30)
    assert first == again
    train, val = first
    assert len(val) > 0 and len(train) > 2 * len(val)
    assert {label for _, label, _ in train} == {0, 1}
    for text, label, place in train + val:
        assert place.startswith(("json/", "html/")[label]) and len(text.split()) >= 5
    assert not {p for *_, p in train} & {p for *_, p in val}
    with pytest.raises(DataFormatError, match="standard-library package 'nonexistent'"):
        stdlib_docstrings(("nonexistent",))


# --- AG News format --------------------------------------------------------------------------
def test_ag_news_csv_fixture(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(
        '"3","Wall St. Bears Claw Back","Reuters - Short-sellers are seeing green."\n'
        '"2","Cup final","The home side won\\again, 2-1."\n'
    )
    texts, labels = load_ag_news_csv(path)
    assert labels == [2, 1]
    assert texts[0] == "Wall St. Bears Claw Back Reuters - Short-sellers are seeing green."
    assert "\\" not in texts[1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("", "empty"),
        ('"5","title","text"\n', ":1: expected class,title,description with class 1-4"),
        ('"1","only a title"\n', ":1: expected class,title,description"),
        (b"\xff\xfe\x00broken", "not a UTF-8 CSV file"),
    ],
)
def test_ag_news_bad_files_are_one_clear_line(tmp_path, content, message):
    path = tmp_path / "news.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(DataFormatError, match=message) as error:
        load_ag_news_csv(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


# --- positional encodings --------------------------------------------------------------------
def test_sinusoidal_shift_is_a_rotation_of_each_pair():
    module = byhand.nn.SinusoidalPositionalEncoding(10, max_len=50)  # odd pairs: d = 10
    pe = module.pe
    assert pe.dtype == D and module.state_dict() == {}
    for k in (1, 5, 17):
        for i in range(5):
            w = 10000.0 ** (-2 * i / 10)
            rotation = torch.tensor(
                [[math.cos(k * w), math.sin(k * w)], [-math.sin(k * w), math.cos(k * w)]],
                dtype=D,
            )
            pair = pe[:, 2 * i : 2 * i + 2]
            assert (pair[:-k] @ rotation.T - pair[k:]).abs().max() < 1e-12
    # and the module adds it (with the √d scale when asked) at the right axis
    x = torch.randn(3, 4, 10, dtype=D)
    scaled = byhand.nn.SinusoidalPositionalEncoding(10, 8, scale_embedding=True).double()
    assert torch.allclose(scaled(x), x * math.sqrt(10) + pe[:3, None], atol=1e-12)
    with pytest.raises(ValueError, match=r"expects input \(L, N, 10\)"):
        module(torch.randn(3, 4, 9))


# --- packed sequences ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_packed_output_is_a_packed_sequence_like_torch(name):
    kw = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    theirs = getattr(torch.nn, name)(**kw).double()
    ours = getattr(byhand.nn, name)(**kw).double()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(5, 3, 3, dtype=D)
    packed = pack_padded_sequence(x, torch.tensor([2, 5, 3]), enforce_sorted=False)
    a, b = ours(packed), theirs(packed)
    assert type(a[0]) is type(b[0])
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        assert torch.equal(getattr(a[0], field), getattr(b[0], field))
    assert torch.allclose(a[0].data, b[0].data, atol=1e-12)
    states = zip(a[1], b[1]) if name == "LSTM" else [(a[1], b[1])]
    for s, t in states:
        assert torch.allclose(s, t, atol=1e-12)
    with pytest.raises(ValueError, match="expects input of shape"):
        ours(pack_padded_sequence(torch.randn(5, 3, 2, dtype=D), [5, 3, 2]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_packed_lstm_on_cuda():
    theirs = torch.nn.LSTM(3, 4, 2).cuda()
    ours = byhand.nn.LSTM(3, 4, 2).cuda()
    ours.load_state_dict(theirs.state_dict())
    packed = pack_padded_sequence(
        torch.randn(5, 3, 3, device="cuda"), [2, 5, 3], enforce_sorted=False
    )
    assert torch.allclose(ours(packed)[0].data, theirs(packed)[0].data, atol=1e-5)


# --- the model -------------------------------------------------------------------------------
SMALL = dict(vocab_size=30, num_classes=3, d_model=16, nhead=2, dim_feedforward=32)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_byhand_and_torch_blocks_give_one_model(pooling):
    torch.manual_seed(0)
    ours = TextClassifier(**SMALL, pooling=pooling).double()
    torch.manual_seed(0)
    theirs = TextClassifier(**SMALL, pooling=pooling, impl="torch").double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert all(
        torch.equal(a, b)
        for a, b in zip(ours.state_dict().values(), theirs.state_dict().values())
    )
    assert isinstance(ours.encoder.layers[0], byhand.nn.TransformerEncoderLayer)
    assert isinstance(theirs.encoder.layers[0], torch.nn.TransformerEncoderLayer)
    ids = torch.tensor([[4, 7, 9, 0, 0], [5, 2, 8, 3, 6]])
    for mode in (True, False):
        ours.train(mode), theirs.train(mode)
        torch.manual_seed(1)
        a = ours(ids)
        torch.manual_seed(1)
        b = theirs(ids)
        assert (a - b).abs().max() < 1e-12
    # lengths mark the same padding as the pad id; attention never looks at padding
    ours.eval()
    assert torch.allclose(ours(ids, torch.tensor([3, 5])), ours(ids), atol=1e-12)
    maps = ours.attention_maps(ids)
    offset = 1 if pooling == "cls" else 0
    assert len(maps) == 2 and maps[0].shape == (2, 2, 5 + offset, 5 + offset)
    assert torch.allclose(maps[0].sum(-1), torch.ones(2, 2, 5 + offset, dtype=D))
    assert maps[1][0, :, :, 3 + offset :].abs().max() == 0


def test_training_loop_learns_a_tiny_task():
    texts = [f"alpha beta w{i}" for i in range(12)] + [f"gamma delta w{i}" for i in range(12)]
    labels = [0] * 12 + [1] * 12
    vocab = Vocabulary(texts, min_freq=1)
    data = TextDataset(texts, labels, vocab)
    torch.manual_seed(0)
    model = TextClassifier(len(vocab), 2, d_model=8, nhead=2, num_layers=1, dim_feedforward=8)
    history = train_text_classifier(model, data, data, epochs=4, batch_size=6, lr=1e-2)
    assert history[-1]["val_loss"] < 0.7 * history[0]["train_loss"], history
    loss, accuracy, confusion = evaluate(model, data)
    assert accuracy == 1.0 and confusion.tolist() == [[12, 0], [0, 12]]


# --- the recipes through byhand train ------------------------------------------------------------
def _train(capsys, *args):
    from byhand.cli import main

    code = main(["train", *args, "--device", "cpu", "--threads", "1"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_transformer_text_recipe_end_to_end(capsys, tmp_path):
    out = tmp_path / "run"
    code, _, err = _train(
        capsys, "transformer-text", "--synthetic", "48", "--epochs", "2", "--warmup-epochs",
        "0.5", "--batch-size", "16", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and rows[-1]["lr"] == 0.0
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"] == "transformer-text"
    state = torch.load(out / "model-final.pt", weights_only=True)
    state = state.get("model", state)
    reference = TextClassifier(4096, 6, max_len=64, impl="torch").state_dict()
    assert set(state) == set(reference)  # the byhand run loads into the torch.nn model


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "reads AG News from --data DIR holding train.csv and test.csv"),
        (["--data", "{missing}"], "train.csv: expected an AG News CSV file"),
        (["--data", "{corrupt}"], "train.csv:1: expected class,title,description"),
    ],
)
def test_ag_news_recipe_bad_data_is_one_line_and_exit_2(capsys, tmp_path, args, message):
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "train.csv").write_text("not,a valid,row,at all\n")
    args = [a.format(missing=tmp_path / "missing", corrupt=tmp_path / "corrupt") for a in args]
    code, _, err = _train(
        capsys, "transformer-text-agnews", "--out", str(tmp_path / "r"), *args
    )
    assert code == 2
    assert err.count("\n") == 1 and message in err, err


# --- the LSTM layer's hand-written backward -------------------------------------------------------
@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_sequence_backward_passes_gradcheck(reverse):
    from byhand.nn.functional.recurrent import LSTMSequence

    g = torch.Generator().manual_seed(0)
    gates = torch.randn(4, 2, 12, dtype=D, generator=g, requires_grad=True)
    h0, c0 = (torch.randn(2, 3, dtype=D, generator=g, requires_grad=True) for _ in range(2))
    w_hh = torch.randn(12, 3, dtype=D, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda *a: LSTMSequence.apply(*a, reverse), (gates, h0, c0, w_hh)
    )
    # only h_n used (the outputs get no gradient): the other paths of the backward
    assert torch.autograd.gradcheck(
        lambda *a: LSTMSequence.apply(*a, reverse)[1], (gates, h0, c0, w_hh)
    )
