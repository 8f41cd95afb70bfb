"""Shared fixtures. Tests run on the CPU, offline, in the fast profile (make test sets it)."""
import os

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("COURSEKIT_FAST", "1")


@pytest.fixture
def cfg():
    import coursekit as ck

    return ck.setup(seed=0, verbose=False)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
