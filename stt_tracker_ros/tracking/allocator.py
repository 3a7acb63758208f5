"""Keep freed memory in the process (glibc), so that a tracker step does not fault its buffers in
again every frame.

A CPU step allocates and frees the same large buffers every frame (a padded 96 x 129 x 129
feature map is 6.4 MB). glibc hands blocks above its mmap threshold to the kernel and back, and
trims the heap's free top, so each frame touches fresh pages: about 1,600 page faults for that
one buffer. With the thresholds raised, freed blocks are reused: the shipped model's whole step
took 18.0-22.1 ms against 22.8-33.1 ms with glibc's own thresholds, three runs each on the
project's 2-core machine (`python benchmarks/bench_tracker.py --networks default --backends
fast --frames 30 [--system-malloc]`, README Speed). The price is a resident size that stays at
the step's peak instead of shrinking between frames. MALLOC_MMAP_THRESHOLD_ or
MALLOC_TRIM_THRESHOLD_ in the environment mean the user has chosen: they are left alone.
"""
import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1                  # mallopt parameters of glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024      # glibc's largest on 64-bit systems
TRIM_THRESHOLD = 256 * 1024 * 1024
USER_SETTINGS = ('MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_')


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; returns whether they are set
    (False without glibc, or where the environment already sets either)."""
    if any(name in os.environ for name in USER_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):   # not glibc (musl, macOS, Windows)
        return False
    applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    log.debug('malloc thresholds raised: %s', applied)
    return applied
