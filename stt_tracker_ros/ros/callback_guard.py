"""One guard for every callback of a node: no exception may leave a callback.

rclpy's executors re-raise an exception that leaves a subscription, service, timer or parameter
callback out of `spin()`, and the process ends. A node method decorated with `guarded` instead
hands the exception to the node's `callback_failed(what, text, args)` (which logs, reports and
keeps the track in place) and returns a fallback: None for subscriptions and timers, a failed
response for services (`service_failure`), a refused change for parameter callbacks
(`parameters_refused`). Only `Exception` is caught: KeyboardInterrupt and SystemExit still stop
the process.

Once the node's context is shut down (Ctrl-C, `rclpy.shutdown`), its publishers are gone and a
callback still running fails on its next publish: that is the end of the process, not news, so
the guard then returns the fallback without reporting anything.
"""
import functools
import logging
from collections.abc import Callable
from typing import Any

from rcl_interfaces.msg import SetParametersResult

MAX_TEXT = 300   # characters of an error kept in a status message (a box repr can be long)
log = logging.getLogger(__name__)


def describe(what: str, error: BaseException) -> str:
    """One line saying which callback failed and why, at most MAX_TEXT characters."""
    text = f'{what} failed: {type(error).__name__}: {error}'.replace('\n', ' ')
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 3] + '...'


def service_failure(text: str, request, response):
    """Fallback of a service callback: the response with success False and `text`."""
    response.success = False
    response.message = text
    return response


def parameters_refused(text: str, changes) -> SetParametersResult:
    """Fallback of a parameter callback: the change is refused, with `text` as the reason."""
    return SetParametersResult(successful=False, reason=text)


def guarded(what: str, fallback: Callable[..., Any] | None = None):
    """Decorate a node method used as a callback so that no Exception leaves it.

    Args:
        what: names the callback in logs and status messages ('~/init_box', 'image', ...).
        fallback: called as fallback(text, *args) to build the return value after a failure;
            None returns None.

    The instance must be a node (its `context` tells whether it is shutting down) with
    `callback_failed(what, text, args)`. If that raises too, the error is logged through Python
    logging and the fallback is still returned; during shutdown nothing is reported.
    """
    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args):
            try:
                return method(self, *args)
            except Exception as error:  # noqa: BLE001 - the reason this guard exists
                text = describe(what, error)
                if self.context.ok():
                    try:
                        self.callback_failed(what, text, args)
                    except Exception:  # noqa: BLE001 - the report itself failed
                        if self.context.ok():   # else the shutdown came in between
                            log.exception('reporting a failed callback failed: %s', text)
                return None if fallback is None else fallback(text, *args)
        wrapper.guarded = what
        return wrapper
    return decorate
