"""The English word model shipped in lmalign/data/wordmodel: loading, checksum, byte-identical regeneration."""

import json
import math
import shutil

import numpy as np
import pytest

from lmalign.book.make_wordmodel import DEFAULT_TOP, data_requirements, main
from lmalign.wordmodel import METADATA_FILE, WORDS_FILE, WordModelError, default_dir, load_word_model


def test_committed_model_loads_and_is_consistent():
    model = load_word_model()
    meta = model.metadata
    assert len(model.words) == meta["top"] == DEFAULT_TOP
    assert len(set(model.words)) == len(model.words)
    assert math.isclose(math.fsum(model.probs.tolist()), 1.0, abs_tol=1e-12)
    assert np.all(model.probs > 0) and np.all(np.diff(model.frequency) <= 0)  # sorted by frequency
    assert math.isclose(math.fsum(model.frequency.tolist()), meta["frequency_mass"], rel_tol=1e-12)
    assert int(np.count_nonzero(model.valence)) == meta["words_with_valence"]
    assert np.all(np.abs(model.valence) <= 4.0)
    assert np.allclose(model.valence * 10, np.round(model.valence * 10))  # tenths: a lattice
    assert meta["packages"] == data_requirements()
    words = dict(zip(model.words, model.valence, strict=True))
    assert words["the"] == 0.0 and words["good"] > 1.0 and words["bad"] < -1.0 and words["love"] > 2.0


def test_checksum_mismatch_is_a_clear_error(tmp_path):
    copy = tmp_path / "wm"
    shutil.copytree(default_dir(), copy)
    text = (copy / WORDS_FILE).read_text(encoding="utf-8").replace("1,the,", "1,teh,", 1)
    (copy / WORDS_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(WordModelError, match="does not match the SHA-256"):
        load_word_model(copy)
    (copy / METADATA_FILE).unlink()
    with pytest.raises(WordModelError, match="missing; regenerate the word model with `make data`"):
        load_word_model(copy)


def test_regeneration_reproduces_the_committed_files(tmp_path):
    pytest.importorskip("wordfreq")
    pytest.importorskip("vaderSentiment")
    assert main(["--out", str(tmp_path)]) == 0
    for name in (WORDS_FILE, METADATA_FILE):
        assert (tmp_path / name).read_bytes() == (default_dir() / name).read_bytes()


def test_regeneration_without_the_packages_says_how(monkeypatch, capsys, tmp_path):
    import importlib.metadata as md

    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr("lmalign.book.make_wordmodel.importlib_metadata.version", missing)
    assert main(["--out", str(tmp_path)]) == 2
    assert "make data" in capsys.readouterr().err
    assert not (tmp_path / WORDS_FILE).exists()


def test_metadata_is_deterministic_json():
    raw = (default_dir() / METADATA_FILE).read_text(encoding="utf-8")
    assert raw == json.dumps(json.loads(raw), indent=1, sort_keys=True) + "\n"


def _with_checksum(folder, words: bytes, meta: dict | None = None):
    import hashlib

    folder.mkdir(exist_ok=True)
    (folder / WORDS_FILE).write_bytes(words)
    meta = {"sha256": hashlib.sha256(words).hexdigest()} if meta is None else meta
    (folder / METADATA_FILE).write_text(json.dumps(meta), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "words, meta",
    [
        (b"rank,word,frequency,valence\n", None),  # no words
        (b"rank,word,frequency,valence\n1,a,x,0\n", None),  # a frequency that is not a number
        (b"rank,word,frequency,valence\n1,a,nan,0\n", None),
        (b"rank,word,frequency,valence\n1,a,0,0\n", None),  # zero mass: probabilities would be NaN
        (b"rank,word,frequency,valence\n1,a,1,inf\n", None),
        (b"\xff\xfe", None),  # not UTF-8
        (b"rank,word,frequency,valence\n", []),  # metadata not an object
    ],
)
def test_corrupt_but_checksummed_files_are_word_model_errors(tmp_path, words, meta):
    """Files that match their checksum but hold no usable model: a WordModelError (a ValueError), never NaN
    probabilities, an AttributeError or a UnicodeDecodeError."""
    with pytest.raises(WordModelError):
        load_word_model(_with_checksum(tmp_path / "wm", words, meta))


def test_metadata_that_is_not_json_and_a_directory_that_is_not_a_path(tmp_path):
    (tmp_path / WORDS_FILE).write_bytes(b"")
    (tmp_path / METADATA_FILE).write_bytes(b"{not json")
    with pytest.raises(WordModelError, match="not valid JSON"):
        load_word_model(tmp_path)
    with pytest.raises(WordModelError, match="directory must be a path"):
        load_word_model(3)
