"""Signal handlers for the length of a block: installed on entry, the previous ones put back on
exit. Python lets only the main thread install them; in any other thread the block runs with the
handlers as they are (the training loop and the worker then only see stops asked in code)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager


@contextmanager
def handling(signums: Iterable[int], handler: Callable) -> Iterator[bool]:
    """``handler`` for each of ``signums`` while the block runs; yields whether it was
    installed (False off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = {s: signal.getsignal(s) for s in signums}
    for s in previous:
        signal.signal(s, handler)
    try:
        yield True
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
