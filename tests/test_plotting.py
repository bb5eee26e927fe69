"""Tests of abstractnb.plotting and abstractnb.widgets (Agg backend, no display)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from abstractnb import plotting as pl  # noqa: E402
from abstractnb.tasks import binary_latents  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _by_gid(ax, gid):
    return [c for c in ax.collections if c.get_gid() == gid]


# ---------------------------------------------------------------- style and helpers

def test_import_leaves_rcparams_alone():
    before = dict(matplotlib.rcParams)
    import importlib

    importlib.reload(pl)
    assert dict(matplotlib.rcParams) == before


def test_style_is_scoped():
    size = matplotlib.rcParams["figure.figsize"]
    with pl.style():
        assert tuple(matplotlib.rcParams["figure.figsize"]) == pl.STYLE["figure.figsize"]
        assert not matplotlib.rcParams["axes.spines.top"]
    assert matplotlib.rcParams["figure.figsize"] == size


def test_condition_labels_and_edges():
    S = binary_latents(3)
    assert pl.condition_labels(S)[:3] == ["---", "--+", "-+-"]
    edges = pl.hypercube_edges(S)
    assert len(edges) == 3 * 2 ** 2
    for m, n, k in edges:
        diff = np.flatnonzero(S[m] != S[n])
        assert list(diff) == [k]


def test_project_3d_keeps_distances_of_a_3d_code():
    S = binary_latents(3)
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((10, 3)))
    H = S @ Q.T + 5.0  # a rotated, shifted cube in 10 dims
    C, explained = pl.project_3d(H, S)
    assert explained == pytest.approx(1.0)
    d_true = np.linalg.norm(H[:, None] - H[None], axis=-1)
    d_proj = np.linalg.norm(C[:, None] - C[None], axis=-1)
    np.testing.assert_allclose(d_proj, d_true, atol=1e-9)
    # The viewpoint is turned onto the latents: the cube comes out axis-aligned.
    np.testing.assert_allclose(np.abs(C), 1.0, atol=1e-9)


def test_project_3d_of_one_hot_captures_three_of_seven_directions():
    S = binary_latents(3)
    _, explained = pl.project_3d(np.eye(8), S)
    assert explained == pytest.approx(3 / 7)


# ---------------------------------------------------------------- plot_geometry

@pytest.mark.parametrize("D", [2, 3])
def test_plot_geometry_points_and_edges(D):
    S = binary_latents(D)
    ax = pl.plot_geometry(S, S, title="factorized")
    assert ax.name == "3d"
    assert ax.get_title() == "factorized"
    ax.figure.canvas.draw()  # 3-D segments are projected to 2-D at draw time
    points = _by_gid(ax, "conditions")
    assert sum(len(c.get_offsets()) for c in points) == 2 ** D
    (edges,) = _by_gid(ax, "edges")
    assert len(edges.get_segments()) == D * 2 ** (D - 1)
    labels = [t.get_text() for t in ax.texts]
    assert set(pl.condition_labels(S)) <= set(labels)


def test_plot_geometry_factorized_edges_are_parallel():
    S = binary_latents(3)
    rng = np.random.default_rng(1)
    H = S @ rng.standard_normal((3, 20))
    ax = pl.plot_geometry(H, S)
    ax.figure.canvas.draw()
    (edges,) = _by_gid(ax, "edges")
    segs = np.array(edges.get_segments())  # orthographic projection: parallel stays parallel
    vecs = segs[:, 1] - segs[:, 0]
    for m_n_k, v in zip(pl.hypercube_edges(S), vecs):
        ref = vecs[[k for k, e in enumerate(pl.hypercube_edges(S)) if e[2] == m_n_k[2]][0]]
        np.testing.assert_allclose(v, ref, atol=1e-6)


def test_plot_geometry_into_given_axes_and_no_labels():
    S = binary_latents(4)
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    out = pl.plot_geometry(np.eye(16), S, ax=ax, legend=False)
    assert out is ax
    assert not any(t.get_text() in pl.condition_labels(S) for t in ax.texts)  # P > 8: no labels
    assert ax.get_legend() is None


def test_plot_geometry_errors():
    S = binary_latents(2)
    with pytest.raises(ValueError, match="one row per condition"):
        pl.plot_geometry(np.eye(5), S)
    with pytest.raises(ValueError, match="3-D Axes"):
        pl.plot_geometry(S, S, ax=plt.subplots()[1])
    with pytest.raises(ValueError, match="latent_names"):
        pl.plot_geometry(S, S, latent_names=["a"])
    with pytest.raises(ValueError, match=r"\+1 or -1"):
        pl.plot_geometry(S, 2 * S)
    with pytest.raises(ValueError, match="NaN"):
        pl.plot_geometry(np.full((4, 2), np.nan), S)


def test_plot_geometries_one_panel_per_code():
    S = binary_latents(2)
    fig = pl.plot_geometries({"a": S, "b": np.eye(4), "c": S + 1}, S)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="at least one"):
        pl.plot_geometries({}, S)


# ---------------------------------------------------------------- plot_kernel

def test_plot_kernel_heatmap_and_labels():
    S = binary_latents(3)
    K = S @ S.T
    ax = pl.plot_kernel(K, S, title="K")
    (im,) = ax.images
    np.testing.assert_array_equal(im.get_array(), K)
    lo, hi = im.get_clim()
    assert lo == -hi == -3.0  # diverging scale centred at 0
    assert [t.get_text() for t in ax.get_xticklabels()] == pl.condition_labels(S)
    ax = pl.plot_kernel(np.eye(8), S, colorbar=False)
    assert ax.images[0].get_clim() == (0.0, 1.0)


def test_plot_kernel_errors():
    S = binary_latents(2)
    with pytest.raises(ValueError, match="4 columns"):
        pl.plot_kernel(np.eye(4)[:, :3], S)
    with pytest.raises(ValueError, match="4 rows"):
        pl.plot_kernel(np.eye(3), S)


# ---------------------------------------------------------------- plot_metrics

def test_plot_metrics_flat_and_grouped():
    ax = pl.plot_metrics({"PS": np.array([1.0, 0.8]), "CCGP": 0.5}, hline=0.5)
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [0.9, 0.5])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["PS", "CCGP"]
    assert ax.get_ylim() == (0.0, 1.12)
    ax = pl.plot_metrics({"fact": {"PS": 1.0, "SD": 0.6}, "conj": {"PS": 0.0, "SD": 1.0}})
    assert len(ax.patches) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fact", "conj"]


def test_plot_metrics_errors():
    with pytest.raises(ValueError, match="at least one"):
        pl.plot_metrics({})
    with pytest.raises(ValueError, match="not a mix"):
        pl.plot_metrics({"a": {"PS": 1.0}, "b": 0.3})
    with pytest.raises(ValueError, match="finite"):
        pl.plot_metrics({"PS": np.nan})


# ---------------------------------------------------------------- plot_history

def test_plot_history_curves_bands_and_reference():
    T = 50
    runs = np.exp(-np.arange(T) / 10)[:, None] * np.array([1.0, 2.0])
    hist = {"step": np.arange(T) * 10, "J": runs, "PS": np.linspace(0, 1, T)}
    ax = pl.plot_history(hist, reference={"J*": 0.1}, logy=True)
    lines = ax.lines
    assert [ln.get_label() for ln in lines] == ["J", "PS", "J*"]
    np.testing.assert_allclose(lines[0].get_xdata(), np.arange(T) * 10)
    np.testing.assert_allclose(lines[0].get_ydata(), runs.mean(axis=1))
    assert len(ax.collections) == 1  # one band, for the key with two runs
    assert ax.get_yscale() == "log"


def test_plot_history_array_and_dataframe():
    import pandas as pd

    ax = pl.plot_history(np.linspace(1, 0, 10))
    assert ax.lines[0].get_label() == "objective"
    ax = pl.plot_history(pd.DataFrame({"step": [0, 1, 2], "loss": [3.0, 2.0, 1.0]}), keys=["loss"])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0, 1, 2])


def test_plot_history_errors():
    with pytest.raises(ValueError, match="non-empty"):
        pl.plot_history({})
    with pytest.raises(ValueError, match="not in history"):
        pl.plot_history({"a": [1, 2]}, keys=["b"])
    with pytest.raises(ValueError, match="only 'step'"):
        pl.plot_history({"step": [1, 2]})
    with pytest.raises(ValueError, match="steps has shape"):
        pl.plot_history({"a": [1.0, 2.0]}, steps=[0, 1, 2])
    with pytest.raises(ValueError, match="band"):
        pl.plot_history({"a": [1.0, 2.0]}, band="iqr")
    with pytest.raises(ValueError, match=r"\(T,\) or \(T, runs\)"):
        pl.plot_history({"a": np.zeros((2, 2, 2))})


# ---------------------------------------------------------------- widgets

def test_morph_code_kernel_is_the_convex_combination():
    from abstractnb.widgets import morph_code

    S = binary_latents(3)
    P, D = S.shape
    J = np.eye(P) - 1 / P

    def centred_kernel(H):
        return J @ H @ H.T @ J

    Kf, Kc = centred_kernel(S), centred_kernel(np.eye(P))
    for a in (0.0, 0.3, 1.0):
        H = morph_code(S, a)
        assert H.shape == (P, D + P)
        Ka = centred_kernel(H)
        assert np.trace(Ka) == pytest.approx(D * P)
        np.testing.assert_allclose(Ka, (1 - a) * Kf + a * Kc * D * P / (P - 1), atol=1e-12)
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]"):
        morph_code(S, 1.5)


def test_morph_metrics_endpoints():
    from abstractnb.widgets import morph_metrics

    S = binary_latents(2)
    f = morph_metrics(S, 0.0, n_samples=10)
    c = morph_metrics(S, 1.0, n_samples=10)
    assert f["PS"] == pytest.approx(1.0)
    assert c["PS"] == pytest.approx(0.0, abs=1e-9)
    assert f["interaction"] == pytest.approx(0.0, abs=1e-9)
    assert c["interaction"] == pytest.approx((4 - 1 - 2) / (4 - 1))
    # sampled: over seeds 0-19 the factorized code scored >= 0.96 and the conjunctive <= 0.64
    assert f["CCGP"] > 0.9 and c["CCGP"] < 0.8


def test_morph_figure_panels():
    from abstractnb.widgets import morph_figure

    S = binary_latents(2)
    fig = morph_figure(S, alphas=(0.0, 1.0), n_grid=3, n_samples=5)
    axes = fig.axes
    assert [ax.name for ax in axes] == ["3d", "3d", "rectilinear"]
    curves = axes[2].get_lines()
    assert len([ln for ln in curves if len(ln.get_xdata()) == 3]) == 4  # one curve per metric
    with pytest.raises(ValueError, match="alpha"):
        morph_figure(S, alphas=(-0.1,))


def test_morph_explorer_builds_and_updates():
    ipywidgets = pytest.importorskip("ipywidgets")
    from abstractnb.widgets import METRIC_NAMES, morph_explorer

    S = binary_latents(2)
    ex = morph_explorer(S, alpha=0.0, n_samples=5)
    assert isinstance(ex, ipywidgets.VBox)
    assert ex.image.value[:8] == b"\x89PNG\r\n\x1a\n"  # the default picture is there on creation
    before, png_before, html_before = dict(ex.values), ex.image.value, ex.table.value
    assert set(before) == set(METRIC_NAMES)
    assert before["PS"] == pytest.approx(1.0)
    ex.slider.value = 1.0  # what a reader does; the observer redraws
    after = ex.values
    assert after["PS"] == pytest.approx(0.0, abs=1e-9)
    assert after["interaction"] > before["interaction"]
    assert ex.image.value != png_before
    assert ex.table.value != html_before and "1.00" in ex.table.value
    assert plt.get_fignums() == []  # the explorer leaves no pyplot figure open


def test_morph_explorer_errors():
    from abstractnb.widgets import morph_explorer

    S = binary_latents(2)
    with pytest.raises(ValueError, match="alpha"):
        morph_explorer(S, alpha=2.0)
    with pytest.raises(ValueError, match="step"):
        morph_explorer(S, step=0.0)
    with pytest.raises(ValueError, match="noise"):
        morph_explorer(S, noise=-1.0)


def test_plot_atoms_modular_units_and_masses():
    S = binary_latents(3)
    H = np.concatenate([1 + S.T, 1 - S.T])  # the six modular units, responses in {0, 2}
    ax = pl.plot_atoms(H, S, masses=np.arange(1, 7) / 10, title="atoms")
    (im,) = ax.images
    np.testing.assert_array_equal(im.get_array(), H)
    assert im.get_clim() == (0.0, 2.0)  # nonnegative: sequential scale from 0
    assert [t.get_text() for t in ax.get_xticklabels()] == pl.condition_labels(S)
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"atom {j}" for j in range(1, 7)]
    assert [t.get_text().strip() for t in ax.texts] == [f"m = {m:.3g}" for m in np.arange(1, 7) / 10]
    assert ax.get_title() == "atoms"


def test_plot_atoms_signed_one_row_and_labels():
    S = binary_latents(2)
    ax = pl.plot_atoms(S[:, 0], S, atom_labels=["s1"], colorbar=False)
    lo, hi = ax.images[0].get_clim()
    assert lo == -hi == -1.0  # both signs: diverging scale centred at 0
    assert ax.images[0].get_array().shape == (1, 4)
    assert not ax.texts
    fig, ax2 = plt.subplots()
    assert pl.plot_atoms(np.abs(S.T), S, ax=ax2) is ax2


def test_plot_atoms_errors():
    S = binary_latents(2)
    with pytest.raises(ValueError, match="4 columns"):
        pl.plot_atoms(np.ones((2, 3)), S)
    with pytest.raises(ValueError, match="NaN or inf"):
        pl.plot_atoms(np.full((2, 4), np.nan), S)
    with pytest.raises(ValueError, match="atom_labels must name all 2"):
        pl.plot_atoms(np.ones((2, 4)), S, atom_labels=["a"])
    with pytest.raises(ValueError, match="masses must be 2 finite numbers"):
        pl.plot_atoms(np.ones((2, 4)), S, masses=[1.0])
    with pytest.raises(ValueError, match="masses must be 2 finite numbers"):
        pl.plot_atoms(np.ones((2, 4)), S, masses=[1.0, np.inf])


def test_optimum_explorer_and_figure():
    import matplotlib.pyplot as plt

    from abstractnb.widgets import optimum_explorer, optimum_figure, optimum_metrics

    S = binary_latents(2)
    vals, sol = optimum_metrics(S, 0.05, geometry="aligned")
    # with a bias the optimum is abstract at every global minimum (Chapter 5's theorem)
    assert vals["certified"] and vals["PS"] == pytest.approx(1.0) and vals["max interaction"] < 1e-6
    vals0, sol0 = optimum_metrics(S, 5.0, geometry="whitened")  # above the threshold: zero network
    assert vals0["certified"] and sol0.n_atoms == 0 and vals0["max interaction"] == 0.0
    box = optimum_explorer(S, reg=0.05)
    assert box.image.value[:4] == b"\x89PNG" and "certified: True" in box.table.value
    box.dropdown.value = "embedding"
    assert box.values["J*"] > 0
    fig = optimum_figure(S, regs=(0.05,), geometries=("aligned",))
    assert fig.get_size_inches()[0] <= 8.0
    plt.close(fig)
    with pytest.raises(ValueError, match="geometry must be one of"):
        optimum_explorer(S, geometry="rotated")


# ---------------------------------------------------------------- figure sizes (one place: MAX_WIDTH)

def test_max_width_is_the_house_limit():
    assert pl.MAX_WIDTH <= 8.0
    assert pl.STYLE["figure.figsize"][0] <= pl.MAX_WIDTH


@pytest.mark.parametrize("n, ncols, want", [(1, None, (1, 1)), (2, None, (1, 2)), (3, None, (2, 2)),
                                            (5, None, (3, 2)), (3, 3, (1, 3)), (4, 8, (1, 4))])
def test_grid_wraps_panels_within_max_width(n, ncols, want):
    nrows, cols, (w, h) = pl.grid(n, ncols=ncols)
    assert (nrows, cols) == want
    assert w <= pl.MAX_WIDTH + 1e-9
    # panels keep their aspect when they shrink
    assert np.isclose((w / cols) / (h / nrows), pl.PANEL[0] / pl.PANEL[1], rtol=1e-3)
    with pytest.raises(ValueError):
        pl.grid(0)


def test_subplots_gives_n_axes_within_max_width():
    fig, axes = pl.subplots(5, layout="constrained")
    assert len(axes) == 5 and len(fig.axes) == 5
    assert fig.get_figwidth() <= pl.MAX_WIDTH


def test_every_figure_helper_stays_within_max_width():
    S = binary_latents(4)                      # 16 conditions: the widest heatmaps
    rng = np.random.default_rng(0)
    figs = [
        pl.plot_geometries({"a": S, "b": np.eye(16), "c": S + 1}, S).get_figwidth(),
        pl.plot_geometries({k: S for k in "abcde"}, S, ncols=5).get_figwidth(),
        pl.plot_kernel(S @ S.T, S).figure.get_figwidth(),
        pl.plot_atoms(rng.normal(size=(6, 16)), S, masses=np.ones(6)).figure.get_figwidth(),
        pl.plot_metrics({f"m{i}": 0.5 for i in range(12)}).figure.get_figwidth(),
        pl.plot_metrics({r: {f"m{i}": 0.5 for i in range(6)} for r in "abcd"}).figure.get_figwidth(),
        pl.plot_history({"loss": np.linspace(1, 0, 20)}).figure.get_figwidth(),
        pl.plot_geometry(S, S).figure.get_figwidth(),
    ]
    assert max(figs) <= pl.MAX_WIDTH


def test_plot_geometries_wraps_three_codes_into_two_rows():
    S = binary_latents(3)
    fig = pl.plot_geometries({"a": S, "b": np.eye(8), "c": S + 1}, S)
    rows = {round(ax.get_position().y0, 3) for ax in fig.axes}
    assert len(fig.axes) == 3 and len(rows) == 2
