"""A Transformer text classifier: token embedding + positions + encoder layers + pooling + head.

``TextClassifier(..., impl="byhand")`` builds the embedding, encoder layers, norms and head from
``byhand.nn``; ``impl="torch"`` from ``torch.nn``. Both have the same state_dict keys and, from
the same seed, the same initial weights, so either loads the other's weights. The positional
encoding has no ``torch.nn`` twin: both take byhand's.

``python -m byhand.models.text_classifier --write-results FILE`` trains it on the docstrings of
six standard-library packages (``byhand.data.text.stdlib_docstrings``) and writes the measured
learning curve, accuracy, confusion matrix and one example's attention maps to ``FILE``
(JSON, atomically), with the machine, torch version, date and the command line.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import torch

import byhand
from byhand.data import DataFormatError
from byhand.data.text import (
    STDLIB_PACKAGES,
    TextDataset,
    Vocabulary,
    load_ag_news_csv,
    padding_mask,
    stdlib_docstrings,
)
from byhand.models.namespace import namespace

__all__ = ["TextClassifier", "text_datasets", "train_text_classifier", "evaluate"]


# --8<-- [start:model]
class TextClassifier(torch.nn.Module):
    """``input (N, L)`` token ids (``pad_idx`` where padded) → class scores ``(N, C)``.

    ``x = positions(embedding(ids))``, then ``num_layers`` encoder layers that skip the padded
    keys, then the mean over the real tokens (``pooling="mean"``) or the output at a learned
    ``[CLS]`` token put in front (``pooling="cls"``), then ``head``. ``lengths (N,)``, when
    given, marks the padding instead of ``input == pad_idx``.
    """

    def __init__(
        self,
        vocab_size,
        num_classes,
        d_model=64,
        nhead=4,
        num_layers=2,
        dim_feedforward=128,
        dropout=0.1,
        max_len=256,
        pooling="mean",
        positions="sinusoidal",
        scale_embedding=False,
        norm_first=True,
        pad_idx=0,
        impl="byhand",
    ):
        super().__init__()
        if impl not in ("byhand", "torch") or pooling not in ("mean", "cls"):
            raise ValueError(
                f"TextClassifier expects impl 'byhand'|'torch' and pooling 'mean'|'cls', "
                f"got impl={impl!r}, pooling={pooling!r}"
            )
        nn = namespace(impl)
        self.pad_idx, self.pooling = pad_idx, pooling
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=pad_idx)
        encoding = {
            "sinusoidal": byhand.nn.SinusoidalPositionalEncoding,
            "learned": byhand.nn.LearnedPositionalEncoding,
        }[positions]
        self.positions = encoding(
            d_model, max_len + 1, dropout, scale_embedding=scale_embedding, batch_first=True
        )
        if pooling == "cls":
            self.cls_token = torch.nn.Parameter(torch.empty(1, 1, d_model))
            byhand.nn.init.normal_(self.cls_token, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d_model,
            nhead,
            dim_feedforward,
            dropout,
            "gelu",
            batch_first=True,
            norm_first=norm_first,
        )
        final_norm = nn.LayerNorm(d_model) if norm_first else None
        self.encoder = nn.TransformerEncoder(
            layer, num_layers, norm=final_norm, enable_nested_tensor=False
        )
        self.head = nn.Linear(d_model, num_classes)

    # --8<-- [start:forward]
    def embed(self, input, lengths=None):
        """Token vectors with positions ``(N, L', d)`` and the padding mask ``(N, L')``."""
        if input.dim() != 2:
            raise ValueError(
                f"TextClassifier expects token ids (N, L), got shape {tuple(input.shape)}"
            )
        if lengths is None:
            padding = input == self.pad_idx
            padding[:, 0] = False  # an empty text still has one position to attend to
        else:
            padding = padding_mask(lengths.to(input.device), input.shape[1])
        x = self.embedding(input)
        if self.pooling == "cls":  # [CLS] in front, at position 0, never padding
            x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1)
            padding = torch.cat([torch.zeros_like(padding[:, :1]), padding], dim=1)
        return self.positions(x), padding

    def forward(self, input, lengths=None):
        x, padding = self.embed(input, lengths)
        x = self.encoder(x, src_key_padding_mask=padding)
        if self.pooling == "cls":
            pooled = x[:, 0]
        else:  # mean over the real tokens only
            keep = (~padding).unsqueeze(-1).to(x.dtype)
            pooled = (x * keep).sum(1) / keep.sum(1).clamp_min(1.0)
        return self.head(pooled)

    # --8<-- [end:forward]
    # --8<-- [end:model]

    @torch.no_grad()
    def attention_maps(self, input, lengths=None):
        """Per layer, the attention weights ``(N, heads, L', L')`` the encoder computes."""
        x, padding = self.embed(input, lengths)
        maps = []
        for layer in self.encoder.layers:
            h = layer.norm1(x) if layer.norm_first else x
            weights = layer.self_attn(
                h, h, h, key_padding_mask=padding, average_attn_weights=False
            )[1]
            maps.append(weights)
            x = layer(x, src_key_padding_mask=padding)
        return maps


# --- data, training, evaluation -----------------------------------------------------------
def text_datasets(
    packages=STDLIB_PACKAGES, max_len=64, min_freq=2, per_package=250, max_size=None
):
    """``(train, val, vocab)``: ``TextDataset``s of the stdlib docstrings, vocabulary from the
    training texts only (a validation word never seen in training is ``<unk>``)."""
    train, val = stdlib_docstrings(packages, per_package=per_package)
    vocab = Vocabulary([text for text, _, _ in train], min_freq=min_freq, max_size=max_size)

    def dataset(items):
        texts, labels, places = zip(*items)
        return TextDataset(texts, labels, vocab, max_len, places)

    return dataset(train), dataset(val), vocab


@torch.no_grad()
def evaluate(model, dataset, batch_size=256, num_classes=None):
    """``(loss, accuracy, confusion)`` on ``dataset``; ``confusion[true][predicted]`` counts."""
    model.eval()
    num_classes = num_classes or int(dataset.labels.max()) + 1
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    total = 0.0
    for start in range(0, len(dataset), batch_size):
        ids, labels = dataset.collate(
            [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        )
        scores = model(ids)
        total += float(torch.nn.functional.cross_entropy(scores, labels, reduction="sum"))
        for t, p in zip(labels.tolist(), scores.argmax(1).tolist()):
            confusion[t, p] += 1
    n = int(confusion.sum())
    return total / n, float(confusion.diag().sum()) / n, confusion


def train_text_classifier(
    model,
    train_set,
    val_set,
    epochs=10,
    batch_size=32,
    lr=1e-3,
    warmup=0.1,
    seed=0,
    impl="byhand",
    log=None,
    max_steps=None,
    step_log=None,
):
    """A plain loop: AdamW, linear warm-up (a ``warmup`` fraction of the steps) then cosine.

    Returns the history: per epoch the mean training loss and the validation loss/accuracy.
    """
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        train_set,
        batch_size=batch_size,
        shuffle=True,
        generator=generator,
        collate_fn=train_set.collate,
    )
    steps = epochs * len(loader) if max_steps is None else min(max_steps, epochs * len(loader))
    adamw = byhand.optim.AdamW if impl == "byhand" else torch.optim.AdamW
    optimizer = adamw(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = byhand.optim.lr_scheduler.warmup_cosine(
        optimizer, max(1, int(warmup * steps)), steps + 1
    )
    history, step = [], 0
    for epoch in range(epochs):
        model.train()
        losses = []
        for ids, labels in loader:
            loss = torch.nn.functional.cross_entropy(model(ids), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            if step_log:
                step_log(losses[-1])
            step += 1
            if step >= steps:
                break
        val_loss, val_acc, _ = evaluate(model, val_set)
        history.append(
            dict(
                epoch=epoch + 1,
                train_loss=sum(losses) / len(losses),
                val_loss=val_loss,
                val_accuracy=val_acc,
            )
        )
        if log:
            log(history[-1])
        if step >= steps:
            break
    return history


# --- recipes for byhand train ----------------------------------------------------------------
RECIPE_VOCAB, RECIPE_LEN = 4096, 64  # fixed, so that build(impl) does not need the data


def _padded(dataset):
    """A ``TensorDataset`` of ids padded to ``RECIPE_LEN`` columns and labels."""
    ids, labels = dataset.tensors()
    ids = torch.nn.functional.pad(ids, (0, RECIPE_LEN - ids.shape[1]))
    return torch.utils.data.TensorDataset(ids, labels)


def trim_and_classify(model, batch, loss_fn):
    """``batch_fn``: cut the padding columns no text of the batch uses, then classify."""
    ids, labels = batch
    used = int((ids != 0).any(dim=0).nonzero().max()) + 1 if bool((ids != 0).any()) else 1
    scores = model(ids[:, :used])
    return loss_fn(scores, labels), (scores.argmax(dim=1) == labels).sum(), len(labels)


def _stdlib_recipe_datasets(config):
    """The stdlib docstrings, or ``--synthetic N`` random texts (N train, N/4 validation)."""
    if config.synthetic is not None:
        g = torch.Generator().manual_seed(config.seed)

        def random_texts(n):
            ids = torch.randint(2, RECIPE_VOCAB, (n, RECIPE_LEN), generator=g)
            lengths = torch.randint(4, RECIPE_LEN // 2, (n, 1), generator=g)
            ids = ids.masked_fill(torch.arange(RECIPE_LEN) >= lengths, 0)
            labels = torch.randint(0, len(STDLIB_PACKAGES), (n,), generator=g)
            return torch.utils.data.TensorDataset(ids, labels)

        return random_texts(config.synthetic), random_texts(max(1, config.synthetic // 4))
    train, val, _ = text_datasets(max_len=RECIPE_LEN, max_size=RECIPE_VOCAB)
    return _padded(train), _padded(val)


def _ag_news_datasets(config):
    """AG News from ``--data DIR``: ``DIR/train.csv`` and ``DIR/test.csv`` (not downloaded)."""
    if config.data is None:
        raise DataFormatError(
            f"recipe {config.recipe} reads AG News from --data DIR holding train.csv and "
            "test.csv (class,title,description); nothing is downloaded"
        )
    folder = Path(config.data)
    train_texts, train_labels = load_ag_news_csv(folder / "train.csv")
    test_texts, test_labels = load_ag_news_csv(folder / "test.csv")
    vocab = Vocabulary(train_texts, min_freq=2, max_size=RECIPE_VOCAB)
    return (
        _padded(TextDataset(train_texts, train_labels, vocab, RECIPE_LEN)),
        _padded(TextDataset(test_texts, test_labels, vocab, RECIPE_LEN)),
    )


def _adamw(impl, params, config):
    adamw = byhand.optim.AdamW if impl == "byhand" else torch.optim.AdamW
    return adamw(params, lr=config.lr, weight_decay=config.weight_decay)


def recipes():
    """The ``byhand train`` recipes ``transformer-text`` and ``transformer-text-agnews``."""
    from byhand.train.recipes import Recipe

    def builder(num_classes):
        def build(impl="byhand"):
            return TextClassifier(RECIPE_VOCAB, num_classes, max_len=RECIPE_LEN, impl=impl)

        return build

    shared = dict(
        epochs=15,
        batch_size=32,
        lr=1e-3,
        weight_decay=0.01,
        warmup_epochs=1.5,
        optimizer=_adamw,
        batch_fn=trim_and_classify,
    )
    return (
        Recipe(
            "transformer-text",
            "Transformer (2 layers, d 64), stdlib docstrings; AdamW, warm-up, cosine",
            builder(len(STDLIB_PACKAGES)),
            _stdlib_recipe_datasets,
            synthetic=True,
            **shared,
        ),
        Recipe(
            "transformer-text-agnews",
            "the same classifier on AG News CSV (--data DIR: train.csv, test.csv)",
            builder(4),
            _ag_news_datasets,
            **shared,
        ),
    )


# --- the committed result file ----------------------------------------------------------------
RESULTS = Path(__file__).resolve().parents[3] / "benchmarks" / "results"


def load_results(path=None):
    """The newest committed ``benchmarks/results/text_classifier-*.json`` (or ``path``)."""
    import json

    if path is None:
        found = sorted(RESULTS.glob("text_classifier-*.json"))
        if not found:
            raise FileNotFoundError(
                f"no text_classifier-*.json in {RESULTS}: write one with "
                "python -m byhand.models.text_classifier --write-results FILE"
            )
        path = found[-1]
    return json.loads(Path(path).read_text()), Path(path)


def smoke_run(steps=12, per_package=40, seed=0, impl="byhand"):
    """A few steps of the same training on a small slice: ``(history of losses, seconds)``."""
    start = time.perf_counter()
    train_set, val_set, vocab = text_datasets(per_package=per_package, max_len=32)
    torch.manual_seed(seed)
    model = TextClassifier(
        len(vocab),
        len(STDLIB_PACKAGES),
        d_model=32,
        nhead=2,
        num_layers=1,
        dim_feedforward=64,
        impl=impl,
    )
    losses = []
    history = train_text_classifier(
        model,
        train_set,
        val_set,
        epochs=steps,
        batch_size=32,
        lr=3e-3,
        seed=seed,
        impl=impl,
        max_steps=steps,
        step_log=losses.append,
    )
    return losses, history, time.perf_counter() - start


def example_for_attention(model, dataset, low=8, high=14):
    """The first validation text of ``low..high`` words that the model classifies correctly."""
    model.eval()
    for index in range(len(dataset)):
        ids, label = dataset[index]
        if low <= len(ids) <= high:
            batch = torch.tensor([ids])
            with torch.no_grad():
                if int(model(batch).argmax()) == int(label):
                    return index
    return 0


def write_results(path, epochs=15, threads=1, seed=0, impl="byhand", **model_kwargs):
    """Train on the stdlib docstrings and write what was measured to ``path`` (atomically)."""
    import inspect
    import json
    import platform

    torch.set_num_threads(threads)
    start = time.perf_counter()
    train_set, val_set, vocab = text_datasets()
    torch.manual_seed(seed)
    model = TextClassifier(len(vocab), len(STDLIB_PACKAGES), impl=impl, **model_kwargs)
    history = train_text_classifier(
        model, train_set, val_set, epochs=epochs, seed=seed, impl=impl, log=print
    )
    _, accuracy, confusion = evaluate(model, val_set, num_classes=len(STDLIB_PACKAGES))
    index = example_for_attention(model, val_set)
    ids, label = val_set[index]
    maps = model.attention_maps(torch.tensor([ids]))
    results = {
        "what": "TextClassifier on the docstrings of six standard-library packages",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "python -m byhand.models.text_classifier " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "seconds": round(time.perf_counter() - start, 1),
        "impl": impl,
        "model": {
            **{
                name: parameter.default
                for name, parameter in inspect.signature(TextClassifier).parameters.items()
                if parameter.default is not inspect.Parameter.empty
            },
            **model_kwargs,
            "vocab_size": len(vocab),
            "num_classes": len(STDLIB_PACKAGES),
        },
        "training": {
            "optimizer": "AdamW",
            "lr": 1e-3,
            "weight_decay": 0.01,
            "batch_size": 32,
            "warmup": "linear, first 10% of steps",
            "decay": "cosine to 0",
        },
        "parameters": sum(p.numel() for p in model.parameters()),
        "packages": list(STDLIB_PACKAGES),
        "train_size": len(train_set),
        "val_size": len(val_set),
        "history": history,
        "val_accuracy": accuracy,
        "confusion": confusion.tolist(),
        "attention_example": {
            "place": val_set.places[index],
            "tokens": vocab.decode(ids),
            "label": int(label),
            "maps": [
                [[[round(v, 4) for v in row] for row in head] for head in m[0].tolist()]
                for m in maps
            ],
        },
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(partial, path)
    print(f"wrote {path}: val accuracy {accuracy:.3f} after {epochs} epochs")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m byhand.models.text_classifier",
        description="Train the text classifier on stdlib docstrings; write the measurements.",
    )
    parser.add_argument("--write-results", metavar="FILE", required=True)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--impl", choices=["byhand", "torch"], default="byhand")
    args = parser.parse_args(argv)
    write_results(args.write_results, args.epochs, args.threads, args.seed, args.impl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
