"""Thin, batch-first layer classes over :mod:`rnnlab.scratch.functional`.

A layer holds ``params`` (named and shaped exactly like the matching PyTorch module's
``state_dict``) and ``grads`` (same keys and shapes, filled by ``backward``). ``forward`` returns
the outputs and a cache; ``backward`` consumes that cache, so several forward passes can be in
flight at once and the result never depends on call order.

>>> import numpy as np
>>> from rnnlab.scratch import LSTM
>>> layer = LSTM(3, 5, seed=0)
>>> hs, cache = layer.forward(np.ones((2, 4, 3)))      # (N, T, D) -> (N, T, H)
>>> dx, (dh0, dc0) = layer.backward(np.ones_like(hs), cache)
>>> dx.shape, layer.grads["weight_hh_l0"].shape
((2, 4, 3), (20, 5))
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.scratch import functional as F
from rnnlab.scratch._checks import as_dtype, check_array, check_sequence_input

Params = dict[str, np.ndarray]


class SequenceCache(NamedTuple):
    """What a recurrent layer's forward pass keeps for its backward pass.

    A cache is bound to the layer that made it and to that layer's parameters at the time:
    ``backward`` refuses a cache made by another layer, or one made before the parameters
    changed (an optimiser step, ``load_params``), since its gradients would be wrong.
    """

    cell: Any  # the functional cache (time-major)
    batch_first_shape: tuple[int, int, int]  # (N, T, D) of the input
    final_state: Any  # h_T (N, H), or (h_T, c_T) for the LSTM
    owner: object = None  # the token of the layer whose forward made it
    made_by: str = ""  # that layer, in words (for error messages)
    params_fingerprint: tuple = ()  # checksum of that layer's parameters at forward time


def _describe(value) -> str:
    """A short description of a wrong value for an error message."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"


_UINT = {4: np.uint32, 8: np.uint64}


def params_fingerprint(params: Params) -> tuple[int, ...]:
    """A cheap checksum of the parameters' bits: per array, the integer sum of its words.

    Exact (integer arithmetic, wrapping), NaN-safe, and changed by any optimiser step; about
    40 microseconds for an LSTM with H = 128. It does not see values swapped with each other.
    """
    return tuple(int(np.asarray(p).view(_UINT.get(p.dtype.itemsize, np.uint8)).sum(dtype=np.uint64))
                 for p in params.values())


class RecurrentLayer:
    """Base class of :class:`RNN`, :class:`LSTM` and :class:`GRU` (single layer, batch first).

    Parameters
    ----------
    input_size : int
        D, the number of input features.
    hidden_size : int
        H, the number of hidden units.
    seed : int, optional
        Seed for the initial weights, drawn like PyTorch's: U(-1/sqrt(H), 1/sqrt(H)).
    dtype : float32 or float64
    """

    cell: ClassVar[str] = ""
    torch_class: ClassVar[str] = ""
    num_gates: ClassVar[int] = 1

    def __init__(self, input_size: int, hidden_size: int, *, seed: int | None = None, dtype=np.float64):
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"expected {name} to be a positive int, found {value!r}")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.dtype = as_dtype(dtype)
        GH, H, D = self.num_gates * hidden_size, hidden_size, input_size
        rng = np.random.default_rng(seed)
        k = 1.0 / np.sqrt(H)
        shapes = {F.W_IH: (GH, D), F.W_HH: (GH, H), F.B_IH: (GH,), F.B_HH: (GH,)}
        self.params: Params = {
            name: rng.uniform(-k, k, size=shape).astype(self.dtype) for name, shape in shapes.items()
        }
        self.grads: Params = {name: np.zeros_like(p) for name, p in self.params.items()}
        self._token = object()  # identifies this layer's caches (a copy gets its own)

    @property
    def cache_token(self) -> object:
        """The object that this layer's caches carry to show which layer made them."""
        if "_token" not in self.__dict__:
            self._token = object()
        return self._token

    # -- state handling ----------------------------------------------------------------------
    def _initial_state(self, h0, N: int):
        if h0 is None:
            return np.zeros((N, self.hidden_size), dtype=self.dtype)
        return check_array("h0", h0, (N, self.hidden_size), self.dtype)

    def _grad_state(self, dh, N: int, name: str):
        if dh is None:
            return None
        return check_array(name, dh, (N, self.hidden_size), self.dtype)

    # -- the public interface ----------------------------------------------------------------
    def forward(self, x, h0=None):
        """Run the layer over a batch of sequences.

        Parameters
        ----------
        x : array_like, (N, T, D), or integer ids (N, T)
            Batch-first inputs (converted to the layer's dtype; NaN or inf raise). Integer ids
            in [0, D) stand for one-hot rows: the same outputs as ``np.eye(D)[ids]``, with the
            input product replaced by picking columns of W_ih (a character model's input).
        h0 : array_like (N, H), optional
            Initial hidden state; zeros by default. For the LSTM a pair ``(h0, c0)``.

        Returns
        -------
        hs : ndarray, (N, T, H)
            Hidden states h_1..h_T.
        cache : SequenceCache
            Everything :meth:`backward` needs.
        """
        x = check_sequence_input(x, self.input_size, self.dtype)
        N = x.shape[0]
        # always a copy, so the cache never aliases the caller's array (even when N or T is 1)
        hs_tm, cell_cache = self._forward_tm(np.swapaxes(x, 0, 1).copy(order="C"), h0, N)
        final = self._final_state(cell_cache)
        cache = SequenceCache(cell_cache, (*x.shape[:2], self.input_size), final, self.cache_token, repr(self), params_fingerprint(self.params))
        return hs_tm.transpose(1, 0, 2), cache

    def backward(self, dhs, cache: SequenceCache, dh_T=None, *, truncate: int | None = None,
                 accumulate: bool = False, return_dh: bool = False):
        """Backpropagation through time.

        Parameters
        ----------
        dhs : array_like, (N, T, H)
            dL/dh_t for every step, from whatever uses the hidden states.
        cache : SequenceCache
            From :meth:`forward`.
        dh_T : array_like (N, H), optional
            Extra gradient on the final state (LSTM: a pair ``(dh_T, dc_T)``, either may be None).
        truncate : int, optional
            Truncated BPTT window k: the gradient through the recurrence is cut every k steps.
        accumulate : bool
            Add to ``self.grads`` instead of overwriting them.
        return_dh : bool
            Also return dL/dh_t (N, T, H), the total gradient reaching each hidden state.

        Returns
        -------
        dx : ndarray (N, T, D), or None when the forward got ids (they have no gradient)
        dh0 : ndarray (N, H), or ``(dh0, dc0)`` for the LSTM
        dh : ndarray (N, T, H), only when ``return_dh``
        """
        self.check_cache(cache)
        N, T, _ = cache.batch_first_shape
        dhs = check_array("dhs", dhs, (N, T, self.hidden_size), self.dtype)
        # a time-major view is enough: the functional BPTT makes its own feature-major copy
        result = self._backward_tm(dhs.transpose(1, 0, 2), cache.cell, dh_T, N, truncate)
        for name, g in result.grads.items():
            if accumulate:
                self.grads[name] += g
            else:
                self.grads[name] = g
        dx = None if result.dx is None else result.dx.transpose(1, 0, 2)
        if return_dh:
            return dx, result.dstate0, result.dh.transpose(1, 0, 2)
        return dx, result.dstate0

    __call__ = forward

    def check_cache(self, cache) -> None:
        """Raise a one-line ConfigError unless ``cache`` came from this layer's forward with its
        current parameters."""
        name = type(self).__name__
        if not isinstance(cache, SequenceCache):
            raise ConfigError(f"expected the cache returned by this {name} layer's forward, found {_describe(cache)}")
        if cache.owner is not self.cache_token:
            other = f"another layer, {cache.made_by}" if cache.made_by else "something other than a layer's forward"
            raise ConfigError(f"expected a cache made by this {name} layer's forward, found one made by {other}")
        if cache.params_fingerprint != params_fingerprint(self.params):
            raise ConfigError(
                "expected a cache made by this layer's last forward with its current parameters, found one made "
                "before they changed (an optimiser step or load_params since that forward)"
            )

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0.0)

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def astype(self, dtype) -> RecurrentLayer:
        """A copy of this layer with parameters in ``dtype``."""
        other = self._empty_like(as_dtype(dtype))
        other.params = {k: v.astype(other.dtype) for k, v in self.params.items()}
        other.grads = {k: np.zeros_like(v) for k, v in other.params.items()}
        return other

    def load_params(self, params: dict[str, Any]) -> None:
        """Copy parameters in (names and shapes must match exactly)."""
        missing = sorted(set(self.params) - set(params))
        extra = sorted(set(params) - set(self.params))
        if missing or extra:
            raise ShapeError(f"expected parameters {sorted(self.params)}, found {sorted(params)}")
        for name, value in params.items():
            self.params[name] = check_array(name, value, self.params[name].shape, self.dtype).copy()
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    # -- torch conversion -------------------------------------------------------------------
    @classmethod
    def from_torch(cls, module, dtype=np.float64, **kwargs) -> RecurrentLayer:
        """Copy the weights of a single-layer, unidirectional ``torch.nn.RNN/LSTM/GRU``."""
        import torch

        expected = getattr(torch.nn, cls.torch_class)
        if type(module) is not expected:
            raise ConfigError(f"expected a torch.nn.{cls.torch_class}, found {type(module).__name__}")
        if module.num_layers != 1:
            raise ConfigError(
                f"expected a single-layer torch.nn.{cls.torch_class} (use Stack.from_torch for "
                f"several), found num_layers={module.num_layers}"
            )
        if module.bidirectional:
            raise ConfigError(f"expected a unidirectional torch.nn.{cls.torch_class}, found bidirectional=True")
        if not module.bias:
            raise ConfigError(f"expected torch.nn.{cls.torch_class} with bias=True, found bias=False")
        if getattr(module, "proj_size", 0):
            raise ConfigError(f"expected an LSTM without projection, found proj_size={module.proj_size}")
        cls._check_torch_extra(module, kwargs)
        layer = cls(module.input_size, module.hidden_size, dtype=dtype, **kwargs)
        layer.load_params({name: getattr(module, name).detach().cpu().double().numpy() for name in layer.params})
        return layer

    @classmethod
    def _check_torch_extra(cls, module, kwargs) -> None:
        pass

    def to_torch(self):
        """A ``torch.nn`` module (batch_first=True) holding a copy of these weights."""
        import torch

        module = self._make_torch_module(torch)
        tdtype = torch.float64 if self.dtype == np.float64 else torch.float32
        module = module.to(tdtype)
        with torch.no_grad():
            for name, value in self.params.items():
                getattr(module, name).copy_(torch.from_numpy(np.array(value)))
        return module

    # -- per-cell hooks ----------------------------------------------------------------------
    def _make_torch_module(self, torch):
        return getattr(torch.nn, self.torch_class)(self.input_size, self.hidden_size, batch_first=True)

    def _empty_like(self, dtype):
        return type(self)(self.input_size, self.hidden_size, dtype=dtype)

    def _forward_tm(self, x, h0, N):
        raise NotImplementedError

    def _backward_tm(self, dhs, cache, dh_T, N, truncate):
        raise NotImplementedError

    def _final_state(self, cache):
        return cache.final_state()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size}, dtype={self.dtype})"


class RNN(RecurrentLayer):
    """Vanilla (Elman) RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

    ``nonlinearity="relu"`` uses max(0, .) instead of tanh, as ``torch.nn.RNN`` does.
    """

    cell = "rnn"
    torch_class = "RNN"
    num_gates = 1

    def __init__(self, input_size, hidden_size, *, nonlinearity: str = "tanh", seed=None, dtype=np.float64):
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(f"expected nonlinearity 'tanh' or 'relu', found {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, seed=seed, dtype=dtype)

    @classmethod
    def _check_torch_extra(cls, module, kwargs):
        kwargs.setdefault("nonlinearity", module.nonlinearity)

    def _make_torch_module(self, torch):
        return torch.nn.RNN(self.input_size, self.hidden_size, nonlinearity=self.nonlinearity, batch_first=True)

    def _empty_like(self, dtype):
        return RNN(self.input_size, self.hidden_size, nonlinearity=self.nonlinearity, dtype=dtype)

    def _forward_tm(self, x, h0, N):
        return F.rnn_forward(self.params, x, self._initial_state(h0, N), self.nonlinearity)

    def _backward_tm(self, dhs, cache, dh_T, N, truncate):
        return F.rnn_backward(self.params, dhs, cache, self._grad_state(dh_T, N, "dh_T"), truncate)


class LSTM(RecurrentLayer):
    """Long short-term memory (PyTorch's formulation, gates i, f, g, o).

    States are pairs: ``forward(x, (h0, c0))``, ``backward`` returns ``(dh0, dc0)`` and takes
    ``dh_T=(dh_T, dc_T)``. Its final state ``cache.final_state`` is ``(h_T, c_T)``.
    """

    cell = "lstm"
    torch_class = "LSTM"
    num_gates = 4

    def _initial_state(self, h0, N):
        if h0 is None:
            zeros = np.zeros((N, self.hidden_size), dtype=self.dtype)
            return zeros, zeros.copy()
        if not isinstance(h0, (tuple, list)) or len(h0) != 2:
            raise ShapeError(f"expected the LSTM initial state as a pair (h0, c0), found {type(h0).__name__}")
        return (check_array("h0", h0[0], (N, self.hidden_size), self.dtype),
                check_array("c0", h0[1], (N, self.hidden_size), self.dtype))

    def _forward_tm(self, x, h0, N):
        return F.lstm_forward(self.params, x, self._initial_state(h0, N))

    def _backward_tm(self, dhs, cache, dh_T, N, truncate):
        if dh_T is not None:
            if not isinstance(dh_T, (tuple, list)) or len(dh_T) != 2:
                raise ShapeError(f"expected dh_T for the LSTM as a pair (dh_T, dc_T), found {type(dh_T).__name__}")
            dh_T = (self._grad_state(dh_T[0], N, "dh_T"), self._grad_state(dh_T[1], N, "dc_T"))
        return F.lstm_backward(self.params, dhs, cache, dh_T, truncate)



class GRU(RecurrentLayer):
    """Gated recurrent unit, gates r, z, n.

    ``variant="torch"`` (default) is PyTorch's: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
    ``variant="cho"`` is Cho et al. (2014): n = tanh(W_in x + b_in + W_hn (r * h) + b_hn), the
    reset gate applied to the state before the recurrent product. Both keep torch's parameter
    names and shapes (Cho's paper has one bias per gate; the two biases here add up).
    """

    cell = "gru"
    torch_class = "GRU"
    num_gates = 3

    def __init__(self, input_size, hidden_size, *, variant: str = "torch", seed=None, dtype=np.float64):
        self.variant = F.check_gru_variant(variant)
        super().__init__(input_size, hidden_size, seed=seed, dtype=dtype)

    @classmethod
    def _check_torch_extra(cls, module, kwargs):
        if kwargs.get("variant", "torch") != "torch":
            raise ConfigError(f"expected variant 'torch' for a torch.nn.GRU's weights, found {kwargs['variant']!r}")

    def to_torch(self):
        if self.variant != "torch":
            raise ConfigError("expected a GRU with variant 'torch' to convert to torch.nn.GRU, found 'cho'")
        return super().to_torch()

    def _empty_like(self, dtype):
        return GRU(self.input_size, self.hidden_size, variant=self.variant, dtype=dtype)

    def _forward_tm(self, x, h0, N):
        return F.gru_forward(self.params, x, self._initial_state(h0, N), self.variant)

    def _backward_tm(self, dhs, cache, dh_T, N, truncate):
        return F.gru_backward(self.params, dhs, cache, self._grad_state(dh_T, N, "dh_T"), truncate)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", variant={self.variant!r})"


CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def make_layer(cell: str, input_size: int, hidden_size: int, **kwargs) -> RecurrentLayer:
    """Build a layer by name: ``"rnn"``, ``"lstm"``, ``"gru"`` or ``"gru-cho"``."""
    key = str(cell).lower()
    if key == "gru-cho":
        return GRU(input_size, hidden_size, variant="cho", **kwargs)
    if key not in CELLS:
        raise ConfigError(f"expected cell 'rnn', 'lstm', 'gru' or 'gru-cho', found {cell!r}")
    return CELLS[key](input_size, hidden_size, **kwargs)


class Dense:
    """Affine readout y = x W^T + b over the last axis (torch.nn.Linear's layout).

    ``weight`` (O, D), ``bias`` (O,). Input (..., D) -> output (..., O).
    """

    def __init__(self, in_features: int, out_features: int, *, seed: int | None = None, dtype=np.float64):
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.dtype = as_dtype(dtype)
        k = 1.0 / np.sqrt(in_features)
        rng = np.random.default_rng(seed)
        self.params: Params = {
            "weight": rng.uniform(-k, k, size=(out_features, in_features)).astype(self.dtype),
            "bias": rng.uniform(-k, k, size=(out_features,)).astype(self.dtype),
        }
        self.grads: Params = {k_: np.zeros_like(v) for k_, v in self.params.items()}

    def forward(self, x):
        """x (..., D) -> (y (..., O), cache)."""
        x = np.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ShapeError(f"expected input with last dimension {self.in_features}, found shape {x.shape}")
        if F.uses_kernels(self.dtype):  # the training dtype: rows on two threads (kernels.dense_forward)
            from rnnlab.scratch import kernels

            x = np.ascontiguousarray(x, dtype=self.dtype)
            return kernels.dense_forward(x, self.params["weight"], self.params["bias"]), x
        x = x.astype(self.dtype, copy=False)
        return x @ self.params["weight"].T + self.params["bias"], x

    __call__ = forward

    def backward(self, dy, cache, *, accumulate: bool = False):
        """dy (..., O) -> dx (..., D); fills ``grads``."""
        x = cache
        dy = np.asarray(dy, dtype=self.dtype)
        if dy.shape != x.shape[:-1] + (self.out_features,):
            raise ShapeError(f"expected dy of shape {x.shape[:-1] + (self.out_features,)}, found {dy.shape}")
        if F.uses_kernels(self.dtype) and x.flags.c_contiguous:
            from rnnlab.scratch import kernels

            dx, dW, db = kernels.dense_backward(dy, x, self.params["weight"])
        else:
            dy2 = dy.reshape(-1, self.out_features)
            dW, db = dy2.T @ x.reshape(-1, self.in_features), dy2.sum(axis=0)
            dx = dy @ self.params["weight"]
        for name, g in (("weight", dW), ("bias", db)):
            self.grads[name] = self.grads[name] + g if accumulate else g
        return dx

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.params.values()))


class StackCache(NamedTuple):
    caches: list  # one SequenceCache per layer
    final_state: list  # one final state per layer


class Stack:
    """Several recurrent layers on top of each other (``torch.nn.LSTM(num_layers=L)``'s shape).

    Layer k reads the hidden states of layer k-1. ``forward(x, states=None)`` takes a list of
    initial states (one per layer, or None); ``backward`` returns ``(dx, [dstate0 per layer])``.
    Give ``stack.layers`` to an optimiser.
    """

    def __init__(self, layers: list[RecurrentLayer]):
        if not layers:
            raise ConfigError("expected at least one layer in a Stack, found none")
        for below, above in zip(layers, layers[1:]):
            if above.input_size != below.hidden_size:
                raise ShapeError(
                    f"expected each layer's input size to equal the hidden size below it, found "
                    f"{below.hidden_size} then {above.input_size}"
                )
        self.layers = list(layers)

    @classmethod
    def from_torch(cls, module, dtype=np.float64) -> Stack:
        """Copy a unidirectional multi-layer ``torch.nn.RNN/LSTM/GRU``."""
        import torch

        kinds = {torch.nn.RNN: RNN, torch.nn.LSTM: LSTM, torch.nn.GRU: GRU}
        if type(module) not in kinds:
            raise ConfigError(f"expected torch.nn.RNN, LSTM or GRU, found {type(module).__name__}")
        if module.bidirectional or not module.bias or getattr(module, "proj_size", 0):
            raise ConfigError("expected a unidirectional module with biases and no projection")
        layer_cls = kinds[type(module)]
        layers = []
        for k in range(module.num_layers):
            D = module.input_size if k == 0 else module.hidden_size
            extra = {"nonlinearity": module.nonlinearity} if layer_cls is RNN else {}
            layer = layer_cls(D, module.hidden_size, dtype=dtype, **extra)
            layer.load_params(
                {name: getattr(module, name[:-1] + str(k)).detach().cpu().double().numpy() for name in layer.params}
            )
            layers.append(layer)
        return cls(layers)

    def forward(self, x, states=None):
        """x (N, T, D) -> hs of the top layer (N, T, H) and a :class:`StackCache`."""
        states = [None] * len(self.layers) if states is None else list(states)
        if len(states) != len(self.layers):
            raise ShapeError(f"expected {len(self.layers)} initial states, found {len(states)}")
        caches, out = [], x
        for layer, state in zip(self.layers, states):
            out, cache = layer.forward(out, state)
            caches.append(cache)
        return out, StackCache(caches, [c.final_state for c in caches])

    __call__ = forward

    def backward(self, dhs, cache: StackCache, *, truncate: int | None = None):
        """dhs (N, T, H) on the top layer's states -> (dx, [dstate0 of each layer])."""
        if not isinstance(cache, StackCache) or len(cache.caches) != len(self.layers):
            found = _describe(cache) if not isinstance(cache, StackCache) else f"one for {len(cache.caches)} layers"
            raise ConfigError(f"expected the cache returned by this Stack's forward ({len(self.layers)} layers), found {found}")
        dstate0 = [None] * len(self.layers)
        grad = dhs
        for k in reversed(range(len(self.layers))):
            grad, dstate0[k] = self.layers[k].backward(grad, cache.caches[k], truncate=truncate)
        return grad, dstate0

    def num_parameters(self) -> int:
        return sum(layer.num_parameters() for layer in self.layers)
