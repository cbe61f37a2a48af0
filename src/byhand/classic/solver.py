"""Update rules (SGD, momentum, RMSProp, Adam) and a ``Solver`` that trains a classic model.

An update rule is ``rule(w, dw, config) -> (next_w, config)``; ``config`` carries the learning
rate, the hyper-parameters and the rule's state (velocity, moments) from one step to the next.
"""

import copy
import os
import tempfile

import numpy as np

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam", "UPDATE_RULES", "save_atomic", "Solver"]


# --8<-- [start:update_rules]
def sgd(w, dw, config=None):
    """w ← w − lr · dw."""
    config = {"learning_rate": 1e-2, **(config or {})}
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w, dw, config=None):
    """v ← μ v − lr · dw;  w ← w + v (μ = ``momentum``, 0.9)."""
    config = {"learning_rate": 1e-2, "momentum": 0.9, **(config or {})}
    v = (
        config["momentum"] * config.get("velocity", np.zeros_like(w))
        - config["learning_rate"] * dw
    )
    config["velocity"] = v
    return w + v, config


def rmsprop(w, dw, config=None):
    """s ← ρ s + (1 − ρ) dw²;  w ← w − lr · dw / (√s + ε) (ρ = ``decay_rate``, 0.99)."""
    config = {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8, **(config or {})}
    rho = config["decay_rate"]
    cache = rho * config.get("cache", np.zeros_like(w)) + (1 - rho) * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def adam(w, dw, config=None):
    """Adam with bias correction: m, v moving averages of dw and dw²; t counts the steps.

    w ← w − lr · m̂ / (√v̂ + ε), m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ).
    """
    config = {
        "learning_rate": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
        "t": 0,
        **(config or {}),
    }
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] += 1
    config["m"] = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw
    config["v"] = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * dw**2
    m_hat = config["m"] / (1 - b1 ** config["t"])
    v_hat = config["v"] / (1 - b2 ** config["t"])
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config


# --8<-- [end:update_rules]

UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}


# --8<-- [start:save_atomic]
def save_atomic(path, arrays):
    """Write ``arrays`` (name → array) to ``path`` as .npz so that a reader sees either the old
    file or the whole new one: write a temporary file beside it, fsync, then os.replace."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


# --8<-- [end:save_atomic]


# --8<-- [start:solver]
class Solver:
    """Minibatch training of a model with ``params`` and ``loss(X, y)``.

    ``data``: X_train, y_train, X_val, y_val. After every epoch the learning rate is multiplied
    by ``lr_decay`` and the accuracies are recorded; ``best_params`` keeps the parameters of the
    best validation accuracy, written to ``checkpoint_path`` (atomically) when it improves.
    """

    def __init__(
        self,
        model,
        data,
        update_rule="sgd",
        optim_config=None,
        lr_decay=1.0,
        batch_size=100,
        num_epochs=10,
        num_train_samples=1000,
        num_val_samples=None,
        checkpoint_path=None,
        seed=0,
    ):
        if update_rule not in UPDATE_RULES:
            raise ValueError(
                f"update_rule must be one of {sorted(UPDATE_RULES)}, got {update_rule!r}"
            )
        self.model, self.update_rule = model, UPDATE_RULES[update_rule]
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        self.lr_decay, self.batch_size, self.num_epochs = lr_decay, batch_size, num_epochs
        self.num_train_samples, self.num_val_samples = num_train_samples, num_val_samples
        self.checkpoint_path = checkpoint_path
        self.rng = np.random.default_rng(seed)
        self.optim_configs = {name: dict(optim_config or {}) for name in model.params}
        self.loss_history, self.train_acc_history, self.val_acc_history = [], [], []
        self.best_val_acc, self.best_params, self.epoch = -1.0, {}, 0

    def step(self):
        """One minibatch: loss, gradients, one update of every parameter."""
        batch = self.rng.choice(len(self.X_train), self.batch_size)
        loss, grads = self.model.loss(self.X_train[batch], self.y_train[batch])
        self.loss_history.append(float(loss))
        for name, w in self.model.params.items():
            self.model.params[name], self.optim_configs[name] = self.update_rule(
                w, grads[name], self.optim_configs[name]
            )

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Fraction of correct argmax predictions on (at most ``num_samples`` of) X."""
        if num_samples is not None and len(X) > num_samples:
            keep = self.rng.choice(len(X), num_samples, replace=False)
            X, y = X[keep], y[keep]
        predictions = np.concatenate(
            [
                self.model.loss(X[i : i + batch_size]).argmax(axis=1)
                for i in range(0, len(X), batch_size)
            ]
        )
        return float((predictions == y).mean())

    def train(self):
        """Run ``num_epochs`` epochs; the model ends with ``best_params``."""
        per_epoch = max(len(self.X_train) // self.batch_size, 1)
        for _ in range(self.num_epochs):
            for _ in range(per_epoch):
                self.step()
            self.epoch += 1
            for config in self.optim_configs.values():
                config["learning_rate"] = config.get("learning_rate", 1e-2) * self.lr_decay
            train_acc = self.check_accuracy(self.X_train, self.y_train, self.num_train_samples)
            val_acc = self.check_accuracy(self.X_val, self.y_val, self.num_val_samples)
            self.train_acc_history.append(train_acc)
            self.val_acc_history.append(val_acc)
            if val_acc > self.best_val_acc:
                self.best_val_acc = val_acc
                self.best_params = copy.deepcopy(self.model.params)
                if self.checkpoint_path is not None:
                    save_atomic(self.checkpoint_path, self.best_params)
        self.model.params = self.best_params
        return self


# --8<-- [end:solver]
