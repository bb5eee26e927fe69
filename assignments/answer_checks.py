"""Checks used by the autograder tests of the assignments.

Every check raises an ``AssertionError`` whose message tells a student *what* is wrong with
an answer (not defined yet, still ``...``, not a number, wrong shape, NaN, wrong sign, wrong
value) rather than only that a test failed. otter shows the message under the failing line.

The module ships with each assignment (``files:`` in the ASSIGNMENT CONFIG), so the tests can
``from answer_checks import ...`` both in a student's notebook and in ``otter run``. It holds
no answers: the reference values are computed by the tests themselves.
"""
from __future__ import annotations

import numpy as np

__all__ = ["defined", "numbers", "check_array", "check_scalar", "check_choice", "check_bool",
           "check_int", "call"]


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def defined(name: str, value) -> None:
    """Fail if the answer ``name`` is missing (``None``) or still the ``...`` placeholder."""
    if value is None:
        raise AssertionError(f"`{name}` is not defined (or is None): run the cell that defines it, "
                             "and the cells above it")
    if value is Ellipsis:
        raise AssertionError(f"`{name}` is still `...`: replace the ... with your answer")


def numbers(name: str, value) -> np.ndarray:
    """``value`` as a float array, or a message saying it is not numbers."""
    defined(name, value)
    if isinstance(value, (str, bytes)):
        raise AssertionError(f"`{name}` should be a number or an array of numbers; got the text {_short(value)}")
    if isinstance(value, (bool, np.bool_)):
        raise AssertionError(f"`{name}` should be a number; got the boolean {value}")
    if hasattr(value, "detach"):            # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(f"`{name}` should be a number or an array of numbers; got a "
                             f"{type(value).__name__}: {_short(value)}") from None
    if np.iscomplexobj(np.asarray(value)):
        raise AssertionError(f"`{name}` has complex entries; expected real numbers")
    return array


def _finite(name: str, array: np.ndarray, hint: str) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        where = "" if array.ndim == 0 else f" (first at index {tuple(int(i) for i in np.argwhere(bad)[0])})"
        kinds = "NaN" if np.isnan(array).any() else "inf"
        raise AssertionError(f"`{name}` contains {kinds}{where}: look for a division by zero, the log or "
                             f"square root of a negative number, or an empty mean.{_hint(hint)}")


def _hint(hint: str) -> str:
    return f" Hint: {hint}" if hint else ""


def check_array(name: str, value, expected, *, rtol: float = 1e-6, atol: float = 1e-9, hint: str = "",
                what: str = "") -> None:
    """``value`` must equal ``expected`` (same shape, to ``rtol``/``atol``).

    ``what`` describes the expected shape in words (e.g. "one row per condition").
    """
    array = numbers(name, value)
    expected = np.asarray(expected, dtype=float)
    if array.shape != expected.shape:
        extra = f" ({what})" if what else ""
        if array.size == expected.size and array.size > 1:
            extra += "; it has the right number of entries: check the orientation (a transpose?) or reshape"
        raise AssertionError(f"wrong shape: `{name}` has shape {array.shape}, expected {expected.shape}"
                             f"{extra}.{_hint(hint)}")
    _finite(name, array, hint)
    if np.allclose(array, expected, rtol=rtol, atol=atol):
        return
    if np.allclose(array, -expected, rtol=rtol, atol=atol):
        raise AssertionError(f"wrong sign: `{name}` is the negative of the expected value.{_hint(hint)}")
    diff = np.abs(array - expected) - rtol * np.abs(expected)
    worst = np.unravel_index(int(np.argmax(diff)), array.shape) if array.ndim else ()
    n_bad = int(np.sum(~np.isclose(array, expected, rtol=rtol, atol=atol)))
    if array.ndim == 0:
        direction = "too large" if array > expected else "too small"
        raise AssertionError(f"wrong value: `{name}` = {float(array):.6g} is {direction} "
                             f"(relative tolerance {rtol:g}).{_hint(hint)}")
    raise AssertionError(f"wrong value: {n_bad} of the {array.size} entries of `{name}` are off; the largest "
                         f"error is at index {tuple(int(i) for i in worst)}, where you have "
                         f"{float(array[worst]):.6g} (relative tolerance {rtol:g}).{_hint(hint)}")


def check_scalar(name: str, value, expected, *, rtol: float = 1e-6, atol: float = 1e-12, hint: str = "") -> None:
    """A single number (a float, or an array with one entry is refused with a message)."""
    array = numbers(name, value)
    if array.ndim != 0:
        raise AssertionError(f"wrong shape: `{name}` should be a single number; got an array of shape "
                             f"{array.shape}.{_hint(hint)}")
    check_array(name, array, expected, rtol=rtol, atol=atol, hint=hint)


def check_choice(name: str, value, options) -> str:
    """``value`` must be one of the strings ``options``; returns it (stripped, lower case)."""
    defined(name, value)
    if not isinstance(value, str):
        raise AssertionError(f"`{name}` should be one of the strings {list(options)}; got {_short(value)}")
    answer = value.strip().lower()
    if answer not in options:
        raise AssertionError(f"`{name}` = {value!r} is not one of the options {list(options)}")
    return answer


def check_bool(name: str, value) -> bool:
    """``value`` must be True or False (a numpy bool is accepted)."""
    defined(name, value)
    if not isinstance(value, (bool, np.bool_)):
        raise AssertionError(f"`{name}` should be True or False; got {_short(value)}")
    return bool(value)


def check_int(name: str, value) -> int:
    """``value`` must be a whole number."""
    array = numbers(name, value)
    if array.ndim != 0 or not np.isfinite(array) or array != np.round(array):
        raise AssertionError(f"`{name}` should be a whole number; got {_short(value)}")
    return int(array)


def call(name: str, func, *args, **kwargs):
    """Call a student's function ``func`` (named ``name``), turning its failure into a message."""
    defined(name, func)
    if not callable(func):
        raise AssertionError(f"`{name}` should be a function; got a {type(func).__name__}")
    shapes = ", ".join(f"{type(a).__name__} of shape {a.shape}" if hasattr(a, "shape") else _short(a, 30)
                       for a in args)
    try:
        result = func(*args, **kwargs)
    except Exception as err:                # noqa: BLE001 - any error of the student's code
        raise AssertionError(f"`{name}` raised {type(err).__name__}: {err} (called with {shapes})") from None
    if result is None or result is Ellipsis:
        raise AssertionError(f"`{name}` returned {result!r} (called with {shapes}): replace the ... in its body, "
                             "and end it with `return` and your answer")
    return result
