"""Recurrent modules: ``RNN``, ``LSTM``, ``GRU`` and their cells, drop-ins for ``torch.nn``'s.

Parameters carry PyTorch's names (``weight_ih_l0``, ``bias_hh_l1_reverse``,
``weight_hr_l0``...), shapes and gate order, and are drawn in the same order from
``U(-1/√H, 1/√H)``, so the same seed gives the same weights and state_dicts load both ways.
"""

import math
import warnings

import torch

from byhand.nn import functional as F
from byhand.nn import init

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _shape(t):
    return tuple(t.shape)


# --8<-- [start:base]
class RNNBase(torch.nn.Module):
    """Parameters, initialisation and input checks shared by ``RNN``, ``LSTM`` and ``GRU``.

    Shapes: ``input`` ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``, ``(L, H_in)``
    unbatched); ``hx`` ``(D·num_layers, N, H)``.
    """

    def __init__(
        self,
        mode,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"dropout should be a number in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout is applied between recurrent layers, so non-zero dropout expects "
                f"num_layers greater than 1, but got dropout={dropout} and num_layers=1",
                stacklevel=2,
            )
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if num_layers <= 0:
            raise ValueError(f"num_layers must be greater than zero, got {num_layers}")
        if not 0 <= proj_size < hidden_size:
            raise ValueError(
                f"proj_size must be in [0, hidden_size={hidden_size}), got {proj_size}"
            )
        if mode not in GATES:  # PyTorch: ValueError
            raise ValueError(
                f"Unrecognized RNN mode: {mode!r}; expected one of {sorted(GATES)}"
            )
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = (
            float(dropout),
            bidirectional,
            proj_size,
        )
        factory = {"device": device, "dtype": dtype}
        gate_size = GATES[mode] * hidden_size
        real_hidden = proj_size or hidden_size
        directions = 2 if bidirectional else 1
        self._all_weights = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {
                    "weight_ih": (gate_size, layer_input),
                    "weight_hh": (gate_size, real_hidden),
                }
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                names = []
                for name, shape in shapes.items():
                    setattr(
                        self, name + suffix, torch.nn.Parameter(torch.empty(shape, **factory))
                    )
                    names.append(name + suffix)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        # Every weight and bias from U(-1/√H, 1/√H), in registration order (as PyTorch draws).
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _layer_weights(self):
        """``(w_ih, w_hh, b_ih, b_hh, w_hr)`` per layer and direction, ``None`` where absent."""
        keys = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        return [
            tuple(
                getattr(self, f"{key}{names[0].removeprefix('weight_ih')}", None)
                for key in keys
            )
            for names in self._all_weights
        ]

    def _prepare(self, input, hx):
        """Check shapes; return the time-first batched input, initial state, batched flag.

        A ``PackedSequence`` passes its data ``(sum of lengths, C)`` through; its batch is
        ``batch_sizes[0]`` and ``hx`` is reordered into the packing's (length-sorted) order.
        """
        name = type(self).__name__
        packed = isinstance(input, torch.nn.utils.rnn.PackedSequence)
        sorted_indices = None
        if packed:
            input, batch_sizes, sorted_indices, _ = input
            if input.dim() != 2:
                raise ValueError(
                    f"{name}: Expected packed data of shape (sum of lengths, "
                    f"{self.input_size}), got {_shape(input)}"
                )
        elif input.dim() not in (2, 3):
            raise ValueError(
                f"{name}: Expected input to be 2D or 3D, got {input.dim()}D tensor instead"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name} expects input of shape (L, N, {self.input_size}) or "
                f"(L, {self.input_size})"
                f" (input_size={self.input_size}), got {_shape(input)}"
            )
        if input.dtype != self.weight_ih_l0.dtype:
            raise ValueError(
                f"{name} input dtype ({input.dtype}) does not match weight dtype "
                f"({self.weight_ih_l0.dtype})"
            )
        batched = packed or input.dim() == 3
        if packed:
            batch = int(batch_sizes[0])
        else:
            if not batched:
                input = input.unsqueeze(1)
            elif self.batch_first:
                input = input.transpose(0, 1)
            if input.shape[0] == 0:
                raise RuntimeError(f"{name} expects a sequence length larger than 0, got 0")
            batch = input.shape[1]
        rows = self.num_layers * (2 if self.bidirectional else 1)
        sizes = {"h": self.proj_size or self.hidden_size, "c": self.hidden_size}
        keys = ("h", "c") if self.mode == "LSTM" else ("h",)
        if hx is None:
            states = [input.new_zeros(rows, batch, sizes[k]) for k in keys]
        else:
            states = list(hx) if self.mode == "LSTM" else [hx]
            for key, state in zip(keys, states):
                expected = (rows, batch, sizes[key]) if batched else (rows, sizes[key])
                if _shape(state) != expected:
                    label = "hx" if self.mode != "LSTM" else f"hx[{keys.index(key)}] ({key}0)"
                    raise ValueError(
                        f"{name} expects {label} of shape {expected} "
                        f"(num_layers·directions, {'batch, ' if batched else ''}"
                        f"{'proj_size' if key == 'h' and self.proj_size else 'hidden_size'}), "
                        f"got {_shape(state)}"
                    )
            if not batched:
                states = [s.unsqueeze(1) for s in states]
            if sorted_indices is not None:  # batch order → the packing's sorted order
                states = [s.index_select(1, sorted_indices) for s in states]
        return input, (tuple(states) if self.mode == "LSTM" else states[0]), batched

    def forward(self, input, hx=None):
        packed = isinstance(input, torch.nn.utils.rnn.PackedSequence)
        x, state, batched = self._prepare(input, hx)
        output, state = F.recurrent(
            x,
            state,
            self._layer_weights(),
            self.mode,
            self.num_layers,
            self.dropout,
            self.training,
            self.bidirectional,
            input.batch_sizes if packed else None,
        )
        if packed:  # states back to the caller's batch order; the output stays packed
            if input.unsorted_indices is not None:
                order = input.unsorted_indices
                state = (
                    tuple(s.index_select(1, order) for s in state)
                    if self.mode == "LSTM"
                    else state.index_select(1, order)
                )
            output = torch.nn.utils.rnn.PackedSequence(
                output, input.batch_sizes, input.sorted_indices, input.unsorted_indices
            )
        elif not batched:
            output = output.squeeze(1)
            state = (
                tuple(s.squeeze(1) for s in state) if self.mode == "LSTM" else state.squeeze(1)
            )
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, state

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        for key, default in (("proj_size", 0), ("num_layers", 1), ("bias", True)):
            if getattr(self, key) != default:
                text += f", {key}={getattr(self, key)}"
        for key, default in (
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
        ):
            if getattr(self, key) != default:
                text += f", {key}={getattr(self, key)}"
        return text


# --8<-- [end:base]


# --8<-- [start:modules]
class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)``, ``act`` tanh or relu.

    ``input (L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``) or unbatched ``(L, H_in)``;
    returns ``output (L, N, D·H)`` and ``h_n (num_layers·D, N, H)``.
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        nonlinearity="tanh",
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        device=None,
        dtype=None,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        self.nonlinearity = nonlinearity
        super().__init__(
            "RNN_" + nonlinearity.upper(),
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )


class LSTM(RNNBase):
    """Long short-term memory; returns ``output, (h_n, c_n)``. Gates packed ``i, f, g, o``.

    Shapes: ``input`` ``(L, N, H_in)`` (``batch_first``: ``(N, L, H_in)``); ``output`` ``(L, N,
    D·H)``; ``h_n``, ``c_n`` ``(D·num_layers, N, H)``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit; returns ``output, h_n``. Gates packed ``r, z, n``.

    Shapes: ``input`` ``(L, N, H_in)`` (``batch_first``: ``(N, L, H_in)``); ``output`` ``(L, N,
    D·H)``; ``h_n`` ``(D·num_layers, N, H)``.
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


# --8<-- [end:modules]


# --8<-- [start:cells]
class RNNCellBase(torch.nn.Module):
    """One step of a recurrent layer: ``weight_ih (G·H, C)``, ``weight_hh (G·H, H)``, biases.

    Shapes: ``input`` ``(N, C)`` or ``(C,)``; states ``(N, H)`` or ``(H,)``.
    """

    _cell = None  # the functional step, set by each subclass

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        factory = {"device": device, "dtype": dtype}
        gates = num_chunks * hidden_size
        self.weight_ih = torch.nn.Parameter(torch.empty(gates, input_size, **factory))
        self.weight_hh = torch.nn.Parameter(torch.empty(gates, hidden_size, **factory))
        if bias:
            self.bias_ih = torch.nn.Parameter(torch.empty(gates, **factory))
            self.bias_hh = torch.nn.Parameter(torch.empty(gates, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def _check(self, input, states):
        """Batched ``(N, C)`` input and ``(N, H)`` states (zeros if ``None``); batched flag."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(
                f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name} expects input of shape (N, {self.input_size}) or "
                f"({self.input_size},), "
                f"got {_shape(input)}"
            )
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        checked = []
        for i, state in enumerate(states):
            label = "hx" if len(states) == 1 else f"hx[{i}]"
            if state is None:
                state = input.new_zeros(input.shape[0], self.hidden_size)
            else:
                expected = (
                    (input.shape[0], self.hidden_size) if batched else (self.hidden_size,)
                )
                if _shape(state) != expected:
                    raise ValueError(
                        f"{name} expects {label} of shape {expected}, got {_shape(state)}"
                    )
                state = state if batched else state.unsqueeze(0)
            checked.append(state)
        return input, checked, batched

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text


class RNNCell(RNNCellBase):
    """``h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)`` for ``x (N, C)`` or ``(C,)``."""

    def __init__(
        self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), batched = self._check(input, [hx])
        cell = F.rnn_tanh_cell if self.nonlinearity == "tanh" else F.rnn_relu_cell
        h = cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: ``(x, (h, c))`` → ``(h', c')``; gates packed ``i, f, g, o``.

    Shapes: ``input`` ``(N, C)`` or ``(C,)``; ``h``, ``c`` ``(N, H)`` or ``(H,)``.
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        x, (h, c), batched = self._check(input, [None, None] if hx is None else list(hx))
        h, c = F.lstm_cell(
            x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
        )
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: ``(x, h)`` → ``h'``; gates packed ``r, z, n``.

    Shapes: ``input`` ``(N, C)`` or ``(C,)``; ``h`` ``(N, H)`` or ``(H,)``.
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._check(input, [hx])
        h = F.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)


# --8<-- [end:cells]
