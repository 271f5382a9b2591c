"""A training step captured as a CUDA graph: the step's Python runs once, under CuPy's stream
capture, and each replay launches every kernel it queued in one call.

The step allocates its temporaries while it is captured; they come from a memory pool of the
graph's own, kept as long as the graph, so no later allocation can take memory a replay still
writes. What must persist or vary between replays (the weights, the batch's indices, the
learning rate, the step's loss) lives in buffers allocated before the capture."""

from __future__ import annotations

from collections.abc import Callable

import cupy


class _Replay:
    def __init__(self, graph: cupy.cuda.Graph, pool: cupy.cuda.MemoryPool, stream: cupy.cuda.Stream):
        # The pool and the capturing stream (the pool's blocks are filed under it) live as long
        # as the graph that uses their memory.
        self._graph, self._pool, self._stream = graph, pool, stream

    def __call__(self) -> None:
        self._graph.launch(cupy.cuda.get_current_stream())


def capture(step: Callable[[], None]) -> Callable[[], None]:
    """Record `step`'s kernels into a graph and return what replays it on the current stream.
    Capture cannot run on the legacy default stream, so it runs on a stream of its own; the
    replays join the caller's stream, in order with the caller's other work."""
    pool = cupy.cuda.MemoryPool()
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:  # whatever cuBLAS sets up for a new stream, it sets up before the capture
        square = cupy.ones((2, 2), dtype=cupy.float32)
        cupy.matmul(square, square)
        stream.synchronize()
    with cupy.cuda.using_allocator(pool.malloc), stream:
        stream.begin_capture()
        try:
            step()
        except BaseException:
            try:
                stream.end_capture()
            except Exception:  # the step's own error says more than the aborted capture's
                pass
            raise
        graph = stream.end_capture()
    return _Replay(graph, pool, stream)
