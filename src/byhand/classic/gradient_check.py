"""Numerical gradients by centred differences, and the relative error used to compare them."""

import numpy as np

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "rel_error"]


# --8<-- [start:gradient_check]
def eval_numerical_gradient(f, x, h=1e-5):
    """∂f/∂x of a scalar function ``f(x)`` by centred differences, (f(x+h) − f(x−h)) / 2h.

    ``x`` is changed in place and restored, one element at a time.
    """
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        f_plus = f(x)
        x[index] = saved - h
        f_minus = f(x)
        x[index] = saved
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def eval_numerical_gradient_array(f, x, dout, h=1e-5):
    """∂(Σ f(x) · dout)/∂x for an array-valued ``f``: what a backward pass should return."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        f_plus = np.array(f(x), copy=True)
        x[index] = saved - h
        f_minus = np.array(f(x), copy=True)
        x[index] = saved
        grad[index] = np.sum((f_plus - f_minus) * dout) / (2 * h)
    return grad


def rel_error(x, y):
    """max |x − y| / max(1e-8, |x| + |y|), elementwise: the relative error of two gradients."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


# --8<-- [end:gradient_check]
