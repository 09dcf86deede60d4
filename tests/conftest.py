"""Shared fixtures for the model-core tests (kept small: other test files live here too)."""

import importlib.util

import numpy as np
import pytest
from toy_corpus import learnable_text


def load_script(path, name):
    """A script of the repository that is not a module of lib (tools/*.py, data/shakespeare/prepare.py,
    report/build.py) loaded as a module named name, so that a test calls its functions."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

ENGLISH_TEXT = (
    "The old lighthouse keeper climbed the stairs every evening, counting each step as his "
    "father had done before him. From the lamp room he could see the fishing boats coming "
    "home to the harbour, their sails bright against the darkening sea. He wound the clock, "
    "trimmed the wick and wrote a short line in the log: wind from the west, a little rain, "
    "all ships accounted for. Then he sat by the window with a cup of tea and watched the "
    "beam sweep slowly over the water, as it had every night for forty years.\n"
)


@pytest.fixture(scope="session")
def english_text():
    """A paragraph of ordinary English prose (about 500 characters, one line)."""
    return ENGLISH_TEXT


@pytest.fixture
def english_text_file(tmp_path, english_text):
    """english_text written as a UTF-8 file; returns its path."""
    path = tmp_path / "english.txt"
    path.write_text(english_text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    """toy_corpus.learnable_text as a UTF-8 file, one per test module (tests/toy_run.py trains on it)."""
    path = tmp_path_factory.mktemp("text") / "toy.txt"
    path.write_text(learnable_text(), encoding="utf-8")
    return path


def _same_training_run(a, b, check_samples=True):
    """Assert that two train() states hold bitwise identical trajectories (of any network)."""
    names = tuple(a["params"])
    assert names == tuple(b["params"]) == tuple(a["best_params"]) == tuple(b["best_params"])
    for key in ("params", "best_params"):
        for name in names:
            assert np.asarray(a[key][name]).tobytes() == np.asarray(b[key][name]).tobytes(), (key, name)
    assert a["optimizer"]["t"] == b["optimizer"]["t"]
    assert a["optimizer"]["arrays"].keys() == b["optimizer"]["arrays"].keys()
    for group, arrays in a["optimizer"]["arrays"].items():
        for name in names:
            assert np.asarray(arrays[name]).tobytes() == \
                np.asarray(b["optimizer"]["arrays"][group][name]).tobytes(), (group, name)
    assert np.asarray(a["h_prev"]).tobytes() == np.asarray(b["h_prev"]).tobytes()
    for key in ("step", "epoch", "loss", "smooth_loss", "val_bpc"):
        # tobytes: bitwise, and NaN in val_bpc compares equal to NaN.
        assert np.asarray(a["history"][key], dtype=float).tobytes() == \
            np.asarray(b["history"][key], dtype=float).tobytes(), key
    for key in ("step", "epoch", "chunk", "smooth_loss", "best_step", "best_smooth_loss"):
        assert a[key] == b[key], key
    assert list(a["epoch_starts"]) == list(b["epoch_starts"])
    if check_samples:
        assert a["samples"] == b["samples"]
        assert a["sample_rng_state"] == b["sample_rng_state"]


@pytest.fixture
def assert_same_training_run():
    """The comparison above, as a fixture: assert_same_training_run(state_a, state_b)."""
    return _same_training_run
