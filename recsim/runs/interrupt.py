"""Ctrl-C that always stops a run.

Python turns SIGINT into a `KeyboardInterrupt` at the next bytecode of the main thread; when
that bytecode belongs to a callback whose exceptions Python ignores (seen: JAX's garbage-
collection callback, `_xla_gc_callback`), the interrupt is printed as "Exception ignored" and
lost, and the run goes on. `install` adds a handler that also remembers the request, and the
run checks it between chunks (`check`), so a lost interrupt stops the run one chunk later.
"""

import signal
import threading

REQUESTED = threading.Event()


def _handler(signum, frame) -> None:
    REQUESTED.set()
    raise KeyboardInterrupt


def install() -> None:
    """Makes SIGINT remembered as well as raised (call from the main thread)."""
    REQUESTED.clear()
    signal.signal(signal.SIGINT, _handler)


def check() -> None:
    """Raises KeyboardInterrupt if Ctrl-C was pressed, even if its first raise was lost."""
    if REQUESTED.is_set():
        raise KeyboardInterrupt
