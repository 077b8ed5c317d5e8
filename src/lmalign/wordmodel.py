"""The English word model: a memoryless model with a sentiment reward, from real data.

The vocabulary is the 5,000 most frequent English words of the ``wordfreq`` package (its ``best`` wordlist), with
their frequencies renormalised to a probability law ``p``; the reward of a word is its mean valence in the VADER
sentiment lexicon (``vaderSentiment`` package), 0 for a word not in the lexicon. The reward of a "sentence" of
``n`` words drawn i.i.d. from ``p`` is the sum of its words' valences: a memoryless model with a linear reward.

The vocabulary ships with the package (``lmalign/data/wordmodel/``: ``words.csv`` and ``metadata.json`` with the
package versions and the file's SHA-256, and ``README.md`` with the sources and licenses), so neither package is
needed to use it. ``make data`` regenerates it (``lmalign.book.make_wordmodel``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

WORDS_FILE = "words.csv"
METADATA_FILE = "metadata.json"
HEADER = "rank,word,frequency,valence"


def default_dir() -> Path:
    """The folder of the word model shipped with the package.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> sorted(p.name for p in default_dir().iterdir() if p.suffix in (".csv", ".json"))
    ['metadata.json', 'words.csv']
    """
    return Path(str(resources.files("lmalign") / "data" / "wordmodel"))


@dataclass(frozen=True)
class WordModel:
    """The English word model: words, frequencies, probabilities and valences.

    Attributes
    ----------
    words : tuple of str
        The words, by decreasing frequency.
    frequency : numpy.ndarray
        Their wordfreq frequencies.
    probs : numpy.ndarray
        The renormalised frequencies, the token law :math:`p`.
    valence : numpy.ndarray
        Their VADER valences (0 for a word not in the lexicon), the token reward.
    metadata : dict
        As recorded beside the CSV (package versions, SHA-256).

    Examples
    --------
    >>> model = load_word_model()
    >>> len(model.words), model.probs.shape == model.valence.shape, round(float(model.probs.sum()), 12)
    (5000, True, 1.0)
    """

    words: tuple[str, ...]
    frequency: np.ndarray
    probs: np.ndarray
    valence: np.ndarray
    metadata: dict


class WordModelError(ValueError):
    """The committed word model is missing or does not match its recorded checksum.

    Examples
    --------
    >>> try:
    ...     load_word_model("/nonexistent")
    ... except WordModelError as exc:
    ...     print(type(exc).__name__, isinstance(exc, ValueError))
    WordModelError True
    """


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _metadata(meta_path: Path) -> dict:
    """The JSON object in ``metadata.json`` (a ``WordModelError`` if it is not one)."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as exc:  # invalid UTF-8 or JSON
        raise WordModelError(f"{meta_path} is not valid JSON ({exc}); regenerate it with `make data`") from None
    if not isinstance(meta, dict):
        raise WordModelError(f"{meta_path} must hold a JSON object, got {type(meta).__name__}")
    return meta


def _row(words_path: Path, lineno: int, line: str) -> tuple[str, float, float]:
    """``(word, frequency, valence)`` of one CSV line: a positive finite frequency and a finite valence."""
    fields = line.split(",")
    if len(fields) != 4:
        raise WordModelError(f"{words_path}, line {lineno}: expected 4 fields, got {len(fields)}")
    _, word, f, v = fields
    try:
        freq, val = float(f), float(v)
    except ValueError:
        raise WordModelError(f"{words_path}, line {lineno}: frequency and valence must be numbers") from None
    if not (math.isfinite(freq) and freq > 0 and math.isfinite(val)):
        raise WordModelError(f"{words_path}, line {lineno}: frequency must be positive and finite, valence finite")
    return word, freq, val


def load_word_model(directory: str | Path | None = None) -> WordModel:
    r"""Read ``words.csv``, check its SHA-256 against ``metadata.json``, renormalise the frequencies.

    .. math::

        p(w) = \frac{f(w)}{\sum_v f(v)}.

    Parameters
    ----------
    directory : str or pathlib.Path, optional
        The folder holding ``words.csv`` and ``metadata.json``; the shipped one (:func:`default_dir`) by default.

    Returns
    -------
    WordModel

    Raises
    ------
    WordModelError
        A ``ValueError``: if ``directory`` is not a path, a file is missing, the metadata is not a JSON object, the
        CSV does not match its recorded SHA-256, is not UTF-8, has the wrong header, lists no words, or has a row
        without a positive finite frequency and a finite valence.

    Examples
    --------
    >>> model = load_word_model()
    >>> model.words[:3]
    ('the', 'to', 'and')
    """
    if directory is not None and not isinstance(directory, (str, Path)):
        raise WordModelError(f"directory must be a path, got {type(directory).__name__}")
    directory = Path(directory) if directory is not None else default_dir()
    words_path, meta_path = directory / WORDS_FILE, directory / METADATA_FILE
    for path in (words_path, meta_path):
        if not path.is_file():
            raise WordModelError(f"{path} is missing; regenerate the word model with `make data`")
    raw = words_path.read_bytes()
    meta = _metadata(meta_path)
    if _sha256(raw) != meta.get("sha256"):
        raise WordModelError(
            f"{words_path} does not match the SHA-256 recorded in {meta_path} "
            f"({_sha256(raw)[:12]}... vs {str(meta.get('sha256'))[:12]}...); "
            "restore it or regenerate both with `make data`"
        )
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise WordModelError(f"{words_path} is not UTF-8 text") from None
    if not lines or lines[0] != HEADER:
        raise WordModelError(f"{words_path}: the header must be {HEADER!r}")
    rows = [_row(words_path, lineno, line) for lineno, line in enumerate(lines[1:], start=2)]
    if not rows:
        raise WordModelError(f"{words_path} lists no words")
    words, freq, val = zip(*rows, strict=True)
    frequency = np.asarray(freq)
    probs = frequency / math.fsum(freq)
    return WordModel(words=tuple(words), frequency=frequency, probs=probs, valence=np.asarray(val), metadata=meta)
