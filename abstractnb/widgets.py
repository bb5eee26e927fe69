r"""Interactive explorers (ipywidgets), each with a static default figure for the built book.

The morph from a factorized to a conjunctive code
-------------------------------------------------
For latents :math:`S\in\{-1,+1\}^{P\times D}` the *factorized* code is :math:`H_f = S`
(unit :math:`k` reports latent :math:`k`) and the *conjunctive* code is
:math:`H_c = c\,I_P` (one unit per condition). The morph at :math:`\alpha\in[0,1]`
puts the two side by side on disjoint sets of units,

.. math:: H(\alpha) = \big[\sqrt{1-\alpha}\,H_f,\ \sqrt{\alpha}\,H_c\big]
    \in \mathbb R^{P\times(D+P)},

so that its centred kernel is the convex combination
:math:`\bar K(\alpha) = (1-\alpha)\,\bar K_f + \alpha\,\bar K_c`. The scale
:math:`c = \sqrt{DP/(P-1)}` gives both codes the same total variance
(:math:`\operatorname{tr}\bar K_f = \operatorname{tr}\bar K_c = DP`), so
:math:`\alpha` is exactly the share of the variance carried by the conjunctive units.
Since :math:`\bar K_c` spreads its variance evenly over all :math:`P-1` non-constant
Walsh functions, of which :math:`D` are the latents themselves, the interaction share
of :math:`H(\alpha)` is :math:`\alpha\,(P-1-D)/(P-1)`.
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np

from ._validate import as_latents, positive, positive_int
from .plotting import MAX_WIDTH, PALETTE, plot_geometry, plot_metrics, style

# Keys, in display order, of the metrics the explorers report, and their axis labels.
METRIC_NAMES = ("PS", "CCGP", "shattering", "interaction")
_LABELS = {"PS": "PS", "CCGP": "CCGP", "shattering": "shattering\ndim.", "interaction": "interaction\nshare"}


def _alpha(alpha) -> float:
    a = float(alpha)
    if not np.isfinite(a) or not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1]; got {alpha!r}")
    return a


def morph_code(S, alpha: float) -> np.ndarray:
    r"""The code :math:`H(\alpha) = [\sqrt{1-\alpha}\,S,\ \sqrt{\alpha}\,c\,I_P]` (module docstring).

    Parameters
    ----------
    S : (P, D) array of +-1
    alpha : float in [0, 1]
        0: factorized, 1: conjunctive (one-hot).

    Returns
    -------
    H : (P, D + P) array
    """
    S = as_latents(S)
    a = _alpha(alpha)
    P, D = S.shape
    c = np.sqrt(D * P / (P - 1))
    return np.hstack([np.sqrt(1.0 - a) * S, np.sqrt(a) * c * np.eye(P)])


def morph_metrics(S, alpha: float, *, noise: float = 0.3, n_samples: int = 20, seed: int = 0,
                  max_dichotomies: int = 35) -> dict[str, float]:
    r"""Abstraction metrics of :func:`morph_code` ``(S, alpha)``.

    Returns ``{"PS": mean parallelism score over latents, "CCGP": mean CCGP over latents,
    "shattering": shattering dimensionality, "interaction": interaction share}``
    (see :mod:`abstractnb.metrics`). ``noise`` (the standard deviation of the Gaussian
    noise added to every unit) and ``n_samples`` (noisy samples per condition) go to
    the decoding metrics; keep them small for speed.
    """
    return code_metrics(morph_code(S, alpha), S, noise=noise, n_samples=n_samples, seed=seed,
                        max_dichotomies=max_dichotomies)


def code_metrics(H, S, *, noise: float = 0.3, n_samples: int = 20, seed: int = 0,
                 max_dichotomies: int = 35) -> dict[str, float]:
    """The four numbers the explorers show for a code ``H`` (P x N): mean PS and CCGP over
    latents, shattering dimensionality, interaction share. A silent code (the zero network)
    has no geometry: PS and interaction share 0, the decoders at chance (0.5)."""
    from . import metrics

    S = as_latents(S)
    noise = positive(noise, "noise")
    n_samples = positive_int(n_samples, "n_samples")
    if not np.any(H):
        return {"PS": 0.0, "CCGP": 0.5, "shattering": 0.5, "interaction": 0.0}
    return {
        "PS": float(np.mean(metrics.parallelism_score(H, S))),
        "CCGP": float(np.mean(metrics.ccgp(H, S, noise=noise, n_samples=n_samples, seed=seed))),
        "shattering": float(metrics.shattering_dimensionality(H, noise=noise, n_samples=n_samples, seed=seed,
                                                              max_dichotomies=max_dichotomies)),
        "interaction": float(metrics.interaction_share(H, S)),
    }


def morph_figure(S, alphas: Sequence[float] = (0.0, 0.5, 1.0), *, noise: float = 0.3, n_samples: int = 20,
                 seed: int = 0, n_grid: int = 11, max_dichotomies: int = 35):
    r"""Static summary of the morph: the geometry at each of ``alphas`` and the metrics along :math:`\alpha`.

    One 3-D :func:`~abstractnb.plotting.plot_geometry` panel per value in ``alphas``,
    then a panel with the four metrics on a grid of ``n_grid`` values of
    :math:`\alpha` (dashed lines mark ``alphas``).

    Returns
    -------
    fig : matplotlib Figure (made with pyplot, so a notebook shows it).
    """
    import matplotlib.pyplot as plt

    S = as_latents(S)
    alphas = [_alpha(a) for a in np.atleast_1d(alphas)]
    if not alphas:
        raise ValueError("alphas must hold at least one value in [0, 1]")
    n_grid = positive_int(n_grid, "n_grid", minimum=2)
    grid = np.linspace(0.0, 1.0, n_grid)
    curves = {m: [] for m in METRIC_NAMES}
    for a in grid:
        vals = morph_metrics(S, a, noise=noise, n_samples=n_samples, seed=seed, max_dichotomies=max_dichotomies)
        for m in METRIC_NAMES:
            curves[m].append(vals[m])
    n = len(alphas)
    with style():
        # geometries on the first row, the metrics below: at most MAX_WIDTH wide
        fig = plt.figure(figsize=(MAX_WIDTH, 2.8 + 3.0))
        gs = fig.add_gridspec(2, n, height_ratios=[1.0, 1.1], hspace=0.35, wspace=0.1)
        for i, a in enumerate(alphas):
            ax = fig.add_subplot(gs[0, i], projection="3d")
            plot_geometry(morph_code(S, a), S, ax=ax, title=rf"$\alpha = {a:g}$", legend=i == 0)
        ax = fig.add_subplot(gs[1, :])
        for j, m in enumerate(METRIC_NAMES):
            ax.plot(grid, curves[m], "-o", ms=3, color=PALETTE[j], label=m)
        for a in alphas:
            ax.axvline(a, color="0.6", ls="--", lw=0.8)
        ax.set_xlabel(r"$\alpha$ (share of variance in conjunctive units)")
        ax.set_ylim(-0.03, 1.05)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
        ax.set_title("metrics along the morph")
        fig.subplots_adjust(left=0.12, right=0.8, bottom=0.1, top=0.94)
    return fig


def _png(figsize: tuple[float, float], draw) -> bytes:
    """PNG bytes of ``draw(fig)`` on a Figure outside pyplot: an explorer's redraw neither
    displays a figure nor leaves one open."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with style():
        fig = Figure(figsize=figsize)
        FigureCanvasAgg(fig)
        draw(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _render_png(S, alpha: float, values: dict[str, float]) -> bytes:
    return _png((7.0, 3.2), lambda fig: _draw_morph(fig, S, alpha, values))


def _draw_morph(fig, S, alpha: float, values: dict[str, float]) -> None:
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    plot_geometry(morph_code(S, alpha), S, ax=ax, title=rf"$H(\alpha)$, $\alpha = {alpha:.2f}$")
    ax2 = fig.add_subplot(1, 2, 2)
    plot_metrics({_LABELS[m]: values[m] for m in METRIC_NAMES}, ax=ax2, hline=0.5)
    ax2.set_title("metrics (dashed: chance for CCGP)")
    ax2.tick_params(axis="x", labelsize=8)
    fig.subplots_adjust(wspace=0.35, left=0.02, right=0.98, bottom=0.12)


def _metrics_html(alpha: float, values: dict[str, float]) -> str:
    cells = "".join(f"<td style='padding:0 10px'><b>{m}</b> {values[m]:.3f}</td>" for m in METRIC_NAMES)
    return f"<table><tr><td style='padding:0 10px'>α = {alpha:.2f}</td>{cells}</tr></table>"


def morph_explorer(S, *, alpha: float = 0.5, noise: float = 0.3, n_samples: int = 20, seed: int = 0,
                   max_dichotomies: int = 35, step: float = 0.05):
    r"""An ipywidgets explorer of the morph :math:`H(\alpha)` (module docstring).

    A slider sets :math:`\alpha`; the picture (geometry of :math:`H(\alpha)` and a bar
    chart of PS, CCGP, shattering dimensionality and interaction share) and a table of
    the values update when it is released. The picture for the initial ``alpha`` is
    drawn on creation, so the explorer shows it even where no kernel runs (a built page
    keeps the last drawn picture).

    Returns
    -------
    explorer : ipywidgets.VBox
        With attributes ``slider`` (FloatSlider), ``image`` (Image, PNG),
        ``table`` (HTML), ``values`` (dict of the current metric values) and
        ``update(alpha)`` (recompute and redraw; called by the slider).
    """
    import ipywidgets as widgets

    S = as_latents(S)
    a0 = _alpha(alpha)
    noise = positive(noise, "noise")
    n_samples = positive_int(n_samples, "n_samples")
    step = float(step)
    if not 0 < step <= 1:
        raise ValueError(f"step must be in (0, 1]; got {step}")

    slider = widgets.FloatSlider(value=a0, min=0.0, max=1.0, step=step, continuous_update=False,
                                 description="α", readout_format=".2f",
                                 layout=widgets.Layout(width="420px"))
    image = widgets.Image(format="png", layout=widgets.Layout(width="700px"))
    table = widgets.HTML()
    box = widgets.VBox([slider, table, image])

    def update(a) -> dict[str, float]:
        a = _alpha(a)
        vals = morph_metrics(S, a, noise=noise, n_samples=n_samples, seed=seed, max_dichotomies=max_dichotomies)
        box.values = vals
        table.value = _metrics_html(a, vals)
        image.value = _render_png(S, a, vals)
        return vals

    slider.observe(lambda change: update(change["new"]), names="value")
    box.slider, box.image, box.table, box.update = slider, image, table, update
    update(a0)
    return box


# ----------------------------------------------------------------------------- the optimum
#: Input geometries the optimum explorer offers (``inputs.random_embedding`` of dimension 2P, seed 0).
GEOMETRIES = ("aligned", "whitened", "embedding")


def _geometry_inputs(S: np.ndarray, geometry: str) -> np.ndarray:
    from . import inputs

    if geometry == "aligned":
        return inputs.aligned(S)
    if geometry == "whitened":
        return inputs.whitened(S)
    if geometry == "embedding":
        return inputs.random_embedding(S, 2 * S.shape[0], seed=0)
    raise ValueError(f"geometry must be one of {GEOMETRIES}; got {geometry!r}")


def optimum_metrics(S, reg: float, *, geometry: str = "aligned", bias: bool = True, noise: float = 0.3,
                    n_samples: int = 20, seed: int = 0) -> tuple[dict[str, float], object]:
    r"""The certified global minimum for targets :math:`Y = S` and its abstraction.

    Solves :func:`abstractnb.meanfield.solve` (ReLU, standard parametrisation) for the
    inputs of ``geometry`` and returns ``(values, solution)``: ``values`` holds PS, CCGP,
    shattering dimensionality and interaction share of the optimal hidden layer (as in
    ``METRIC_NAMES``), ``max interaction``, the largest interaction energy
    :math:`\operatorname{tr}(M\Sigma)/\operatorname{tr}(\Sigma)` over *all* global minima
    (:func:`abstractnb.meanfield.optimal_set_range`, 0 for the zero network), ``J*`` and
    ``certified``.
    """
    from . import meanfield, metrics, tasks

    S = as_latents(S)
    X, Y = _geometry_inputs(S, geometry), tasks.latent_targets(S)
    sol = meanfield.solve(X, Y, reg=reg, bias=bias, seed=seed)
    (H,) = sol.hidden
    values = code_metrics(H, S, noise=noise, n_samples=n_samples, seed=seed)
    trace = float(np.trace(sol.kernel))
    if trace > 0:
        lo, hi = meanfield.optimal_set_range(sol, metrics.interaction_projector(S))
        values["max interaction"] = max(abs(lo), abs(hi)) / trace
    else:
        values["max interaction"] = 0.0
    values["J*"], values["certified"] = sol.objective, sol.certified
    return values, sol


def _draw_optimum(fig, S, sol, values, title: str):
    from .plotting import plot_kernel

    (H,) = sol.hidden
    ax = fig.add_subplot(1, 3, 1, projection="3d")
    plot_geometry(H if np.any(H) else np.zeros((S.shape[0], 1)), S, ax=ax, title=title, legend=False)
    plot_kernel(sol.kernel, S, ax=fig.add_subplot(1, 3, 2), title=r"optimal kernel $\Sigma^*$",
                colorbar=False)
    ax3 = fig.add_subplot(1, 3, 3)
    short = {"PS": "PS", "CCGP": "CCGP", "shattering": "SD", "interaction": "inter."}
    plot_metrics({short[m]: values[m] for m in METRIC_NAMES}, ax=ax3, hline=0.5)
    ax3.set_title("metrics of the optimum")


def optimum_figure(S, regs: Sequence[float] = (0.02, 0.2), geometries: Sequence[str] = ("aligned", "whitened"),
                   *, bias: bool = True, seed: int = 0):
    r"""Static default of :func:`optimum_explorer`: one row per (reg, geometry) pair, with the
    optimal geometry, kernel and metrics (at most 8 inches wide).

    Returns
    -------
    fig : matplotlib Figure (made with pyplot, so a notebook shows it)
    """
    import matplotlib.pyplot as plt

    S = as_latents(S)
    pairs = [(positive(r, "reg"), g) for r in np.atleast_1d(regs) for g in geometries]
    with style():
        fig = plt.figure(figsize=(8.0, 2.7 * len(pairs)))
        subfigs = np.atleast_1d(fig.subfigures(len(pairs), 1))
        for sub, (r, g) in zip(subfigs, pairs):
            values, sol = optimum_metrics(S, r, geometry=g, bias=bias, seed=seed)
            _draw_optimum(sub, S, sol, values, f"{g}, λ = {r:g}")
    return fig


def optimum_explorer(S, *, reg: float = 0.05, geometry: str = "aligned", bias: bool = True, seed: int = 0):
    r"""An ipywidgets explorer of the global minimum over the weight decay and the inputs.

    A logarithmic slider sets :math:`\lambda`, a dropdown the input geometry
    (:data:`GEOMETRIES`), a checkbox the bias; on release the problem is re-solved
    (certified) and the picture (optimal geometry, kernel, metrics) and a table (J*, the
    certificate, the largest interaction share over all global minima) update. The first
    picture is drawn on creation, so a built page shows it without a kernel.

    Returns
    -------
    explorer : ipywidgets.VBox
        With attributes ``slider``, ``dropdown``, ``checkbox``, ``image``, ``table``,
        ``values`` and ``update()``.
    """
    import ipywidgets as widgets

    S = as_latents(S)
    reg = positive(reg, "reg")
    if geometry not in GEOMETRIES:
        raise ValueError(f"geometry must be one of {GEOMETRIES}; got {geometry!r}")
    slider = widgets.FloatLogSlider(value=reg, base=10, min=-3, max=0, step=0.1, continuous_update=False,
                                    description="λ", readout_format=".3f", layout=widgets.Layout(width="420px"))
    dropdown = widgets.Dropdown(options=GEOMETRIES, value=geometry, description="inputs")
    checkbox = widgets.Checkbox(value=bool(bias), description="bias")
    image = widgets.Image(format="png", layout=widgets.Layout(width="760px"))
    table = widgets.HTML()
    box = widgets.VBox([widgets.HBox([slider, dropdown, checkbox]), table, image])

    def update(*_):
        values, sol = optimum_metrics(S, slider.value, geometry=dropdown.value, bias=checkbox.value, seed=seed)
        box.values = values
        table.value = (f"<table><tr><td style='padding:0 10px'>J* = {values['J*']:.5f}</td>"
                       f"<td style='padding:0 10px'>certified: {values['certified']}</td>"
                       f"<td style='padding:0 10px'>largest interaction share over all global minima: "
                       f"{values['max interaction']:.2e}</td></tr></table>")
        image.value = _png((7.6, 2.7), lambda fig: _draw_optimum(
            fig, S, sol, values, f"{dropdown.value}, λ = {slider.value:.3g}"))
        return values

    for w in (slider, dropdown, checkbox):
        w.observe(update, names="value")
    box.slider, box.dropdown, box.checkbox, box.image, box.table, box.update = (
        slider, dropdown, checkbox, image, table, update)
    update()
    return box
