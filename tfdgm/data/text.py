"""Bags of words from an offline text corpus (for the Replicated Softmax RBM).

The default corpus is Debian's `fortunes` (`apt-get install fortunes-min`):
files under /usr/share/games/fortunes whose entries are separated by lines
holding a single "%". Any folder of .txt files (one document per file) or a
single text file (documents separated by "%" lines or blank lines) works too.
"""

import collections
import os
import re

import numpy as np

from tfdgm.data.errors import DatasetError

__all__ = ["FORTUNES_DIR", "read_documents", "load_bag_of_words", "STOP_WORDS"]

FORTUNES_DIR = "/usr/share/games/fortunes"

#: Common English function words, left out of the vocabulary.
STOP_WORDS = frozenset(
    "a about after all also am an and any are as at be because been but by can could did do does "
    "for from had has have he her him his how i if in into is it its just like me more most my no "
    "not now of on one only or other our out over said she so some than that the their them then "
    "there these they this to too up us was we were what when which who will with would you your "
    "s t don ll re ve d m".split()
)
_WORD = re.compile(r"[a-z][a-z']*[a-z]|[a-z]")


def _split_entries(text):
    if re.search(r"^%\s*$", text, flags=re.M):
        parts = re.split(r"^%\s*$", text, flags=re.M)
    else:
        parts = re.split(r"\n\s*\n", text)
    return [part.strip() for part in parts if part.strip()]


def read_documents(path=None):
    """Documents (strings) of a corpus: a folder of .txt files, fortune files, or one file.

    Arguments:
      path: folder or file; None is the `fortunes` folder.
    Raises:
      DatasetError: naming the path and how to get the default corpus.
    """
    path = FORTUNES_DIR if path is None else path
    if not os.path.exists(path):
        hint = " (install it: apt-get install fortunes-min)" if path == FORTUNES_DIR else ""
        raise DatasetError(f"text corpus {path!r} not found{hint}; pass a folder of .txt files")
    if os.path.isfile(path):
        with open(path, encoding="utf-8", errors="replace") as handle:
            return _split_entries(handle.read())
    documents = []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if not os.path.isfile(full) or name.endswith((".dat", ".u8")):
            continue
        with open(full, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        if name.endswith(".txt"):
            documents.append(text)
        elif "." not in name:  # a fortune file
            documents.extend(_split_entries(text))
    if not documents:
        raise DatasetError(f"no documents in {path!r}: expected .txt files or fortune files")
    return documents


def tokenize(text, stop_words=STOP_WORDS):
    """Lower-case words of letters (and inner apostrophes), stop words removed."""
    return [w for w in _WORD.findall(text.lower()) if w not in stop_words and len(w) > 1]


def load_bag_of_words(path=None, vocabulary_size=2000, min_words=1, max_words=None, stop_words=STOP_WORDS):
    """Word-count vectors of a corpus over its most frequent words.

    Arguments:
      path: see `read_documents` (None: the `fortunes` corpus).
      vocabulary_size: K, the number of most frequent words kept (by document
        frequency, ties alphabetically).
      min_words: drop documents with fewer in-vocabulary words.
      max_words: truncate longer documents to their first `max_words`
        in-vocabulary words (None: keep all).
      stop_words: words to leave out.
    Returns:
      counts: float32 [N, K]; vocabulary: list of K words (column order).
    """
    if vocabulary_size < 1:
        raise DatasetError(f"vocabulary_size: expected a positive integer, got {vocabulary_size}")
    tokens = [tokenize(doc, stop_words) for doc in read_documents(path)]
    frequency = collections.Counter(w for doc in tokens for w in set(doc))
    vocabulary = [w for w, _ in sorted(frequency.items(), key=lambda item: (-item[1], item[0]))][:vocabulary_size]
    index = {w: i for i, w in enumerate(vocabulary)}
    rows = []
    for doc in tokens:
        words = [index[w] for w in doc if w in index]
        if max_words is not None:
            words = words[:max_words]
        if len(words) >= min_words:
            rows.append(np.bincount(words, minlength=len(vocabulary)))
    if not rows:
        raise DatasetError(f"no document has {min_words} or more in-vocabulary words")
    return np.asarray(rows, np.float32), vocabulary


#: Vocabulary size of the registered "fortunes" dataset.
FORTUNES_VOCABULARY = 1000


def fortunes_vocabulary(data_dir=None):
    """The FORTUNES_VOCABULARY words of the "fortunes" counts, in column order."""
    return load_bag_of_words(data_dir, vocabulary_size=FORTUNES_VOCABULARY)[1]


def fortunes_split(split, data_dir=None):
    """Word counts of the `fortunes` corpus, split 80/10/10 after a seed-0
    permutation of the documents. -> (counts [N, 1000] float32, None)."""
    if not os.path.isdir(data_dir or FORTUNES_DIR):
        raise DatasetError(
            f"the fortunes corpus is not in {data_dir or FORTUNES_DIR}: install it with "
            "`sudo apt-get install fortunes-min` (Debian/Ubuntu), or pass a folder of .txt files"
        )
    counts, _ = load_bag_of_words(data_dir, vocabulary_size=FORTUNES_VOCABULARY)
    order = np.random.default_rng(0).permutation(len(counts))
    num_train, num_validation = int(0.8 * len(counts)), int(0.1 * len(counts))
    parts = {
        "train": order[:num_train],
        "validation": order[num_train : num_train + num_validation],
        "test": order[num_train + num_validation :],
    }
    return counts[parts[split]], None
