"""BLEU against the worked examples of Papineni et al. (2002) and, when installed, NLTK."""

import math
import random
from fractions import Fraction

import pytest

from byhand.metrics import bleu


def words(sentence):
    """The paper's examples, lower-cased, without punctuation."""
    return sentence.lower().replace(".", "").split()


# Papineni et al. 2002, §2.1, Example 1 (the references are reused by Example 3 in §2.2).
CANDIDATE_1 = words(
    "It is a guide to action which ensures that the military always obeys the commands of "
    "the party."
)
CANDIDATE_2 = words(
    "It is to insure the troops forever hearing the activity guidebook that party direct."
)
REFERENCES = [
    words(
        "It is a guide to action that ensures that the military will forever heed Party "
        "commands."
    ),
    words(
        "It is the guiding principle which guarantees the military forces always being "
        "under the command of the Party."
    ),
    words("It is the practical guide for the army always to heed the directions of the party."),
]


def test_modified_unigram_precision_of_the_the_the():
    """§2.1, Example 2: 'the the the the the the the' has modified unigram precision 2/7."""
    refs = [words("The cat is on the mat."), words("There is a cat on the mat.")]
    candidate = words("the the the the the the the.")
    assert bleu.modified_precision(candidate, refs, 1) == Fraction(2, 7)
    assert bleu.modified_precision(candidate, refs[:1], 1) == Fraction(2, 7)


def test_modified_precisions_of_example_1():
    """§2.1.1: unigrams 17/18 and 8/14, bigrams 10/17 and 1/13."""
    assert bleu.modified_precision(CANDIDATE_1, REFERENCES, 1) == Fraction(17, 18)
    assert bleu.modified_precision(CANDIDATE_2, REFERENCES, 1) == Fraction(8, 14)
    assert bleu.modified_precision(CANDIDATE_1, REFERENCES, 2) == Fraction(10, 17)
    assert bleu.modified_precision(CANDIDATE_2, REFERENCES, 2) == Fraction(1, 13)


def test_short_candidate_is_precise_but_penalised():
    """§2.2.1, Example 3: 'of the' has precisions 2/2 and 1/1; only the brevity penalty
    (c = 2 against the closest reference length r = 16) stops it scoring high."""
    candidate = words("of the")
    assert bleu.modified_precision(candidate, REFERENCES, 1) == 1
    assert bleu.modified_precision(candidate, REFERENCES, 2) == 1
    assert bleu.closest_reference_length(candidate, REFERENCES) == 16
    assert bleu.corpus_bleu([REFERENCES], [candidate], max_n=2) == pytest.approx(
        math.exp(1 - 16 / 2)
    )


def test_corpus_bleu_from_the_definition():
    """Corpus-level: counts are summed over sentences before dividing (not averaged)."""
    refs, cands = [REFERENCES, REFERENCES], [CANDIDATE_1, CANDIDATE_2]
    p1, p2 = Fraction(17 + 8, 18 + 14), Fraction(10 + 1, 17 + 13)
    c = len(CANDIDATE_1) + len(CANDIDATE_2)  # 32 words
    r = 18 + 16  # closest reference lengths (16, 18, 16 words): 18 to 18 words, 16 to 14
    assert [len(ref) for ref in REFERENCES] == [16, 18, 16]
    expected = math.exp(min(0, 1 - r / c)) * math.sqrt(p1 * p2)
    assert bleu.corpus_bleu(refs, cands, max_n=2) == pytest.approx(expected, rel=1e-12)
    scores = bleu.bleu_scores(refs, cands)
    assert list(scores) == ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"]
    assert scores["BLEU-1"] > scores["BLEU-2"] > scores["BLEU-3"] > scores["BLEU-4"] > 0


def test_perfect_and_empty():
    sentence = words("a red circle above a blue square")
    assert bleu.corpus_bleu([[sentence]], [sentence]) == 1.0
    assert bleu.corpus_bleu([[sentence]], [[]]) == 0.0
    assert bleu.exact_match([[sentence], [sentence]], [sentence, sentence[:3]]) == 0.5
    with pytest.raises(ValueError, match="one list of references per candidate"):
        bleu.corpus_bleu([[sentence]], [sentence, sentence])
    with pytest.raises(ValueError, match="list of token lists"):
        bleu.corpus_bleu([sentence], [sentence])


def test_against_nltk():
    """Random corpora over a small vocabulary: ours equals NLTK's corpus_bleu (no smoothing)."""
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    rng = random.Random(0)
    vocab = "a red blue green circle square triangle above below left right of".split()

    def sentence():
        return [rng.choice(vocab) for _ in range(rng.randint(3, 9))]

    for trial in range(20):
        n = rng.randint(1, 6)
        refs = [[sentence() for _ in range(rng.randint(1, 3))] for _ in range(n)]
        cands = [sentence() for _ in range(n)]
        for max_n in (1, 2, 3, 4):
            weights = (1 / max_n,) * max_n
            theirs = nltk_bleu.corpus_bleu(refs, cands, weights=weights)
            ours = bleu.corpus_bleu(refs, cands, max_n=max_n)
            assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15), (trial, max_n)
