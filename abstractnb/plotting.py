r"""Figures: one style and the pictures every chapter reuses.

* :func:`plot_geometry` — a 3-D view of a representation, one point per condition,
  with the edges of the latent hypercube drawn between conditions that differ in one
  latent. A factorized code shows up as a parallelogram / parallelepiped (edges of one
  colour are parallel), a conjunctive (one-hot) code as a regular simplex.
* :func:`plot_kernel` — a heatmap of a :math:`P\times P` kernel with condition labels.
* :func:`plot_atoms` — a heatmap of the responses of a few units (atoms) over the conditions.
* :func:`plot_metrics` — bars of metric values (one or several representations).
* :func:`plot_history` — curves over training steps.
* :func:`subplots` — a figure of ``n`` panels, wrapped into rows so it is at most
  :data:`MAX_WIDTH` wide (the sizes of every figure here are set from :data:`MAX_WIDTH`).

Importing this module changes no global matplotlib state: the house style lives in
:data:`STYLE` and is applied only inside :func:`style` (a context manager), which
every plotting function here enters. Every function returns the matplotlib Axes it
drew on (``ax.figure`` is the Figure) and never calls ``plt.show``.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from mpl_toolkits.mplot3d.art3d import Line3DCollection

from ._validate import as_latents, as_matrix

# Okabe–Ito: distinguishable by colour-blind readers and in greyscale print.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

MAX_WIDTH = 8.0
"""Widest figure, in inches, that any function here makes.

The book's text column is about 8 in wide at the figures' resolution, so a figure up to this
width is shown at (nearly) its own size and its 8-10 pt labels stay legible; a wider one is
shrunk to the column and its labels with it (a 17 in strip of panels ends up with 4 px tick
labels). Panels that do not fit side by side wrap into rows (:func:`grid`)."""

PANEL = (3.3, 3.3)
"""Default size (width, height) in inches of one panel of a multi-panel figure."""

STYLE: dict = {
    "figure.figsize": (5.0, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "lines.linewidth": 1.6,
    "image.cmap": "RdBu_r",
}
"""rc parameters of the house style (used only inside :func:`style`)."""


@contextmanager
def style(**overrides) -> Iterator[None]:
    """Context manager applying :data:`STYLE` (plus ``overrides``) to figures made inside it.

    >>> with style():
    ...     fig, ax = plt.subplots()
    """
    # Save and restore only the keys we set. mpl.rc_context would restore *every* rcParam,
    # including 'interactive', which IPython's inline backend switches on when pyplot picks
    # its backend: a first figure made inside the context would silence all later ones.
    params = {**STYLE, **overrides}
    saved = {k: mpl.rcParams[k] for k in params}
    try:
        mpl.rcParams.update(params)
        yield
    finally:
        mpl.rcParams.update(saved)


def grid(n: int, *, panel: tuple[float, float] = PANEL, ncols: int | None = None
         ) -> tuple[int, int, tuple[float, float]]:
    """Rows, columns and figure size for ``n`` panels of size ``panel``, at most :data:`MAX_WIDTH` wide.

    By default as many panels as fit in :data:`MAX_WIDTH` go side by side and the rest wrap
    into further rows; with ``ncols`` given, panels shrink (keeping their aspect) when
    ``ncols`` of them would be wider than :data:`MAX_WIDTH`.

    >>> grid(3)            # two 3.3 in panels per row
    (2, 2, (6.6, 6.6))
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n (number of panels) must be >= 1; got {n}")
    w, h = float(panel[0]), float(panel[1])
    if not (w > 0 and h > 0):
        raise ValueError(f"panel must be a positive (width, height) in inches; got {panel!r}")
    if ncols is None:
        ncols = max(1, min(n, int(MAX_WIDTH // w)))
    ncols = int(ncols)
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1; got {ncols}")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    shrink = min(1.0, MAX_WIDTH / (ncols * w))
    return nrows, ncols, (round(ncols * w * shrink, 3), round(nrows * h * shrink, 3))


def subplots(n: int, *, panel: tuple[float, float] = (3.6, 3.0), ncols: int | None = None, **kwargs):
    """A figure of ``n`` panels laid out by :func:`grid` (at most :data:`MAX_WIDTH` wide).

    Returns ``(fig, axes)`` with ``axes`` a 1-D array of exactly ``n`` Axes in reading order
    (the unused cells of the last row are removed). ``kwargs`` go to ``plt.subplots`` (e.g.
    ``layout="constrained"``, ``subplot_kw=dict(projection="3d")``). Use it instead of
    ``plt.subplots(1, n, figsize=...)`` so that a figure never outgrows the text column.
    """
    nrows, ncols, figsize = grid(n, panel=panel, ncols=ncols)
    with style():
        fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, **kwargs)
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def fit_width(width: float, height: float) -> tuple[float, float]:
    """``(width, height)`` with the width capped at :data:`MAX_WIDTH` (the height is kept)."""
    return (min(float(width), MAX_WIDTH), float(height))


def condition_labels(S) -> list[str]:
    """One label per condition, a ``+``/``-`` per latent: the row (-1, +1, -1) is ``"-+-"``."""
    S = as_latents(S)
    return ["".join("+" if s > 0 else "-" for s in row) for row in S]


def hypercube_edges(S) -> list[tuple[int, int, int]]:
    """Pairs of conditions that differ in exactly one latent.

    Returns a list of ``(mu, nu, k)`` with ``mu < nu`` and ``k`` the latent that flips.
    For the full hypercube of D latents there are :math:`D\\,2^{D-1}` edges.
    """
    S = as_latents(S)
    edges = []
    P = S.shape[0]
    for mu in range(P):
        for nu in range(mu + 1, P):
            diff = np.flatnonzero(S[mu] != S[nu])
            if diff.size == 1:
                edges.append((mu, nu, int(diff[0])))
    return edges


def project_3d(H, S) -> tuple[np.ndarray, float]:
    r"""Coordinates of the conditions in the top-3 principal subspace of the centred means.

    The subspace is spanned by the three leading principal components of
    :math:`H - \mathbf 1\bar h^\top`; inside it the coordinates are turned (an orthogonal
    map, so distances and angles are kept) to best match the first three latents
    (orthogonal Procrustes). The turn only fixes the viewpoint: principal components
    with equal variance (a cube, a simplex) are otherwise arbitrary.

    Returns
    -------
    C : (P, 3) array
        Coordinates (zero-padded when the representation has rank < 3).
    explained : float
        Fraction of the total variance captured by the three components (1 if rank <= 3).
    """
    H = as_matrix(H, "H (representation)")
    S = as_latents(S)
    if H.shape[0] != S.shape[0]:
        raise ValueError(f"H has {H.shape[0]} rows but S has {S.shape[0]} conditions; need one row per condition")
    Hc = H - H.mean(axis=0)
    U, sv, _ = np.linalg.svd(Hc, full_matrices=False)
    total = float(np.sum(sv ** 2))
    k = min(3, sv.size)
    C = np.zeros((H.shape[0], 3))
    C[:, :k] = U[:, :k] * sv[:k]
    explained = 1.0 if total == 0 else float(np.sum(sv[:k] ** 2) / total)
    T = np.zeros((S.shape[0], 3))
    d = min(3, S.shape[1])
    T[:, :d] = S[:, :d] - S[:, :d].mean(axis=0)
    u, _, vt = np.linalg.svd(C.T @ T)
    return C @ (u @ vt), min(explained, 1.0)


def plot_geometry(H, S, ax=None, title: str | None = None, *, labels: bool | None = None,
                  latent_names: Sequence[str] | None = None, legend: bool = True):
    r"""3-D picture of a representation: conditions as points, hypercube edges between them.

    Parameters
    ----------
    H : (P, N) array
        The representation: row :math:`\mu` is the (mean) activity in condition :math:`\mu`.
    S : (P, D) array of +-1
        The latents of the conditions.
    ax : matplotlib 3-D Axes, optional
        Drawn into if given (must be made with ``projection="3d"``); a new figure otherwise.
    title : str, optional
    labels : bool, optional
        Write the condition label (``"+-+"``) next to each point; default: when P <= 8.
    latent_names : sequence of D str, optional
        Legend names of the latents (default :math:`s_1,\dots,s_D`).
    legend : bool
        Show which edge colour belongs to which latent.

    Returns
    -------
    ax : the 3-D Axes.

    Notes
    -----
    The view is the top-3 principal subspace of the centred condition means (see
    :func:`project_3d`); the fraction of variance it holds is printed in the corner.
    An edge joins two conditions that differ in one latent and is coloured by that
    latent. Fill marks :math:`s_1` (filled: +1), shape marks :math:`s_2` (circle: +1).
    The points carry ``gid="conditions"`` and the edges ``gid="edges"``.
    """
    S = as_latents(S)
    C, explained = project_3d(H, S)
    P, D = S.shape
    names = list(latent_names) if latent_names is not None else [f"$s_{{{k + 1}}}$" for k in range(D)]
    if len(names) != D:
        raise ValueError(f"latent_names must name all {D} latents; got {len(names)}")
    if ax is not None and getattr(ax, "name", None) != "3d":
        raise ValueError("ax must be a 3-D Axes (made with projection='3d'); got a 2-D Axes")
    if labels is None:
        labels = P <= 8
    with style():
        if ax is None:
            fig = plt.figure(figsize=(4.2, 4.0))
            ax = fig.add_subplot(projection="3d")
        # Draw in zorder (edges, points, labels) rather than by depth, so labels stay readable.
        ax.computed_zorder = False
        edges = hypercube_edges(S)
        if edges:
            segs = [(C[m], C[n]) for m, n, _ in edges]
            cols = [PALETTE[k % len(PALETTE)] for _, _, k in edges]
            ax.add_collection3d(Line3DCollection(segs, colors=cols, linewidths=2.0, alpha=0.9, gid="edges",
                                                 zorder=2))
        face = np.where(S[:, 0] > 0, "0.15", "white")
        marker_s2 = S[:, 1] > 0 if D > 1 else np.ones(P, bool)
        for shape, mask in (("o", marker_s2), ("s", ~marker_s2)):
            if mask.any():
                ax.scatter(*C[mask].T, s=46, marker=shape, c=list(face[mask]), edgecolors="black",
                           linewidths=1.0, depthshade=False, zorder=5,
                           gid="conditions")
        if labels:
            offset = 0.06 * (np.ptp(C, axis=0).max() or 1.0)
            for lab, c in zip(condition_labels(S), C):
                ax.text(c[0] + offset, c[1] + offset, c[2] + offset, lab, fontsize=8, family="monospace",
                        zorder=10, bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
        # Equal scales on the three axes, or the geometry is distorted.
        half = 0.55 * (np.ptp(C, axis=0).max() or 1.0)
        mid = (C.max(axis=0) + C.min(axis=0)) / 2
        ax.set_xlim(mid[0] - half, mid[0] + half)
        ax.set_ylim(mid[1] - half, mid[1] + half)
        ax.set_zlim(mid[2] - half, mid[2] + half)
        ax.set_box_aspect((1, 1, 1))
        # Coordinates inside the principal subspace carry no meaning of their own: no ticks.
        for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
            axis.set_ticks([])
            axis.set_pane_color((0.96, 0.96, 0.96, 1.0))
        ax.view_init(elev=22, azim=-58)
        # Orthographic: parallel edges stay parallel on the page (perspective would bend them).
        ax.set_proj_type("ortho")
        ax.text2D(0.02, 0.02, f"3 PCs: {100 * explained:.0f}% var.", transform=ax.transAxes, fontsize=8,
                  color="0.35")
        if legend and edges:
            handles = [mpl.lines.Line2D([], [], color=PALETTE[k % len(PALETTE)], lw=2, label=names[k])
                       for k in range(D)]
            ax.legend(handles=handles, loc="upper right", bbox_to_anchor=(0.08, 0.95), fontsize=8,
                      handlelength=1.2, title="edge flips", title_fontsize=8)
        if title:
            ax.set_title(title)
    return ax


def plot_geometries(codes: Mapping[str, np.ndarray], S, *, ncols: int | None = None, legend: bool = True):
    """One :func:`plot_geometry` panel per representation in ``codes`` (title = key).

    Panels of :data:`PANEL` size, as many side by side as fit in :data:`MAX_WIDTH` (two), the
    rest in further rows; with ``ncols`` given, the panels shrink to keep the figure within
    :data:`MAX_WIDTH`. Returns the Figure; its 3-D Axes are ``fig.axes`` in the order of ``codes``.
    """
    if not codes:
        raise ValueError("codes must hold at least one representation")
    n = len(codes)
    nrows, ncols, figsize = grid(n, panel=PANEL, ncols=ncols)
    with style():
        fig = plt.figure(figsize=figsize)
        for i, (name, H) in enumerate(codes.items()):
            ax = fig.add_subplot(nrows, ncols, i + 1, projection="3d")
            plot_geometry(H, S, ax=ax, title=name, legend=legend and i == 0)
    return fig


def plot_kernel(K, S, ax=None, title: str | None = None, *, colorbar: bool = True, cmap: str | None = None):
    r"""Heatmap of a condition-by-condition kernel :math:`K \in \mathbb R^{P\times P}`.

    Ticks carry the condition labels (``"+-+"``). A kernel with entries of both signs
    gets a diverging colour scale centred at 0. Returns the Axes; the image is
    ``ax.images[0]``.
    """
    S = as_latents(S)
    P = S.shape[0]
    K = as_matrix(K, "K (kernel)", rows=P, cols=P)
    with style():
        if ax is None:
            _, ax = plt.subplots(figsize=(3.8, 3.3))
        if K.min() < 0 < K.max():
            vmax = np.abs(K).max()
            im = ax.imshow(K, cmap=cmap or "RdBu_r", vmin=-vmax, vmax=vmax)
        else:
            im = ax.imshow(K, cmap=cmap or "viridis")
        labs = condition_labels(S)
        ax.set_xticks(range(P), labs, rotation=90 if P > 8 else 0, family="monospace", fontsize=8)
        ax.set_yticks(range(P), labs, family="monospace", fontsize=8)
        for side in ("top", "right", "bottom", "left"):
            ax.spines[side].set_visible(False)
        ax.tick_params(length=0)
        if colorbar:
            ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        if title:
            ax.set_title(title)
    return ax


def plot_atoms(features, S, masses=None, ax=None, title: str | None = None, *,
               atom_labels: Sequence[str] | None = None, colorbar: bool = True, cmap: str | None = None):
    r"""Heatmap of the responses of a few hidden units (e.g. the atoms of an optimal measure).

    Row :math:`j` is the response :math:`h_j \in \mathbb R^P` of unit :math:`j` in the
    :math:`P` conditions (for an atom of :class:`abstractnb.meanfield.Solution`, the
    activation of its preactivations ``atoms[j]``); the columns carry the condition labels
    (``"+-+"``). Nonnegative responses get a sequential colour scale from 0, responses of
    both signs a diverging one centred at 0.

    Parameters
    ----------
    features : (n, P) array
        One row per unit.
    S : (P, D) array of +-1
        Latents of the conditions.
    masses : (n,) array, optional
        Written at the right end of each row (:math:`m_j`), e.g. the masses of the atoms.
    ax : Axes, optional
    title : str, optional
    atom_labels : sequence of n str, optional
        Row labels (default ``"atom 1"``, ...).
    colorbar : bool
    cmap : str, optional

    Returns
    -------
    ax : the Axes; the image is ``ax.images[0]``, the mass labels are ``ax.texts``.
    """
    S = as_latents(S)
    P = S.shape[0]
    Hf = as_matrix(np.atleast_2d(np.asarray(features, dtype=float)), "features", cols=P)
    n = Hf.shape[0]
    labels = [f"atom {j + 1}" for j in range(n)] if atom_labels is None else list(atom_labels)
    if len(labels) != n:
        raise ValueError(f"atom_labels must name all {n} units; got {len(labels)}")
    if masses is not None:
        masses = np.asarray(masses, dtype=float).ravel()
        if masses.shape != (n,) or not np.all(np.isfinite(masses)):
            raise ValueError(f"masses must be {n} finite numbers (one per row of features); got shape "
                             f"{masses.shape}")
    with style():
        if ax is None:
            _, ax = plt.subplots(figsize=fit_width(0.42 * P + 2.4, 0.32 * n + 1.2))
        if Hf.min() < 0 < Hf.max():
            vmax = np.abs(Hf).max()
            im = ax.imshow(Hf, cmap=cmap or "RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
        else:
            im = ax.imshow(Hf, cmap=cmap or "Greys", vmin=min(0.0, Hf.min()), vmax=max(Hf.max(), 1e-300),
                           aspect="auto")
        ax.set_xticks(range(P), condition_labels(S), rotation=90 if P > 8 else 0, family="monospace",
                      fontsize=8)
        ax.set_yticks(range(n), labels, fontsize=8)
        for side in ("top", "right", "bottom", "left"):
            ax.spines[side].set_visible(False)
        ax.tick_params(length=0)
        if masses is not None:
            for j, m in enumerate(masses):
                ax.text(P - 0.3, j, f"  m = {m:.3g}", va="center", ha="left", fontsize=8)
        if colorbar:
            # With mass labels to the right, the colour bar goes below.
            kw = dict(orientation="horizontal", fraction=0.08, pad=0.18) if masses is not None else \
                dict(fraction=0.046, pad=0.04)
            ax.figure.colorbar(im, ax=ax, **kw)
        if title:
            ax.set_title(title)
    return ax


def plot_metrics(values: Mapping, ax=None, title: str | None = None, *, hline: float | None = None,
                 annotate: bool = True, ylim: tuple[float, float] | None = None):
    """Bar chart of metric values.

    Parameters
    ----------
    values : mapping
        Either ``{metric: value}`` (one bar per metric) or
        ``{representation: {metric: value}}`` (groups of bars, one colour per
        representation). A value may be an array (e.g. the PS of each latent): the bar
        is its mean and the entries are drawn as dots.
    ax : Axes, optional
    hline : float, optional
        A dashed reference line (e.g. chance = 0.5).
    annotate : bool
        Print the (mean) value above each bar.
    ylim : (low, high), optional
        Default (0, 1.1) when every value lies in [0, 1].

    Returns
    -------
    ax : the Axes; the bars are ``ax.patches``.
    """
    if not values:
        raise ValueError("values must hold at least one metric")
    nested = all(isinstance(v, Mapping) for v in values.values())
    if not nested and any(isinstance(v, Mapping) for v in values.values()):
        raise ValueError("values must be {metric: value} or {representation: {metric: value}}, not a mix")
    groups = values if nested else {"": values}
    metrics: list[str] = []
    for g in groups.values():
        metrics += [m for m in g if m not in metrics]
    n = len(groups)
    width = 0.8 / n
    allvals = []
    with style():
        if ax is None:
            _, ax = plt.subplots(figsize=fit_width(max(3.2, 1.1 * len(metrics) * max(1, 0.6 * n) + 1.0), 3.0))
        for i, (gname, g) in enumerate(groups.items()):
            xs, hs, dots = [], [], []
            for j, m in enumerate(metrics):
                if m not in g:
                    continue
                v = np.atleast_1d(np.asarray(g[m], dtype=float)).ravel()
                if v.size == 0 or not np.all(np.isfinite(v)):
                    raise ValueError(f"value of {m!r} must be finite numbers; got {g[m]!r}")
                x = j + (i - (n - 1) / 2) * width
                xs.append(x)
                hs.append(v.mean())
                allvals.extend(v.tolist())
                if v.size > 1:
                    dots.append((x, v))
            color = PALETTE[i % len(PALETTE)]
            bars = ax.bar(xs, hs, width=0.92 * width, color=color, label=gname or None)
            for x, v in dots:
                ax.plot(np.full(v.size, x), v, "o", ms=3, color="black", alpha=0.7)
            if annotate:
                for b, h in zip(bars, hs):
                    ax.annotate(f"{h:.2f}", (b.get_x() + b.get_width() / 2, h), xytext=(0, 2),
                                textcoords="offset points", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(metrics)), metrics)
        if hline is not None:
            ax.axhline(hline, color="0.4", ls="--", lw=1)
        if ylim is not None:
            ax.set_ylim(*ylim)
        elif min(allvals) >= 0 and max(allvals) <= 1:
            ax.set_ylim(0, 1.12)
        if nested and n > 1:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=min(n, 4))
        if title:
            ax.set_title(title)
    return ax


def plot_history(history, ax=None, *, steps=None, keys: Sequence[str] | None = None,
                 reference: Mapping[str, float] | float | None = None, logx: bool = False,
                 logy: bool = False, xlabel: str = "training step", ylabel: str | None = None,
                 title: str | None = None, band: str = "range"):
    r"""Curves over training steps.

    Parameters
    ----------
    history : mapping, pandas.DataFrame or array
        ``{name: values}``; ``values`` has shape (T,) for one run or (T, R) for R runs
        (e.g. seeds), drawn as the mean with a shaded band. A ``"step"`` entry, if
        present, is used as the x values. A bare array (e.g. ``TrainResult.history``)
        is one curve, named ``ylabel`` or ``"objective"``.
    ax : Axes, optional
    steps : (T,) array, optional
        x values (default: the ``"step"`` entry, else 0..T-1).
    keys : names to draw (default: all but ``"step"``).
    reference : float or {name: float}, optional
        Horizontal dashed lines, e.g. the global optimum :math:`J^*` of the convex problem.
    logx, logy : bool
    band : ``"range"`` (min–max over runs), ``"std"`` (mean ± 1 sd), or ``"none"``.

    Returns
    -------
    ax : the Axes; one line per key in ``ax.lines`` (before the reference lines).
    """
    if band not in ("range", "std", "none"):
        raise ValueError(f"band must be 'range', 'std' or 'none'; got {band!r}")
    if hasattr(history, "to_dict") and hasattr(history, "columns"):
        history = {c: history[c].to_numpy() for c in history.columns}
    elif not isinstance(history, Mapping):
        # A bare array, e.g. TrainResult.history: one curve.
        history = {ylabel or "objective": history}
    if not history:
        raise ValueError("history must be a non-empty mapping {name: values}, a DataFrame or an array")
    keys = [k for k in history if k != "step"] if keys is None else list(keys)
    missing = [k for k in keys if k not in history]
    if missing:
        raise ValueError(f"keys {missing} are not in history (it has {list(history)})")
    if not keys:
        raise ValueError("nothing to plot: history holds only 'step'")
    if steps is None and "step" in history:
        steps = history["step"]
    with style():
        if ax is None:
            _, ax = plt.subplots(figsize=(4.6, 3.2))
        for i, k in enumerate(keys):
            v = np.asarray(history[k], dtype=float)
            if v.ndim == 1:
                v = v[:, None]
            if v.ndim != 2 or v.shape[0] == 0:
                raise ValueError(f"history[{k!r}] must have shape (T,) or (T, runs); got {np.shape(history[k])}")
            x = np.arange(v.shape[0]) if steps is None else np.asarray(steps, dtype=float)
            if x.shape != (v.shape[0],):
                raise ValueError(f"steps has shape {x.shape} but history[{k!r}] has {v.shape[0]} steps")
            color = PALETTE[i % len(PALETTE)]
            mean = np.nanmean(v, axis=1)
            ax.plot(x, mean, color=color, label=k)
            if v.shape[1] > 1 and band != "none":
                if band == "range":
                    lo, hi = np.nanmin(v, axis=1), np.nanmax(v, axis=1)
                else:
                    sd = np.nanstd(v, axis=1)
                    lo, hi = mean - sd, mean + sd
                ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
        if reference is not None:
            refs = reference if isinstance(reference, Mapping) else {"reference": reference}
            for j, (name, val) in enumerate(refs.items()):
                ax.axhline(float(val), color="0.3", ls=("--", ":", "-.")[j % 3], lw=1.1, label=name)
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        if ylabel:
            ax.set_ylabel(ylabel)
        if len(keys) > 1 or reference is not None:
            ax.legend()
        if title:
            ax.set_title(title)
    return ax
