"""Modules written by hand, named and shaped like their ``torch.nn`` twins.

One file per topic, mirroring ``torch.nn``'s own (``linear.py``, ``activation.py``, ``loss.py``,
...); the maths each module calls lives in the same-named file of ``byhand.nn.functional``.
"""

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
