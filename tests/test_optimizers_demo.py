"""Several fits on one plot, and `gdcore demo --optimizers`: the optimizers side by side."""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")

import gdcore  # noqa: E402
from gdcore import plot  # noqa: E402
from gdcore.cli import main  # noqa: E402
from gdcore.cli.demos import CONTENDERS, TUTORIAL_X, TUTORIAL_Y  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def tutorial_fits():
    """Plain gradient descent, momentum and Adam on the tutorial's data, paths recorded."""
    fits = {}
    for name in ("gd", "momentum", "adam"):
        model = gdcore.LinearModel(1)
        trainer = gdcore.Trainer(optimizer=name, precondition=None, epochs=200, tol=1e-9,
                                 record_path=True)
        fits[name] = (model, trainer.fit(model, TUTORIAL_X, TUTORIAL_Y))
    return fits


def test_plot_loss_draws_a_mapping_and_a_list():
    fits = tutorial_fits()
    histories = {name: h for name, (_, h) in fits.items()}
    ax = plot.plot_loss(histories)
    assert [line.get_label() for line in ax.lines] == ["gd", "momentum", "adam"]
    for line, h in zip(ax.lines, histories.values()):
        np.testing.assert_array_equal(line.get_ydata(), h.loss)
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["gd", "momentum", "adam"]

    ax = plot.plot_loss(list(histories.values()))  # labelled by their optimizers
    assert [line.get_label() for line in ax.lines] == ["gradient descent", "momentum 0.9", "Adam"]
    # losses themselves, and the single-fit call as before
    assert len(plot.plot_loss({"a": [1.0, 0.5], "b": np.array([2.0, 1.0, 0.1])}).lines) == 2
    single = plot.plot_loss(histories["gd"])
    assert len(single.lines) == 1 and single.get_legend() is None


def test_repeated_optimizers_get_distinct_labels():
    x = TUTORIAL_X
    h_raw = gdcore.Trainer(optimizer="gd", precondition=None, epochs=5).fit(gdcore.LinearModel(1), x, x)
    h_std = gdcore.Trainer(optimizer="gd", epochs=5).fit(gdcore.LinearModel(1), x, x)
    labels = [line.get_label() for line in plot.plot_loss([h_raw, h_std]).lines]
    assert len(set(labels)) == 2 and all(label.startswith("gradient descent") for label in labels)


@pytest.mark.parametrize("bad,error,match", [
    ({}, ValueError, "history: the mapping .* is empty"),
    ({"a": [[1.0, 2.0]]}, ValueError, r"history\['a'\] must hold a 1-D"),
    ({"a": []}, ValueError, r"history\['a'\] .*non-empty"),
    (np.ones((3, 2)), ValueError, "history must hold a 1-D"),
    ({"a": {"x": 1}}, TypeError, r"history\['a'\] must be a History"),
])
def test_plot_loss_names_bad_input(bad, error, match):
    with pytest.raises(error, match=match):
        plot.plot_loss(bad)


def test_plot_loss_rejects_a_list_mixing_histories_and_label_for_several():
    h = tutorial_fits()["gd"][1]
    with pytest.raises(TypeError, match=r"history\[1\] must be a History"):
        plot.plot_loss([h, [1.0, 2.0]])
    with pytest.raises(ValueError, match="label labels a single fit"):
        plot.plot_loss({"a": h}, label="x")


def test_plot_path_draws_several_paths_in_different_colours(tmp_path):
    fits = tutorial_fits()
    (m_gd, h_gd), (m_mom, h_mom) = fits["gd"], fits["momentum"]
    ax = plot.plot_path([h_gd, h_mom], TUTORIAL_X, TUTORIAL_Y, model=[m_gd, m_mom])
    paths = [line for line in ax.lines if line.get_label().endswith("steps)")]
    assert [p.get_label().split(" (")[0] for p in paths] == ["gradient descent", "momentum 0.9"]
    for line, h, m in zip(paths, (h_gd, h_mom), (m_gd, m_mom)):
        np.testing.assert_array_equal(line.get_xdata()[:-1], h.path[:, 0])
        assert line.get_xdata()[-1] == float(m.w[0])
    assert paths[0].get_color() != paths[1].get_color()
    # the contour map covers both paths
    (w_lo, w_hi), (b_lo, b_hi) = ax.get_xlim(), ax.get_ylim()
    for h in (h_gd, h_mom):
        assert w_lo <= h.path[:, 0].min() and h.path[:, 0].max() <= w_hi
        assert b_lo <= h.path[:, 1].min() and h.path[:, 1].max() <= b_hi
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend.count("start") == 1 and legend.count("end") == 1
    plot.save(ax, tmp_path / "paths.png")
    assert (tmp_path / "paths.png").read_bytes()[:8] == PNG

    ax = plot.plot_path({"plain": h_gd, "heavy ball": h_mom}, TUTORIAL_X, TUTORIAL_Y)
    assert [line.get_label() for line in ax.lines if line.get_label().endswith("steps)")] == [
        f"plain ({h_gd.n_epochs - 1} steps)", f"heavy ball ({h_mom.n_epochs - 1} steps)"]


def test_plot_path_labels_a_single_fit_by_its_optimizer():
    model, history = tutorial_fits()["adam"]
    ax = plot.plot_path(history, TUTORIAL_X, TUTORIAL_Y, model=model)
    assert ax.lines[0].get_label() == "Adam"
    assert "Adam" in ax.get_title()
    with pytest.raises(ValueError, match="model ends one path"):
        plot.plot_path([history, history], TUTORIAL_X, TUTORIAL_Y, model=model)
    with pytest.raises(ValueError, match="the mapping .* is empty"):
        plot.plot_path({}, TUTORIAL_X, TUTORIAL_Y)


def race_table(stdout):
    """{section letter: {optimizer: epochs column}} from the demo's output."""
    tables, section = {}, None
    names = {c.label for c in CONTENDERS}
    for line in stdout.splitlines():
        head = re.match(r"\(([ab])\) ", line)
        if head:
            section = head.group(1)
            tables[section] = {}
            continue
        match = re.match(r"   (\S+(?: raw)?)\s+(raw|standardised)\s+\S+\s+(\S+)", line)
        if section and match and match.group(1) in names:
            tables[section][match.group(1)] = match.group(3)
    return tables


def run_main(*argv):
    """main(argv) with its standard output captured: (exit status, output)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(list(argv))
    return status, out.getvalue()


@pytest.fixture(scope="module")
def demo_output():
    """One `gdcore demo --optimizers` run shared by the tests below (it takes seconds)."""
    return run_main("demo", "--optimizers")


def test_demo_lists_every_optimizer(demo_output):
    status, stdout = demo_output
    assert status == 0
    tables = race_table(stdout)
    sections = ["a", "b"]
    try:
        import sklearn  # noqa: F401
    except ImportError:
        sections = ["a"]
        assert "scikit-learn is not installed" in stdout
    assert sorted(tables) == sections
    for section in sections:
        assert list(tables[section]) == [c.label for c in CONTENDERS]


def test_demo_epochs_are_measured_not_assumed(demo_output):
    tutorial = race_table(demo_output[1])["a"]
    auto = int(tutorial["auto"])
    assert 1 <= auto < 100
    raw = tutorial["gd raw"]
    assert raw.startswith(">") or int(raw) > auto


def test_demo_plot_writes_a_png(tmp_path):
    png = tmp_path / "race.png"
    status, stdout = run_main("demo", "--optimizers", "--plot", str(png))
    assert status == 0
    data = png.read_bytes()
    assert data[:8] == PNG and len(data) > 10_000
    assert f"wrote {png}" in stdout


def test_demo_plot_needs_optimizers(capsys):
    assert main(["demo", "--plot", "x.png"]) == 2
    assert "--optimizers" in capsys.readouterr().err
