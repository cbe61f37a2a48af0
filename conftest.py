"""pytest wiring: sybil runs every ```python block of docs/*.md and docs/*/*.md as a test.

A block that starts with ``>>>`` is a doctest: its printed output is checked too.

One namespace per page, so a page's blocks run top to bottom like a script. ``CUDA`` is in every
namespace, for ``<!-- skip: start if(not CUDA, reason="needs CUDA") -->`` around CUDA-only blocks.
"""

from doctest import ELLIPSIS, NORMALIZE_WHITESPACE

import torch
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser


def _setup(namespace):
    namespace["CUDA"] = torch.cuda.is_available()


pytest_collect_file = Sybil(
    parsers=[
        PythonCodeBlockParser(doctest_optionflags=ELLIPSIS | NORMALIZE_WHITESPACE),
        SkipParser(),
    ],
    patterns=["docs/*.md", "docs/*/*.md"],
    excludes=["docs/templates/*"],  # the page template is a skeleton, not a page
    setup=_setup,
).pytest()
