"""The shapes captioning case study: data, model (byhand vs torch), loss masking, decoding."""

import itertools
import math

import pytest
import torch

from byhand.data import shapes
from byhand.models import captioning


def tiny_model(impl="byhand", vocab_size=6, **kw):
    torch.manual_seed(0)
    kw = dict(wordvec_dim=4, hidden_size=5, width=2, image_size=16, **kw)
    return captioning.ShapesCaptioner(vocab_size, impl=impl, **kw).double().eval()


def test_images_are_deterministic_and_captions_follow_the_grammar():
    images, captions = shapes.make_shapes(40, size=32, seed=3)
    again, same = shapes.make_shapes(40, size=32, seed=3)
    other, _ = shapes.make_shapes(40, size=32, seed=4)
    assert images.shape == (40, 3, 32, 32) and images.dtype == torch.float32
    assert torch.equal(images, again) and captions == same
    assert not torch.equal(images, other)
    assert 0 <= images.min() and images.max() <= 1
    words = set(shapes.grammar_words())
    for caption in captions:
        assert set(caption.split()) <= words
        assert len(caption.split()) in (3, 7, 8)


def test_caption_says_where_the_first_shape_is():
    """The first-named colour's pixels lie on the side its relation names."""
    images, captions = shapes.make_shapes(60, size=32, seed=1)
    checked = 0
    for image, caption in zip(images, captions):
        words = caption.split()
        if len(words) == 3 or words[1] == words[-2]:
            continue  # one shape, or both shapes the same colour
        relation = " ".join(words[3:-3])
        centres = []
        for colour in (words[1], words[-2]):
            rgb = torch.tensor(shapes.COLOURS[colour]).view(3, 1, 1)
            ys, xs = torch.nonzero(((image - rgb).abs() < 0.06).all(0), as_tuple=True)
            centres.append((xs.float().mean(), ys.float().mean()))
        (ax, ay), (bx, by) = centres
        expected = {"above": ay < by, "below": ay > by, "left of": ax < bx, "right of": ax > bx}
        assert expected[relation], caption
        checked += 1
    assert checked > 20


def test_vocabulary_round_trip_and_padding():
    vocab = shapes.shapes_vocabulary()
    assert vocab.idx_to_word[:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    tokens = vocab.encode_batch(["a red circle", "a blue square above a red triangle"])
    assert tokens.shape == (2, 9) and tokens[0, 5:].eq(vocab.null).all()
    assert vocab.decode(tokens[1]) == "a blue square above a red triangle"
    assert vocab.encode("a purple circle")[2] == vocab.unk
    with pytest.raises(ValueError, match="too short"):
        vocab.encode_batch(["a blue square above a red triangle"], length=4)
    assert shapes.references("a red circle left of a blue square") == [
        "a red circle left of a blue square",
        "a blue square right of a red circle",
    ]


def test_byhand_and_torch_models_agree():
    """Same state_dict keys; the byhand model's weights loaded into the torch one give the
    same scores, loss and gradients (float64, train mode: batch statistics)."""
    ours, theirs = tiny_model("byhand").train(), tiny_model("torch").train()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    images = torch.rand(3, 3, 16, 16, dtype=torch.float64)
    captions = torch.tensor([[1, 4, 5, 2, 0], [1, 5, 2, 0, 0], [1, 4, 4, 4, 2]])
    losses = []
    for model in (ours, theirs):
        loss_fn = (torch.nn if model is theirs else captioning.byhand.nn).CrossEntropyLoss(
            ignore_index=0
        )
        loss, n_correct, n = captioning.caption_batch(model, (images, captions), loss_fn)
        loss.backward()
        losses.append(loss)
        assert n == 9  # targets that are not <NULL>
    assert torch.allclose(losses[0], losses[1], atol=1e-12, rtol=0)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-10, rtol=0), name


def test_padded_steps_do_not_count():
    """The loss is the mean over real target words only: equal to a hand-written masked mean,
    unchanged by the scores at padded steps, and different from the unmasked mean."""
    model = tiny_model().train()
    images = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    captions = torch.tensor([[1, 4, 2, 0, 0], [1, 5, 4, 2, 0]])
    loss_fn = captioning.byhand.nn.CrossEntropyLoss(ignore_index=0)
    loss, scores = captioning.caption_loss(model, images, captions, loss_fn)
    target = captions[:, 1:]
    nll = -torch.log_softmax(scores, -1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
    real = target != 0
    assert torch.allclose(loss, nll[real].mean(), atol=1e-14)
    assert not torch.allclose(loss, nll.mean())
    (grad,) = torch.autograd.grad(loss, scores)
    assert grad[~real].abs().max() == 0 and grad[real].abs().min() > 0


@torch.no_grad()
def exhaustive_best(model, images, max_length, length_penalty):
    """Every word sequence up to max_length (ending at <END> or cut), scored as beam search
    scores it: the best per image."""
    vocab = model.head.out_features
    best = []
    for image in images:
        top, top_words = -math.inf, None
        for length in range(1, max_length + 1):
            for words in itertools.product(range(vocab), repeat=length):
                if model.end in words[:-1] or (length < max_length and words[-1] != model.end):
                    continue
                state = model.initial_state(image.unsqueeze(0))
                word, total = torch.tensor([model.start]), 0.0
                for w in words:
                    logp, state = model.step(word, state)
                    total += float(logp[0, w])
                    word = torch.tensor([w])
                score = total / length**length_penalty
                if score > top:
                    top, top_words = score, list(words)
        best.append(top_words)
    return best


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_beam_search_as_wide_as_every_hypothesis_is_exhaustive(length_penalty):
    model = tiny_model(vocab_size=4)
    images = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    max_length = 3
    found = captioning.beam_search(
        model, images, beam_width=4 ** (max_length - 1), max_length=max_length,
        length_penalty=length_penalty,
    )  # fmt: skip
    for row, words in zip(found.tolist(), exhaustive_best(model, images, 3, length_penalty)):
        assert row[: len(words)] == words
        assert all(w == model.null for w in row[len(words) :])


def test_beam_of_one_is_greedy_and_wider_beams_score_no_worse():
    model = tiny_model(vocab_size=7)
    images = torch.rand(6, 3, 16, 16, dtype=torch.float64)
    greedy = captioning.greedy_decode(model, images, max_length=6)
    one = captioning.beam_search(model, images, beam_width=1, max_length=6)
    assert torch.equal(greedy, one)
    assert greedy.shape[0] == 6 and greedy.shape[1] <= 6


def test_recipe_trains_end_to_end(tmp_path):
    """`byhand train lstm-captioning-shapes` on a tiny budget: the run folder's weights load
    into the model, the loss falls, and the trained model captions the held-out images."""
    import json

    from byhand.train import TrainConfig, train

    out = tmp_path / "run"
    config = TrainConfig(
        recipe="lstm-captioning-shapes", out=str(out), synthetic=32, epochs=2, device="cpu",
        progress=False, threads=1,
    )  # fmt: skip
    final = train(config)
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[1]["train_loss"] < history[0]["train_loss"]
    assert math.isfinite(final["val_loss"])
    _, val, vocab = shapes.shapes_datasets(0, 16)
    model = captioning.ShapesCaptioner(len(vocab))
    model.load_state_dict(torch.load(out / "model-final.pt", weights_only=True))
    scores, captions = captioning.evaluate_captions(model, val, beam_width=2, max_length=9)
    assert len(captions) == 16 and set(scores) == {f"BLEU-{n}" for n in range(1, 5)} | {"exact"}
    assert all(0 <= v <= 1 for v in scores.values())


def test_bad_input_names_what_was_expected():
    with pytest.raises(ValueError, match="divisible by 8, got 30"):
        captioning.ShapesCaptioner(17, image_size=30)
    with pytest.raises(ValueError, match="'byhand' or 'torch', got 'jax'"):
        captioning.ShapesCaptioner(17, impl="jax")
    with pytest.raises(ValueError, match="size >= 16, got n=4, size=8"):
        shapes.make_shapes(4, size=8)
    with pytest.raises(ValueError, match="not a caption of the shapes grammar"):
        shapes.references("a red circle near a blue square")
