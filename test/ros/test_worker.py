"""The newest-item-wins worker and the stamp-keyed frame cache (plain threads, no DDS)."""
import threading

import pytest

pytest.importorskip('rclpy')

from stt_tracker_ros.ros.frame_cache import FrameCache, ReceivedFrame  # noqa: E402
from stt_tracker_ros.ros.worker import NewestWorker  # noqa: E402

pytestmark = pytest.mark.ros


class GatedConsumer:
    """Records items; blocks inside `process` until the gate opens."""

    def __init__(self):
        self.items, self.gate, self.started = [], threading.Event(), threading.Event()

    def __call__(self, item) -> None:
        self.started.set()
        self.gate.wait(5.0)
        self.items.append(item)


def test_items_arriving_while_busy_replace_each_other():
    consumer = GatedConsumer()
    worker = NewestWorker(consumer)
    try:
        assert worker.submit(0) is False
        assert consumer.started.wait(5.0)          # 0 is being processed, the gate is shut
        results = [worker.submit(i) for i in range(1, 6)]
        assert results == [False, True, True, True, True]
        consumer.gate.set()
        assert worker.wait_idle(5.0)
        assert consumer.items == [0, 5]             # the newest waiting item, nothing else
        assert (worker.dropped, worker.processed) == (4, 2)
    finally:
        worker.stop()


def test_a_failing_item_does_not_stop_the_worker():
    errors, done = [], []

    def process(item):
        if item == 'bad':
            raise ValueError('broken frame')
        done.append(item)

    worker = NewestWorker(process, on_error=errors.append)
    try:
        worker.submit('bad')
        assert worker.wait_idle(5.0)
        worker.submit('good')
        assert worker.wait_idle(5.0)
        assert done == ['good'] and [str(e) for e in errors] == ['broken frame']
    finally:
        worker.stop()


def test_stop_ends_the_thread_and_refuses_new_items():
    consumer = GatedConsumer()
    consumer.gate.set()
    worker = NewestWorker(consumer, name='stop-test')
    worker.stop()
    assert not [t for t in threading.enumerate() if t.name == 'stop-test']
    assert worker.submit(1) is False and consumer.items == []


def frame(seq: int, stamp_ns: int) -> ReceivedFrame:
    return ReceivedFrame(msg=None, seq=seq, stamp_ns=stamp_ns, received=0.0)


def test_cache_keeps_the_newest_frames():
    cache = FrameCache(3)
    assert cache.newest() is None and cache.stamp_range() is None
    for seq in range(1, 6):
        cache.add(frame(seq, seq * 100))
    assert len(cache) == 3 and cache.newest().seq == 5
    assert cache.stamp_range() == (300, 500)


def test_cache_finds_the_closest_stamp_within_tolerance():
    cache = FrameCache(5)
    for seq, stamp in enumerate((100, 200, 300, 300), start=1):
        cache.add(frame(seq, stamp))
    assert cache.closest(200, 0).seq == 2
    assert cache.closest(240, 50).seq == 2
    assert cache.closest(300, 0).seq == 4          # a repeated stamp picks the newest copy
    assert cache.closest(260, 30) is None          # nearest is 40 away
    assert cache.closest(10_000, 100) is None


def test_cache_size_must_be_positive():
    with pytest.raises(ValueError):
        FrameCache(0)
