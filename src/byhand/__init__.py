"""byhand: PyTorch's building blocks rebuilt by hand, each checked against the built-in it
re-creates.
"""

from byhand import nn, optim

__version__ = "0.1.0"
__all__ = ["nn", "optim", "__version__"]
