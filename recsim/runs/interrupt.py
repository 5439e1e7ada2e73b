"""Ctrl-C that always stops a run.

Python turns SIGINT into a `KeyboardInterrupt` at the next bytecode of the main thread; when
that bytecode belongs to a callback whose exceptions Python ignores (seen: JAX's garbage-
collection callback, `_xla_gc_callback`), the interrupt is printed as "Exception ignored" and
lost, and the run goes on. `install` adds a handler that also remembers the request, and the
run checks it between chunks (`check`), so a lost interrupt stops the run one chunk later; and
it keeps the lost interrupt's "Exception ignored" traceback off stderr (`_quiet_lost_interrupt`:
the run's one line on stderr says what happened).
"""

import signal
import sys
import threading

REQUESTED = threading.Event()


def _handler(signum, frame) -> None:
    REQUESTED.set()
    raise KeyboardInterrupt


def install() -> None:
    """Makes SIGINT remembered as well as raised (call from the main thread)."""
    REQUESTED.clear()
    signal.signal(signal.SIGINT, _handler)
    if getattr(sys.unraisablehook, "keeps_lost_interrupts_quiet", False):
        return
    sys.unraisablehook = _quiet_lost_interrupt(sys.unraisablehook)


def _quiet_lost_interrupt(previous):
    """A `sys.unraisablehook` that drops the KeyboardInterrupt of a remembered Ctrl-C (`check`
    raises it again between chunks) and hands every other unraisable exception to
    `previous`."""

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and REQUESTED.is_set():
            return
        previous(unraisable)

    hook.keeps_lost_interrupts_quiet = True
    return hook


def check() -> None:
    """Raises KeyboardInterrupt if Ctrl-C was pressed, even if its first raise was lost."""
    if REQUESTED.is_set():
        raise KeyboardInterrupt
