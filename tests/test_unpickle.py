import io
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine import unpickle
from engine.errors import DataError


class _WritesAFile:
    """Plain `pickle.load` of this would call `open(path, "w")`: the file proves code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path, protocol):
    witness = tmp_path / "ran"
    payload = pickle.dumps(((np.zeros(2), _WritesAFile(witness)),), protocol=protocol)
    pickle.loads(payload)[0][1].close()  # the plain loader runs it ...
    assert witness.exists()
    witness.unlink()
    with pytest.raises(DataError, match=r"^evil\.pkl: .*(builtins|io)\.open"):
        unpickle.load(io.BytesIO(payload), "evil.pkl")  # ... the restricted one does not
    assert not witness.exists()


def test_codecs_encode_is_allowed_for_latin1_only():
    payload = pickle.dumps(b"\xff\x00bytes", protocol=2)  # spelt as _codecs.encode(..., "latin1")
    assert unpickle.load(io.BytesIO(payload), "ok.pkl") == b"\xff\x00bytes"
    rot13 = payload.replace(b"latin1", b"rot_13")
    with pytest.raises(DataError, match="refused _codecs.encode"):
        unpickle.load(io.BytesIO(rot13), "rot.pkl")


@pytest.mark.parametrize("junk", [b"", b"\x80\x02", b"not a pickle at all", b"\x80\x05\x95" + b"\xff" * 20])
def test_damaged_pickles_are_data_errors(junk):
    with pytest.raises(DataError, match="^junk.pkl: not a usable pickled data set"):
        unpickle.load(io.BytesIO(junk), "junk.pkl")


@given(
    arrays=st.lists(hnp.arrays(st.sampled_from([np.float32, np.int64, np.uint8]), hnp.array_shapes()),
                    max_size=3),
    protocol=st.integers(0, pickle.HIGHEST_PROTOCOL),
)
def test_containers_of_arrays_round_trip(arrays, protocol):
    data = {"arrays": arrays, "pair": (1, "two", b"three"), "labels": [0, 1, 2]}
    out = unpickle.load(io.BytesIO(pickle.dumps(data, protocol=protocol)), "ok.pkl")
    assert out["pair"] == data["pair"] and out["labels"] == data["labels"]
    for a, b in zip(out["arrays"], arrays, strict=True):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
