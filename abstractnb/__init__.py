"""abstractnb: compute with the theory of when abstract representations emerge in
neural networks (Wang, Johnston & Fusi, arXiv:2510.09816, 2025).

Data flow (one way): conditions (``tasks``) -> inputs (``inputs``) -> training
(``training``) or the mean-field convex solver (``meanfield``) -> representations ->
``metrics`` and pictures (``plotting``, ``widgets``) -> chapters.

Submodules are imported on demand (``from abstractnb import metrics``) so that
importing the package does not pull in torch or cvxpy.
"""
__version__ = "0.1.0"
