"""Feeds one crafted input to the API, in tests/test_hostile.py's limited subprocess.

`python tests/hostile_driver.py USE PATH`: exits 1 with the message on a ConvScopeError, 0 when
the input was accepted; anything else escapes with its traceback, which the test refuses."""

import sys

import numpy as np

from engine.data import load_dataset
from engine.errors import ConvScopeError
from engine.network import Network
from engine.spec import load_spec
from engine.training import fit
from engine.weights import load, load_with_optimizer


def run(use: str, path: str) -> None:
    if use == "weights":
        load(path).evaluate(load_dataset())
    elif use == "resume":
        net, optimizer = load_with_optimizer(path)
        fit(net, load_dataset(limit=64).train, optimizer=optimizer, epochs=1)
    elif use == "spec":
        Network(load_spec(path))
    elif use == "data":
        load_dataset(path)
    elif use == "fit":
        with np.load(path) as f:
            x, y = f["x"], f["y"]
        fit(Network(), (x[:, None].astype(np.float32), y), epochs=1)
    else:
        raise SystemExit(f"unknown use {use!r}")


if __name__ == "__main__":
    try:
        run(*sys.argv[1:])
    except ConvScopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
