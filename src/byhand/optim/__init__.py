"""Optimizers written by hand, with the arguments and state keys of ``torch.optim``'s."""

from byhand.optim import lr_scheduler
from byhand.optim.adadelta import *
from byhand.optim.adagrad import *
from byhand.optim.adam import *
from byhand.optim.adamw import *
from byhand.optim.lamb import *
from byhand.optim.lookahead import *
from byhand.optim.nadam import *
from byhand.optim.radam import *
from byhand.optim.rmsprop import *
from byhand.optim.sgd import *
