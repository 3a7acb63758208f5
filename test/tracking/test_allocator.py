"""tracking/allocator.py: large buffers freed every frame are reused instead of faulted in anew."""
import ctypes
import platform
import resource

import pytest
import torch

from stt_tracker_ros.tracking.allocator import (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD,
                                                USER_SETTINGS, keep_freed_memory)

BUFFER = 8 * 1024 * 1024   # bytes: 2,048 pages of 4 kB
glibc = pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason='needs glibc')


def page_faults_of_buffers(count: int) -> int:
    """Minor page faults of allocating, writing and freeing `count` buffers in turn, as a
    tracker step does with its feature maps."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(count):
        torch.empty(BUFFER // 4).fill_(1.0)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@glibc
def test_freed_buffers_are_reused_instead_of_faulted_in_again(monkeypatch):
    for name in USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    libc = ctypes.CDLL('libc.so.6')
    # glibc's starting thresholds (128 kB), held there: every buffer comes from the kernel anew.
    assert libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024) and libc.mallopt(M_TRIM_THRESHOLD,
                                                                       128 * 1024)
    assert page_faults_of_buffers(10) > 10 * 1500
    assert keep_freed_memory()
    page_faults_of_buffers(20)   # the heap grows to what the buffers need, then stays
    assert page_faults_of_buffers(10) < 200


def test_the_users_own_malloc_settings_are_left_alone(monkeypatch):
    monkeypatch.setenv('MALLOC_TRIM_THRESHOLD_', '100000')
    assert not keep_freed_memory()
