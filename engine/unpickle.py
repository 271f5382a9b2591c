"""The one restricted unpickler: plain containers and NumPy arrays, and nothing that runs code.

Data sets published as pickles (the book's `mnist.pkl.gz`, CIFAR's "python version") are read
through this alone. `pickle.load` would call any function the file names; here a file may only
name NumPy's array reconstruction, so a hostile file fails with a `DataError` instead."""

import codecs
import pickle
from typing import IO, Any

import numpy as np

from engine.errors import DataError, clip

_EMPTY = np.empty(0)
# Looked up from NumPy itself, so both `numpy.core` (1.x) and `numpy._core` (2.x) names resolve.
_RECONSTRUCT = _EMPTY.__reduce__()[0]
_FROMBUFFER = _EMPTY.__reduce_ex__(5)[0]
_SCALAR = np.float32(0).__reduce__()[0]


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """Python 3's protocol-2 pickles spell bytes as `_codecs.encode(text, "latin1")`."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {clip(encoding, 40)!r}")
    return codecs.encode(text, "latin1")


_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}
for _module in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_module}.multiarray", "_reconstruct")] = _RECONSTRUCT
    _ALLOWED[(f"{_module}.multiarray", "scalar")] = _SCALAR
    _ALLOWED[(f"{_module}.numeric", "_frombuffer")] = _FROMBUFFER


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"it names {clip(module, 60)}.{clip(name, 60)}, which a data file has no need of"
            ) from None


def load(stream: IO[bytes], source: str, *, encoding: str = "latin1") -> Any:
    """The object pickled in `stream`; `source` names the file in the error. `latin1` reads the
    Python 2 pickles these data sets were published as."""
    try:
        return _Restricted(stream, encoding=encoding).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, MemoryError, OverflowError, RecursionError, UnicodeError) as exc:
        raise DataError(f"{source}: not a usable pickled data set ({clip(exc, 200)})") from None
