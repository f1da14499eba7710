"""gdcore.plot rendered with matplotlib's Agg backend: the files are real PNGs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")

import gdcore  # noqa: E402
from gdcore import plot  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_bytes=8000):
    data = path.read_bytes()
    assert data[:8] == PNG
    assert len(data) > min_bytes  # more than an empty canvas
    from matplotlib.image import imread
    img = imread(path)
    assert img.shape[0] > 100 and img.shape[1] > 100
    assert img[..., :3].std() > 0.05  # not a blank image


def tutorial_fit(loss=None, record_path=True):
    x = np.array([1.0, 2.0, 3.0, 4.0])
    model = gdcore.LinearModel(1)
    history = gdcore.Trainer(loss=loss, lr=0.05, epochs=300, tol=1e-9,
                             record_path=record_path).fit(model, x, x)
    return x, model, history


def test_loss_plot(tmp_path):
    _, _, history = tutorial_fit()
    ax = plot.plot_loss(history)
    assert ax.get_yscale() == "log"
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), history.loss)
    plot.save(ax, tmp_path / "loss.png")
    assert_png(tmp_path / "loss.png")
    with pytest.raises(ValueError, match="non-empty"):
        plot.plot_loss([])


def test_fit_plot(tmp_path):
    x, model, _ = tutorial_fit()
    ax = plot.plot_fit(model, x, x)
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_ydata(), float(model.w[0]) * line.get_xdata() + model.b)
    plot.save(ax, tmp_path / "fit.png")
    assert_png(tmp_path / "fit.png")
    with pytest.raises(ValueError, match="one feature"):
        plot.plot_fit(gdcore.LinearModel(2), np.ones((4, 2)), x)


@pytest.mark.parametrize("loss", [gdcore.MSELoss(), gdcore.MAELoss()])
def test_path_plot(tmp_path, loss):
    x, model, history = tutorial_fit(loss)
    ax = plot.plot_path(history, x, x, loss=loss, model=model)
    path_line = ax.lines[0]
    np.testing.assert_array_equal(path_line.get_xdata()[:-1], history.path[:, 0])
    assert path_line.get_xdata()[-1] == float(model.w[0])
    plot.save(ax, tmp_path / "path.png")
    assert_png(tmp_path / "path.png", 20_000)
    _, _, no_path = tutorial_fit(record_path=False)
    with pytest.raises(ValueError, match="record_path=True"):
        plot.plot_path(no_path, x, x)


def test_contour_values_are_the_loss():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(50), rng.standard_normal(50)
    W, B = np.meshgrid([-1.0, 0.3], [0.5, 2.0])
    for loss in (gdcore.MSELoss(), gdcore.MAELoss()):
        grid = plot._loss_grid(x, y, W, B, loss)
        for i in range(2):
            for j in range(2):
                assert grid[i, j] == pytest.approx(loss(y, W[i, j] * x + B[i, j]), rel=1e-12)


RESULTS = [{"method": m, "n": n, "d": 20, "seconds_per_epoch": n * c, "repeats": 5}
           for m, c in (("cython", 1e-8), ("numpy", 3e-8), ("python", 2e-6))
           for n in (1_000, 10_000, 100_000)]


def test_bench_plot(tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(RESULTS))
    ax = plot.plot_bench(plot.load_bench(path))
    assert [line.get_label() for line in ax.lines] == ["cython", "numpy", "python"]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    plot.save(ax, tmp_path / "bench.png")
    assert_png(tmp_path / "bench.png")
    two_d = RESULTS + [dict(RESULTS[0], d=5)]
    assert {line.get_label() for line in plot.plot_bench({"results": two_d}).lines} == {
        "cython (d=20)", "cython (d=5)", "numpy (d=20)", "python (d=20)"}


@pytest.mark.parametrize("bad,match", [
    ([], "non-empty list"),
    ([{"method": "a", "n": 10, "d": 2}], "lacks seconds_per_epoch"),
    ([{"method": "a", "n": -1, "d": 2, "seconds_per_epoch": 1.0}], "n must be a positive"),
    ([{"method": "a", "n": 10, "d": 2, "seconds_per_epoch": "x"}], "seconds_per_epoch must"),
])
def test_bench_format_is_checked(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        plot.plot_bench(bad)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=f"{path}: .*{match}"):
        plot.load_bench(path)


def test_optional_packages_are_not_imported_by_gdcore():
    code = ("import sys, gdcore, numpy as np; m = gdcore.LinearModel(1); "
            "gdcore.Trainer(epochs=5).fit(m, [1.0, 2.0], [1.0, 2.0]); "
            "print(sorted({'matplotlib', 'sklearn', 'tqdm'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd="/")
    assert out.stdout.strip() == "[]"
