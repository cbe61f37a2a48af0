"""Image captioning: a small CNN encoder → the initial state of an LSTM decoder over words.

``impl="byhand"`` builds every block from ``byhand.nn``, ``impl="torch"`` from ``torch.nn``: the
same code against a module namespace, so both have the same state_dict keys and a state_dict
loads either way. Training uses teacher forcing (the decoder reads the true previous word);
captions are produced by greedy decoding or beam search.
"""

import torch

import byhand
from byhand.data.shapes import references, shapes_datasets, shapes_vocabulary
from byhand.metrics import bleu_scores, exact_match
from byhand.models.namespace import namespace

__all__ = [
    "ShapesCaptioner",
    "beam_search",
    "caption_batch",
    "caption_loss",
    "evaluate_captions",
    "greedy_decode",
    "recipe",
]


# --8<-- [start:model_init]
class ShapesCaptioner(torch.nn.Module):
    """Images ``(N, 3, S, S)`` and caption prefixes ``(N, T)`` → next-word scores ``(N, T, V)``.

    encoder: three (conv 3×3 → batch norm → ReLU → max-pool 2) stages, flattened, so the
    features keep *where* things are (the captions talk about above / left of);
    ``init_state``: features → ``h0`` and ``c0`` of every LSTM layer (``cell_from_image=False``:
    ``h0`` only and ``c0 = 0``, as in CS231n's CaptioningRNN); ``embed``: word → vector;
    ``lstm``; ``head``: hidden state → word scores.
    """

    def __init__(
        self,
        vocab_size,
        wordvec_dim=32,
        hidden_size=64,
        num_layers=1,
        dropout=0.0,
        width=16,
        image_size=32,
        null_index=0,
        start_index=1,
        end_index=2,
        cell_from_image=True,
        impl="byhand",
    ):
        super().__init__()
        nn = namespace(impl)
        if image_size % 8:
            raise ValueError(
                f"ShapesCaptioner expects image_size divisible by 8, got {image_size}"
            )
        self.impl, self.num_layers, self.hidden_size = impl, num_layers, hidden_size
        self.cell_from_image = cell_from_image
        self.null, self.start, self.end = null_index, start_index, end_index
        stages, channels = [], 3
        for out in (width, 2 * width, 2 * width):
            stages += [
                nn.Conv2d(channels, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            channels = out
        self.encoder = nn.Sequential(*stages, nn.Flatten())
        features = channels * (image_size // 8) ** 2
        states = 2 if cell_from_image else 1
        self.init_state = nn.Linear(features, states * num_layers * hidden_size)
        self.embed = nn.Embedding(vocab_size, wordvec_dim, padding_idx=null_index)
        self.lstm = nn.LSTM(
            wordvec_dim, hidden_size, num_layers, batch_first=True, dropout=dropout
        )
        self.head = nn.Linear(hidden_size, vocab_size)

    # --8<-- [end:model_init]
    # --8<-- [start:model_forward]
    def initial_state(self, images):
        """``(h0, c0)``, each ``(num_layers, N, hidden_size)``, from the image features."""
        states = self.init_state(self.encoder(images))
        states = states.view(len(images), -1, self.num_layers, self.hidden_size)
        h0 = states[:, 0].transpose(0, 1).contiguous()
        if not self.cell_from_image:
            return h0, torch.zeros_like(h0)
        return h0, states[:, 1].transpose(0, 1).contiguous()

    def forward(self, images, captions):
        """Teacher forcing: ``captions`` ``(N, T)`` are the words read; → ``(N, T, V)``."""
        output, _ = self.lstm(self.embed(captions), self.initial_state(images))
        return self.head(output)

    def step(self, words, state):
        """One decoding step: ``words`` ``(B,)`` → log-probabilities ``(B, V)``, new state."""
        output, state = self.lstm(self.embed(words).unsqueeze(1), state)
        F = byhand.nn.functional if self.impl == "byhand" else torch.nn.functional
        return F.log_softmax(self.head(output.squeeze(1)), dim=-1), state


# --8<-- [end:model_forward]


# --8<-- [start:loss]
def caption_loss(model, images, captions, loss_fn):
    """Read ``captions[:, :-1]``, predict ``captions[:, 1:]``; ``loss_fn`` is a
    ``CrossEntropyLoss(ignore_index=<NULL>)``, so padded steps add nothing to loss or gradient.
    Returns ``(loss, scores (N, T-1, V))``."""
    scores = model(images, captions[:, :-1])
    loss = loss_fn(scores.reshape(-1, scores.shape[-1]), captions[:, 1:].reshape(-1))
    return loss, scores


def caption_batch(model, batch, loss_fn):
    """The engine's ``batch_fn``: ``(loss, words predicted right, words)`` over non-``<NULL>``
    targets (teacher-forced next-word accuracy)."""
    images, captions = batch
    loss, scores = caption_loss(model, images, captions, loss_fn)
    target = captions[:, 1:]
    real = target != model.null
    n_correct = ((scores.argmax(-1) == target) & real).sum()
    return loss, n_correct, real.sum()


# --8<-- [end:loss]


# --8<-- [start:greedy]
@torch.no_grad()
def greedy_decode(model, images, max_length=12):
    """``(N, L ≤ max_length)`` word indices: each step feeds back its most likely word; a
    caption stops at ``<END>`` (kept), and ``<NULL>`` fills the steps after it."""
    state = model.initial_state(images)
    words = torch.full((images.shape[0],), model.start, dtype=torch.long, device=images.device)
    done = torch.zeros_like(words, dtype=torch.bool)
    out = []
    for _ in range(max_length):
        logp, state = model.step(words, state)
        words = logp.argmax(-1).masked_fill(done, model.null)
        out.append(words)
        done = done | (words == model.end)
        if done.all():
            break
    return torch.stack(out, dim=1)


# --8<-- [end:greedy]


# --8<-- [start:beam]
@torch.no_grad()
def beam_search(model, images, beam_width=3, max_length=12, length_penalty=1.0):
    """``(N, L ≤ max_length)`` word indices of the best of ``beam_width`` hypotheses per image.

    Hypotheses are ranked by ``sum log p / length ** length_penalty`` (length counts the
    words and ``<END>``; 0 ranks by the plain sum, which favours short captions). A
    hypothesis that has emitted ``<END>`` is finished: it stays in the beam, extended only by
    ``<NULL>`` at no cost, and competes with the unfinished ones at every step.
    """
    n, k = images.shape[0], beam_width
    state = tuple(s.repeat_interleave(k, dim=1) for s in model.initial_state(images))
    device = images.device
    words = torch.full((n * k,), model.start, dtype=torch.long, device=device)
    total = torch.zeros(
        n, k, device=device, dtype=images.dtype
    )  # sum of log-probabilities per hypothesis
    total[:, 1:] = -torch.inf  # all k start as one hypothesis: keep a single copy
    length = torch.zeros_like(total)
    done = torch.zeros(n, k, dtype=torch.bool, device=device)
    tokens = torch.zeros(n, k, 0, dtype=torch.long, device=device)
    for _ in range(max_length):
        logp, state = model.step(words, state)
        logp = logp.view(n, k, -1)
        vocab = logp.shape[-1]
        finished = torch.full_like(logp, -torch.inf)
        finished[..., model.null] = 0.0
        candidate = total.unsqueeze(-1) + torch.where(done.unsqueeze(-1), finished, logp)
        new_length = (length + (~done)).unsqueeze(-1)
        rank = candidate / new_length**length_penalty
        best = rank.view(n, -1).topk(k, dim=1).indices  # (n, k) over k·V candidates
        beam, word = best // vocab, best % vocab
        total = candidate.view(n, -1).gather(1, best)
        length = new_length.squeeze(-1).gather(1, beam)
        done = done.gather(1, beam) | (word == model.end)
        tokens = tokens.gather(1, beam.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
        tokens = torch.cat([tokens, word.unsqueeze(-1)], dim=-1)
        rows = (beam + k * torch.arange(n, device=device).unsqueeze(1)).view(-1)
        state = tuple(s[:, rows] for s in state)
        words = word.view(-1)
        if done.all():
            break
    chosen = (total / length**length_penalty).argmax(1)
    return tokens[torch.arange(n, device=device), chosen]


# --8<-- [end:beam]


@torch.no_grad()
def evaluate_captions(model, dataset, beam_width=1, max_length=12, **beam_options):
    """Caption the images of a ``ShapesCaptions`` ``dataset`` (greedy when
    ``beam_width == 1``) and score them against every reference of each image. Returns
    ``(scores, captions)``: BLEU-1..4 and ``exact`` (the fraction equal to a reference)."""
    images = dataset.images.to(next(model.parameters()).device)
    was_training = model.training
    model.eval()
    try:
        if beam_width == 1:
            ids = greedy_decode(model, images, max_length)
        else:
            ids = beam_search(model, images, beam_width, max_length, **beam_options)
    finally:
        model.train(was_training)
    captions = [dataset.vocab.decode(row) for row in ids]
    refs = [[r.split() for r in references(c)] for c in dataset.captions]
    candidates = [c.split() for c in captions]
    scores = bleu_scores(refs, candidates)
    scores["exact"] = exact_match(refs, candidates)
    return scores, captions


# --8<-- [start:recipe]
def recipe():
    """``lstm-captioning-shapes``: the captioner on 3000 training / 500 held-out shape images
    (``--synthetic N``: N training images and N/4 held out), Adam, warm-up + cosine."""
    from byhand.train.recipes import Recipe  # byhand.train registers this recipe

    vocab = shapes_vocabulary()

    def build(impl):
        return ShapesCaptioner(len(vocab), impl=impl)

    def datasets(config):
        n_train, n_val = (3000, 500) if config.synthetic is None else (config.synthetic, 0)
        # The images do not depend on the training seed: every run is scored on the same ones.
        train, val, _ = shapes_datasets(n_train, n_val or max(n_train // 4, 1))
        return train, val

    def loss(impl):
        return namespace(impl).CrossEntropyLoss(ignore_index=vocab.null)

    def optimizer(impl, params, config):
        adam = byhand.optim.Adam if impl == "byhand" else torch.optim.Adam
        return adam(params, lr=config.lr, weight_decay=config.weight_decay)

    return Recipe(
        "lstm-captioning-shapes",
        "CNN encoder + LSTM decoder, captions of generated shapes; Adam + cosine",
        build,
        datasets,
        epochs=12,
        batch_size=32,
        lr=3e-3,
        warmup_epochs=0.5,
        loss=loss,
        optimizer=optimizer,
        batch_fn=caption_batch,
        synthetic=True,
    )


# --8<-- [end:recipe]


RESULTS = "docs/case-studies/results/lstm-captioning-shapes.json"
COMMAND = (
    "python -m byhand.models.captioning"  # writes RESULTS; the page's numbers come from it
)
VARIANTS = {"c0 from the image": True, "c0 = 0 (CS231n)": False}


def train_and_score(cell_from_image=True, n_train=None, epochs=None, samples=8, **fit_options):
    """Train the recipe's model with ``byhand.train.fit`` and score it on the held-out images:
    ``{"history", "greedy", "beam", "samples"}`` (plain numbers and strings, for JSON)."""
    import types

    from byhand.train import cosine_schedule, fit, seed_everything

    spec = recipe()
    config = types.SimpleNamespace(
        synthetic=n_train, lr=spec.lr, weight_decay=spec.weight_decay, seed=0
    )
    epochs = epochs or spec.epochs
    seed_everything(0)
    train, val = spec.datasets(config)
    model = ShapesCaptioner(len(train.vocab), cell_from_image=cell_from_image)
    result = fit(
        model,
        train,
        val,
        loss=spec.loss("byhand"),
        optimizer=lambda params: spec.optimizer("byhand", params, config),
        scheduler=cosine_schedule(spec.warmup_epochs),
        epochs=epochs,
        batch_size=spec.batch_size,
        batch_fn=spec.batch_fn,
        **fit_options,
    )
    greedy, greedy_captions = evaluate_captions(model, val)
    beam, beam_captions = evaluate_captions(model, val, beam_width=3)
    differ = [i for i, (g, b) in enumerate(zip(greedy_captions, beam_captions)) if g != b]
    extra = [i for i in differ if i >= samples // 2][: samples // 2]  # where beam ≠ greedy
    shown = [*range(samples - len(extra)), *extra]
    return {
        "n_train": len(train),
        "n_val": len(val),
        "epochs": epochs,
        "history": result["history"],
        "greedy": greedy,
        "beam": beam,
        "beam_differs": len(differ),
        "samples": [
            {"index": i, "truth": val.captions[i], "greedy": greedy_captions[i],
             "beam": beam_captions[i]}
            for i in shown
        ],
    }  # fmt: skip


def write_results(path=RESULTS, n_train=None, epochs=None):
    """Train each variant of ``VARIANTS`` with the recipe and write the results, dated, with
    the machine and versions, to ``path`` (atomically: written beside it, then renamed)."""
    import datetime
    import json
    import os
    import platform
    import time

    started = time.time()
    runs = {
        name: train_and_score(cell, n_train, epochs, device="cpu", threads=1, progress=False)
        for name, cell in VARIANTS.items()
    }
    record = {
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": COMMAND,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "threads": 1,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "byhand": byhand.__version__},
        "seconds": round(time.time() - started, 1),
        "runs": runs,
    }  # fmt: skip
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
    return record


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 2:
        sys.exit(f"usage: {COMMAND} [RESULTS.json] (default {RESULTS})")
    write_results(*sys.argv[1:])
