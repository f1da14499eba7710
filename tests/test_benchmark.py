"""The comparison command measures what it says: each method runs the epochs asked for."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gdcore.benchmarks import epochs as gb


def test_gdcore_epochs_advance_the_fit_by_k_epochs():
    X, y = gb.make_data(500, 3)
    loss_before = float(np.mean(y ** 2))
    assert gb.gdcore_epochs(X, y)(7) is None  # a paused run, not an ended one
    # what each call does: advance the same kind of run by exactly k epochs
    trainer = gb.Trainer(lr=gb.LR, epochs=100, tol=0.0)
    run = trainer._start(gb.LinearModel(3), X, y)[1]
    assert run.advance(8) is None and run.n_epochs == 8
    assert run.last_loss < loss_before


@pytest.mark.parametrize("factory", [gb.numpy_epochs, gb.floor_epochs])
def test_other_methods_run(factory):
    X, y = gb.make_data(300, 4)
    factory(X, y)(3)


def test_run_and_table_and_json(tmp_path):
    results = gb.run([(256, 3)], target=0.001, repeats=1, report=lambda line: None)
    names = {r.method for r in results}
    assert {"floor", "gdcore", "numpy", "python"} <= names
    floor = next(r for r in results if r.method == "floor")
    assert floor.ratio_to_floor == pytest.approx(1.0)
    assert all(r.seconds_per_epoch > 0 and r.gb_per_s > 0 for r in results)
    text = gb.table(results)
    assert "gdcore faster by" in text and "256 x 3" in text
    path = tmp_path / "b.json"
    records = [dict(vars(r), method=gb.label(r)) for r in results]
    path.write_text(json.dumps({"results": records}))
    from gdcore.plot import load_bench
    assert len(load_bench(path)) == len(results)


def test_seconds_per_epoch_divides_by_the_epochs_run():
    calls = []
    t = gb.seconds_per_epoch(lambda k: calls.append(k), target=0.0, repeats=3)
    assert calls[0] == 1 and all(k == calls[1] for k in calls[1:]) and len(calls) == 4
    assert t >= 0


def test_adam_race_runs_the_same_computation_as_torch():
    """torch starts from gdcore's weights: one epoch of Adam gives the same loss up to the
    batch order (each draws its own), and the race reports every epoch it ran."""
    pytest.importorskip("torch")
    from gdcore.benchmarks import mlp
    race = mlp.adam_race(repeats=1, epochs=2, n=3000)
    ours, theirs = race["gdcore"][2], race["torch"][2]
    assert len(ours) == len(theirs) == 2
    assert ours[1] < ours[0] and theirs[1] < theirs[0]
    assert abs(ours[1] - theirs[1]) < 0.2 * theirs[1]
    assert "| gdcore |" in mlp.format_adam(race)
