"""The stateless maths behind ``byhand.nn``: one place for each formula, one file per topic.

The files mirror the module files of ``byhand.nn`` (``linear.py``, ``activation.py``,
``loss.py``, ...); this package re-exports every public function, so
``byhand.nn.functional.cross_entropy`` works whichever file it lives in, and a page includes
``functional/loss.py:cross_entropy``.

Every function takes and returns ``torch.Tensor`` and is built from elementary tensor operations
(matmul, exp, log, max, ...), or from a ``torch.autograd.Function`` whose backward is written
out by hand. Forward arguments keep PyTorch's names and order (``input``, ``target``,
``weight``, ...). Where a derivative teaches something it is written out too
(``*_derivative``); the docs check those against autograd.
"""

from byhand.nn.functional.activation import *
from byhand.nn.functional.attention import *
from byhand.nn.functional.conv import *
from byhand.nn.functional.dropout import *
from byhand.nn.functional.embedding import *
from byhand.nn.functional.layout import *
from byhand.nn.functional.linear import *
from byhand.nn.functional.loss import *
from byhand.nn.functional.mlp import *
from byhand.nn.functional.normalization import *
from byhand.nn.functional.pooling import *
from byhand.nn.functional.positional import *
from byhand.nn.functional.recurrent import *
