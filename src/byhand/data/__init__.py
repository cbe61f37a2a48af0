"""Dataset loaders written by hand: each reads a published file format into tensors."""

from byhand.data.digits import *
from byhand.data.text import *
