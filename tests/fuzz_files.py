"""A mutation fuzzer over weight files, specs and data files (issue 19).

Valid files are mutated — bytes flipped, set to telling integers, inserted, deleted, cut short,
repeated, and the JSON inside weight files and specs rewritten with hostile values — and each
result is loaded the way the CLI and the window load it. A load either works or raises a
:class:`engine.errors.ConvScopeError`; anything else is a bug, and the fuzzer stops on it with
the input that caused it.

    python tests/fuzz_files.py --examples 40          # CI's budget (tests/test_hostile.py runs it)
    python tests/fuzz_files.py --minutes 10           # a long session; prints its counts

It is meant to run under resource limits (test_hostile sets 3 GiB of address space), since a
crafted file that slipped past a size check would otherwise take the machine's memory."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from hostile_inputs import TINY, gzip_zeros, idx_header, small_npz  # noqa: E402

from engine.data import load_dataset  # noqa: E402
from engine.errors import ConvScopeError  # noqa: E402
from engine.network import Network  # noqa: E402
from engine.optim import Adam  # noqa: E402
from engine.spec import load_spec  # noqa: E402
from engine.training import fit  # noqa: E402
from engine.weights import load_with_optimizer, save  # noqa: E402

#: Integers that headers get wrong: zero, one, signs, and the edges of 8-64-bit ranges.
EDGES = [0, 1, 2, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 2**31 - 1, 2**31, 2**32 - 1, 2**63 - 1, 2**64 - 1]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([10**30, -1, 0, 1, 3000, 10**5, 2**31, 2**64])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["conv", "pool", "dense", "softmax", "same", "relu", "adam", "sgd", "float64", "²"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def mutate_bytes(draw: Callable[[Any], Any], raw: bytes) -> bytes:
    """A few random edits of `raw`, each at a random place."""
    b = bytearray(raw)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(len(b) - 1, 0)))
        op = draw(st.sampled_from(["flip", "integer", "insert", "delete", "truncate", "repeat"]))
        if op == "flip" and b:
            b[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "integer":
            width = draw(st.sampled_from([1, 2, 4, 8]))
            value = draw(st.sampled_from(EDGES)) & ((1 << 8 * width) - 1)
            order = draw(st.sampled_from(["little", "big"]))
            b[at : at + width] = value.to_bytes(width, order)
        elif op == "insert":
            b[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del b[at : at + draw(st.integers(1, 64))]
        elif op == "truncate":
            del b[at:]
        elif op == "repeat":
            piece = bytes(b[at : at + draw(st.integers(1, 256))])
            b[at:at] = piece * draw(st.integers(1, 64))
    return bytes(b)


def mutate_json(draw: Callable[[Any], Any], value: Any) -> Any:
    """`value` with one place in its tree (or the whole) replaced by a hostile JSON value."""
    if not isinstance(value, dict | list) or not value or draw(st.integers(0, 3)) == 0:
        return draw(JSON_VALUES)
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = draw(st.sampled_from(keys))
    copy = dict(value) if isinstance(value, dict) else list(value)
    if isinstance(copy, dict) and draw(st.integers(0, 5)) == 0:
        del copy[key]
    else:
        copy[key] = mutate_json(draw, copy[key])
    return copy


# -- the seeds: one valid file of each kind --------------------------------------------------------


def valid_weights(folder: Path) -> bytes:
    """A tiny trained-looking network with Adam's state and data set metadata."""
    net = Network(TINY, seed=1)
    data = load_dataset(limit=32)
    optimizer = Adam()
    fit(net, data.train, optimizer=optimizer, epochs=1, batch_size=16)
    path = folder / "seed.safetensors"
    save(net, path, optimizer=optimizer, dataset=data)
    return path.read_bytes()


class Targets:
    """Each target turns drawn mutations into a file and loads it; returns "accepted" or the
    ConvScopeError's class name, and lets anything else escape."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.weights = valid_weights(folder)
        self.tensors = safetensors.numpy.load(self.weights)
        with open(folder / "seed.safetensors", "rb") as f:
            header_len = int.from_bytes(f.read(8), "little")
            self.metadata = json.loads(f.read(header_len))["__metadata__"]
        self.seed_spec = json.dumps(TINY).encode()
        self.seed_npz = small_npz(folder / "seed.npz").read_bytes()
        x = np.random.default_rng(0).integers(0, 256, (20, 28, 28), dtype=np.uint8)
        self.images = idx_header(x.shape) + x.tobytes()
        self.labels = idx_header((20,)) + (np.arange(20) % 10).astype(np.uint8).tobytes()
        self.gz_images = gzip_zeros(idx_header(x.shape), len(self.images))

    def _file(self, name: str, raw: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(raw)
        return path

    def weight_bytes(self, draw: Callable[[Any], Any]) -> str:
        return self._weights(self._file("m.safetensors", mutate_bytes(draw, self.weights)))

    def weight_metadata(self, draw: Callable[[Any], Any]) -> str:
        meta = dict(self.metadata)
        key = draw(st.sampled_from(sorted(meta)))
        if key in ("format", "format_version"):
            meta[key] = draw(st.text(max_size=8))
        else:
            meta[key] = json.dumps(mutate_json(draw, json.loads(meta[key])))
        tensors = dict(self.tensors)
        if draw(st.booleans()):
            name = draw(st.sampled_from(sorted(tensors)))
            shape = draw(st.lists(st.integers(0, 6), max_size=4))
            dtype = draw(st.sampled_from([np.float32, np.float64, np.float16, np.int32]))
            tensors[name] = np.zeros(shape, dtype)
        return self._weights(self._file("m.safetensors", safetensors.numpy.save(tensors, metadata=meta)))

    def _weights(self, path: Path) -> str:
        net, _ = load_with_optimizer(path, device="cpu")
        net.predict_proba(np.zeros((2, *net.input_shape), np.float32))
        return "accepted"

    def spec(self, draw: Callable[[Any], Any]) -> str:
        if draw(st.booleans()):
            raw = mutate_bytes(draw, self.seed_spec)
        else:
            raw = json.dumps(mutate_json(draw, TINY)).encode()
        net = Network(load_spec(self._file("net.json", raw)), device="cpu")
        net.predict_proba(np.zeros((1, *net.input_shape), np.float32))
        return "accepted"

    def npz(self, draw: Callable[[Any], Any]) -> str:
        load_dataset(self._file("d.npz", mutate_bytes(draw, self.seed_npz)))
        return "accepted"

    def idx(self, draw: Callable[[Any], Any]) -> str:
        folder = self.folder / "idx"
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        which = draw(st.sampled_from(["images", "gz_images", "labels"]))
        images = self.gz_images if which == "gz_images" else self.images
        if which != "labels":
            images = mutate_bytes(draw, images)
        labels = mutate_bytes(draw, self.labels) if which == "labels" else self.labels
        (folder / f"train-images-idx3-ubyte{'.gz' if which == 'gz_images' else ''}").write_bytes(images)
        (folder / "train-labels-idx1-ubyte").write_bytes(labels)
        load_dataset(folder)
        return "accepted"


TARGETS = ("weight_bytes", "weight_metadata", "spec", "npz", "idx")


def run(targets: Targets, name: str, examples: int, rng_seed: int, counts: Counter) -> None:
    """`examples` mutations of one target, counted by outcome; an uncaught exception escapes."""
    target = getattr(targets, name)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(rng_seed)
    @given(st.data())
    def one(data: st.DataObject) -> None:
        try:
            outcome = target(data.draw)
        except ConvScopeError as exc:
            outcome = type(exc).__name__
        except Exception:
            kept = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
            shutil.copytree(targets.folder, kept, dirs_exist_ok=True)
            print(f"fuzz: the input that broke {name} is kept in {kept}", file=sys.stderr)
            raise
        counts[(name, outcome)] += 1

    one()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=40, help="examples per target and round")
    parser.add_argument("--minutes", type=float, default=0, help="keep going for this long")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    counts: Counter = Counter()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        targets = Targets(Path(tmp))
        round_ = 0
        while True:
            for i, name in enumerate(TARGETS):
                rng_seed = (args.seed * 1_000_003 + round_) * len(TARGETS) + i
                run(targets, name, args.examples, rng_seed, counts)
            round_ += 1
            if time.monotonic() - started >= args.minutes * 60:
                break
    total = sum(counts.values())
    minutes = (time.monotonic() - started) / 60
    print(f"fuzz: {total:,} cases in {minutes:.1f} min, {round_} rounds, 0 uncaught exceptions")
    for name in TARGETS:
        outcomes = {o: n for (t, o), n in sorted(counts.items()) if t == name}
        listed = ", ".join(f"{o} {n:,}" for o, n in outcomes.items())
        print(f"  {name}: {sum(outcomes.values()):,} — {listed}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
