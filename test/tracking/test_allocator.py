"""tracking/allocator.py: large buffers freed every frame are reused instead of faulted in anew."""
import json
import platform
import subprocess
import sys

import pytest

from stt_tracker_ros.tracking.allocator import keep_freed_memory

# Run in a fresh process: in this one, earlier tests have grown the heap so far that buffers
# come from it whatever the thresholds are.
MEASURE = '''
import ctypes, json, resource, torch
from stt_tracker_ros.tracking.allocator import M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
from stt_tracker_ros.tracking.allocator import keep_freed_memory

def page_faults(count):
    """Minor page faults of allocating, writing and freeing `count` 8 MB buffers in turn, as a
    tracker step does with its feature maps (2,048 pages each)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(count):
        torch.empty(2 * 1024 * 1024).fill_(1.0)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

libc = ctypes.CDLL('libc.so.6')   # glibc's starting thresholds (128 kB), held there
assert libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024) and libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024)
held = page_faults(10)
applied = keep_freed_memory()
page_faults(20)   # the heap grows to what the buffers need, then stays
print(json.dumps({'held': held, 'applied': applied, 'raised': page_faults(10)}))
'''


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason='needs glibc')
def test_freed_buffers_are_reused_instead_of_faulted_in_again(monkeypatch):
    for name in ('MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_'):
        monkeypatch.delenv(name, raising=False)
    done = subprocess.run([sys.executable, '-c', MEASURE], capture_output=True, text=True,
                          timeout=120, check=True)
    faults = json.loads(done.stdout.splitlines()[-1])
    assert faults['held'] > 10 * 1500 and faults['applied']
    assert faults['raised'] < 200


def test_the_users_own_malloc_settings_are_left_alone(monkeypatch):
    monkeypatch.setenv('MALLOC_TRIM_THRESHOLD_', '100000')
    assert not keep_freed_memory()
