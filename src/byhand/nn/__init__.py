"""Modules written by hand, named and shaped like their ``torch.nn`` twins.

One file per topic, mirroring ``torch.nn``'s own (``linear.py``, ``activation.py``, ``loss.py``,
...); the maths each module calls lives in the same-named file of ``byhand.nn.functional``.

Infrastructure, not blocks: ``Module``, ``Parameter``, the containers (``Sequential``,
``ModuleList``, ``ModuleDict``, ``ParameterList``, ``ParameterDict``) and ``utils`` are
PyTorch's own, re-exported so that ``import byhand.nn as nn`` runs an ordinary model
definition unchanged; ``init`` is byhand's where it writes a scheme out and PyTorch's for the
rest.
"""

from torch.nn import (
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    ParameterDict,
    ParameterList,
    Sequential,
    utils,
)

from byhand.nn import functional, init
from byhand.nn.activation import *
from byhand.nn.attention import *
from byhand.nn.conv import *
from byhand.nn.dropout import *
from byhand.nn.embedding import *
from byhand.nn.flatten import *
from byhand.nn.linear import *
from byhand.nn.loss import *
from byhand.nn.mlp import *
from byhand.nn.normalization import *
from byhand.nn.pooling import *
from byhand.nn.positional import *
from byhand.nn.recurrent import *
from byhand.nn.transformer import *
