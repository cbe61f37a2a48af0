"""The classic track: NumPy layers with explicit forward and backward, gradient-checked.

Every layer is ``*_forward(...) -> (out, cache)`` and ``*_backward(dout, cache) -> gradients``;
losses return ``(loss, dx)``. Nothing here imports torch.
"""

from byhand.classic.conv import *
from byhand.classic.gradient_check import *
from byhand.classic.layers import *
from byhand.classic.losses import *
from byhand.classic.models import *
from byhand.classic.normalization import *
from byhand.classic.pooling import *
from byhand.classic.rnn import *
from byhand.classic.solver import *
