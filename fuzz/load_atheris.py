"""Coverage-guided fuzzing of gdcore.load with atheris (libFuzzer), for long runs.

    pip install atheris                      # a tool, not a gdcore dependency
    PYTHONPATH=. python fuzz/load_atheris.py fuzz/corpus -max_total_time=3600

The property is tests/test_load_fuzz.py's: any input loads as a valid model or
raises ValueError naming the file; anything else (another exception, a hang
past libFuzzer's -timeout, memory past -rss_limit_mb) is a crash, saved by
libFuzzer as a crash-* file to replay with ``PYTHONPATH=. python fuzz/load_atheris.py
crash-...``. A corpus folder given first is seeded with files ``save`` writes.
"""

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    import numpy as np

    import gdcore
    import gdcore.persist

PATH = os.path.join(tempfile.mkdtemp(prefix="gdcore-fuzz-"), "model.gdm")


def seed(corpus: str) -> None:
    """Valid files to mutate: a linear model with metadata, a float32 one, a network."""
    os.makedirs(corpus, exist_ok=True)
    linear = gdcore.LinearModel(3)
    linear.w, linear.b = [1.0, -2.0, 0.5], 0.25
    models = {"linear": (linear, {"features": ["a", "b", "c"]}),
              "linear-float32": (gdcore.LinearModel(1, dtype=np.float32), None),
              "mlp": (gdcore.MLP([2, 3, 1], random_state=0), None)}
    for name, (model, metadata) in models.items():
        model.save(os.path.join(corpus, name), metadata=metadata)


def test_one_input(data: bytes) -> None:
    with open(PATH, "wb") as f:
        f.write(data)
    try:
        model = gdcore.load(PATH)
    except ValueError as exc:
        if PATH not in str(exc):
            raise AssertionError(f"the message does not name the file: {exc}") from exc
        return
    if not isinstance(model, gdcore.Model) or not np.all(np.isfinite(model.params)):
        raise AssertionError(f"load returned an invalid model: {model!r}")


def main() -> None:
    corpus = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if corpus is not None and not os.path.isfile(corpus):  # a file given is a crash to replay
        seed(corpus)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
