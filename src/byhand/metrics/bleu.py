"""BLEU (Papineni et al., 2002), written out: modified n-gram precision with clipping, the
brevity penalty, corpus-level counts, uniform weights.

A sentence is a list of tokens (``"a red circle".split()``). ``references`` holds, for each
candidate, the list of its reference sentences.

    p_n  = Σ_candidates Σ_ngram min(count, max count in one reference) / Σ_candidates #ngrams
    BP   = 1 if c > r else exp(1 − r / c)      c: candidate words, r: closest reference lengths
    BLEU = BP · exp(Σ_n w_n log p_n),  w_n = 1/N for n = 1..N

No smoothing: a corpus with no matching n-gram of some order scores 0, as in the paper.
"""

import math
from collections import Counter
from fractions import Fraction

__all__ = [
    "brevity_penalty",
    "closest_reference_length",
    "corpus_bleu",
    "bleu_scores",
    "exact_match",
    "modified_precision",
    "ngrams",
]


# --8<-- [start:precision]
def ngrams(tokens, n):
    """``Counter`` of the n-grams (tuples) of ``tokens``."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def modified_precision(candidate, references, n):
    """``Fraction`` clipped matches / candidate n-grams for one sentence: each n-gram counts
    at most as often as it appears in the single reference that holds it most often."""
    counts = ngrams(candidate, n)
    most = Counter()
    for reference in references:
        most |= ngrams(reference, n)  # element-wise maximum over the references
    clipped = sum(min(count, most[gram]) for gram, count in counts.items())
    return Fraction(clipped, max(sum(counts.values()), 1))


# --8<-- [end:precision]


# --8<-- [start:brevity]
def closest_reference_length(candidate, references):
    """The reference length closest to the candidate's ("best match length"; ties: shorter)."""
    return min((abs(len(r) - len(candidate)), len(r)) for r in references)[1]


def brevity_penalty(c, r):
    """1 when the candidates are longer than the references, else ``exp(1 − r/c)``."""
    if c > r:
        return 1.0
    return math.exp(1 - r / c) if c > 0 else 0.0


# --8<-- [end:brevity]


def _check(references, candidates):
    if len(references) != len(candidates):
        raise ValueError(
            f"BLEU expects one list of references per candidate, got {len(references)} "
            f"reference lists for {len(candidates)} candidates"
        )
    for i, refs in enumerate(references):
        if not refs or isinstance(refs[0], str):
            raise ValueError(
                f"BLEU expects each entry of references to be a non-empty list of token "
                f"lists, got {refs!r} at index {i}"
            )


# --8<-- [start:corpus]
def corpus_bleu(references, candidates, max_n=4):
    """Corpus BLEU-``max_n``: n-gram counts summed over the corpus before dividing, lengths
    summed before the brevity penalty (not an average of sentence scores)."""
    _check(references, candidates)
    matched, total = [0] * max_n, [0] * max_n
    c = r = 0
    for refs, candidate in zip(references, candidates):
        for n in range(1, max_n + 1):
            counts = ngrams(candidate, n)
            matched[n - 1] += modified_precision(candidate, refs, n) * sum(counts.values())
            total[n - 1] += sum(counts.values())
        c += len(candidate)
        r += closest_reference_length(candidate, refs)
    if min(matched) == 0:  # log 0: no smoothing, the geometric mean is 0
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matched, total)) / max_n
    return brevity_penalty(c, r) * math.exp(log_precision)


# --8<-- [end:corpus]


def bleu_scores(references, candidates, max_n=4):
    """``{"BLEU-1": ..., ..., "BLEU-max_n"}``: BLEU-n weighs orders 1..n uniformly."""
    return {f"BLEU-{n}": corpus_bleu(references, candidates, n) for n in range(1, max_n + 1)}


def exact_match(references, candidates):
    """Fraction of candidates equal, token for token, to one of their references."""
    _check(references, candidates)
    if not candidates:
        return 0.0
    hits = sum(list(c) in [list(r) for r in refs] for refs, c in zip(references, candidates))
    return hits / len(candidates)
