"""Shared fixtures for the model-core tests (kept small: other test files live here too)."""

import pytest

ENGLISH_TEXT = (
    "The old lighthouse keeper climbed the stairs every evening, counting each step as his "
    "father had done before him. From the lamp room he could see the fishing boats coming "
    "home to the harbour, their sails bright against the darkening sea. He wound the clock, "
    "trimmed the wick and wrote a short line in the log: wind from the west, a little rain, "
    "all ships accounted for. Then he sat by the window with a cup of tea and watched the "
    "beam sweep slowly over the water, as it had every night for forty years.\n"
)


@pytest.fixture
def english_text():
    """A paragraph of ordinary English prose (about 500 characters, one line)."""
    return ENGLISH_TEXT


@pytest.fixture
def english_text_file(tmp_path, english_text):
    """english_text written as a UTF-8 file; returns its path."""
    path = tmp_path / "english.txt"
    path.write_text(english_text, encoding="utf-8")
    return path
