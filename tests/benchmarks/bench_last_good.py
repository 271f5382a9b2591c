"""What keeping the last good state costs a training step: `LastGood.health()` read on the host
plus `keep()`, against one training step (gradients and SGD update), both in CPU time so a busy
machine skews them less. Default network, batch 32, one host thread."""

from __future__ import annotations

import argparse
import time

from engine import SGD, Network, load_dataset
from engine.last_good import LastGood
from engine.parallel import host_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--checks", type=int, default=2000)
    args = parser.parse_args()
    net, optimizer = Network(seed=0, device="cpu", init="he"), SGD()
    data = load_dataset()
    x = net.backend.to_device(data.train.x[:32], dtype=net.dtype)
    y = net.backend.to_device(data.train.y[:32])
    with host_threads(net.backend, 1) as pool:
        rngs = [net.backend.rng(0)]

        def step() -> None:
            _, _, grads = net.batch_gradients(x, y, rngs, pool)
            optimizer.step(net.params, grads)

        step()  # the momentum buffers exist, as in a run
        last_good = LastGood(net, optimizer)
        t = time.process_time()
        for _ in range(args.steps):
            step()
        per_step = (time.process_time() - t) / args.steps
        t = time.process_time()
        for _ in range(args.checks):
            float(last_good.health())
            last_good.keep()
        per_check = (time.process_time() - t) / args.checks
    print(
        f"training step {per_step * 1e3:.3f} ms CPU; health check and copy {per_check * 1e3:.4f} ms CPU "
        f"({100 * per_check / per_step:.2f}% of a step)"
    )


if __name__ == "__main__":
    main()
