"""Newest-item-wins worker thread: slow processing never builds a queue.

The image callback only hands the frame over (`submit`) and returns. One background thread
processes items one at a time; an item submitted while another waits replaces it and counts as
dropped. So at most one item waits, and what gets processed is always the newest that arrived.
"""
import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar('Item')
log = logging.getLogger(__name__)


class NewestWorker(Generic[Item]):
    """Runs `process(item)` on a thread of its own, keeping only the newest pending item."""

    def __init__(self, process: Callable[[Item], None], name: str = 'newest-worker',
                 on_error: Callable[[BaseException], None] | None = None):
        """Start the thread.

        Args:
            process: called with each item; exceptions are passed to `on_error` (or logged) and
                never stop the thread.
            name: thread name.
            on_error: error handler; defaults to logging the exception.
        """
        self._process = process
        self._on_error = on_error or (lambda error: log.exception('worker failed: %s', error))
        self._condition = threading.Condition()
        self._pending: Item | None = None
        self._has_pending = False
        self._busy = False
        self._stopping = False
        self._dropped = 0
        self._processed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Items replaced by a newer one before they were processed."""
        with self._condition:
            return self._dropped

    @property
    def processed(self) -> int:
        """Items handed to `process` so far."""
        with self._condition:
            return self._processed

    def submit(self, item: Item) -> bool:
        """Make `item` the pending one; returns True when it replaced an unprocessed item."""
        with self._condition:
            if self._stopping:
                return False
            replaced = self._has_pending
            if replaced:
                self._dropped += 1
            self._pending, self._has_pending = item, True
            self._condition.notify_all()
            return replaced

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending or running; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._has_pending and not self._busy,
                                            timeout)

    def stop(self, timeout: float | None = 5.0) -> None:
        """Discard the pending item, let the running one finish and end the thread."""
        with self._condition:
            self._stopping = True
            self._pending, self._has_pending = None, False
            self._condition.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._has_pending or self._stopping)
                if self._stopping:
                    return
                item, self._pending, self._has_pending = self._pending, None, False
                self._busy = True
                self._processed += 1
            try:
                self._process(item)
            except Exception as error:  # noqa: BLE001 - the worker must outlive any bad frame
                self._on_error(error)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()
