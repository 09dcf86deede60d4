"""lib.text.corpus: reading the text file, the vocabulary, encoding and the split."""

import numpy as np
import pytest

from lib.text import corpus


def test_read_text_round_trip(english_text_file, english_text):
    assert corpus.read_text(english_text_file) == english_text
    assert corpus.read_text(str(english_text_file)) == english_text


def test_read_text_keeps_non_ascii_and_drops_bom(tmp_path):
    path = tmp_path / "book.txt"
    path.write_bytes("\ufeffCafé — naïve\n".encode("utf-8"))
    assert corpus.read_text(path) == "Café — naïve\n"


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "book.txt"
    with pytest.raises(corpus.CorpusError, match="not found") as info:
        corpus.read_text(path)
    assert str(path) in str(info.value)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(corpus.CorpusError, match="not a file") as info:
        corpus.read_text(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(corpus.CorpusError, match="empty") as info:
        corpus.read_text(path)
    assert str(path) in str(info.value)


def test_non_utf8_bytes_name_offset_and_line(tmp_path):
    path = tmp_path / "latin1.txt"
    raw = "first line\nsecond line\nna\u00efve".encode("latin-1")  # 0xef then 'v' is not UTF-8
    offset = raw.index(b"\xef")
    path.write_bytes(raw)
    with pytest.raises(corpus.CorpusError) as info:
        corpus.read_text(path)
    message = str(info.value)
    assert str(path) in message
    assert "UTF-8" in message
    assert f"offset {offset}" in message
    assert "line 3" in message
    assert "column 3" in message
    assert "0xef" in message


def test_non_utf8_on_first_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"abc\xffdef\n")
    with pytest.raises(corpus.CorpusError) as info:
        corpus.read_text(path)
    assert "offset 3" in str(info.value) and "line 1" in str(info.value)
    assert "column 4" in str(info.value)


def test_corpus_error_is_a_value_error():
    assert issubclass(corpus.CorpusError, ValueError)


def test_vocab_encode_decode(english_text):
    vocab = corpus.build_vocab(english_text)
    assert vocab == sorted(set(english_text))
    assert all(len(ch) == 1 for ch in vocab)
    data = corpus.encode(english_text, vocab)
    assert data.dtype == np.int64 and data.shape == (len(english_text),)
    assert data.min() == 0 and data.max() == len(vocab) - 1
    assert corpus.decode(data, vocab) == english_text
    assert corpus.encode(vocab[5], vocab).tolist() == [5]
    assert len(corpus.encode("", vocab)) == 0


def test_encode_names_every_missing_character(english_text):
    vocab = corpus.build_vocab(english_text)
    with pytest.raises(corpus.CorpusError) as info:
        corpus.encode("Quiz #9 the", vocab, what="validation text")
    message = str(info.value)
    assert message.startswith("validation text")
    listed = set(message.rsplit(":", 1)[-1]) - set(" '")
    assert listed == set("Quiz #9 the") - set(vocab)
    assert {"Q", "z", "#", "9"} <= listed


def test_encode_matches_a_per_character_lookup_beyond_ascii():
    text = "Café naïve — ünïcode 𝄞 and a lone \udcff surrogate\n" * 3
    vocab = sorted(set(text), reverse=True)  # any order: the index is the position in vocab
    expected = [vocab.index(ch) for ch in text]
    assert corpus.encode(text, vocab).tolist() == expected
    # Past the largest code point of the vocabulary, below it, and below the smallest.
    for stranger in ("\U0001F600", "\u00e8", "\t"):
        with pytest.raises(corpus.CorpusError, match="outside the vocabulary"):
            corpus.encode("Caf" + stranger, vocab)
    with pytest.raises(corpus.CorpusError, match="outside the vocabulary: 'a'"):
        corpus.encode("a", [])


def test_split_train_val():
    assert corpus.split_train_val(1000, 0.0, 25) == 1000
    assert corpus.split_train_val(1000, 0.1, 25) == 900
    assert corpus.split_train_val(1000, 0.2, 25) == 800
    assert corpus.split_train_val(26, 0, 25) == 26


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), float("inf"), True, "0.1", None])
def test_split_rejects_bad_fraction(bad):
    with pytest.raises(corpus.CorpusError, match="val_fraction"):
        corpus.split_train_val(1000, bad, 25)


def test_split_rejects_too_little_on_either_side():
    with pytest.raises(corpus.CorpusError, match="training") as info:
        corpus.split_train_val(100, 0.9, 25)  # 10 training characters
    assert "seq_length + 1 = 26" in str(info.value)
    with pytest.raises(corpus.CorpusError, match="held-out"):
        corpus.split_train_val(100, 0.1, 25)  # 10 validation characters
    with pytest.raises(corpus.CorpusError, match="too short"):
        corpus.split_train_val(25, 0.0, 25)  # shorter than seq_length + 1
