"""A slow model must not build latency: the node tracks the newest frame and counts the rest."""
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from vision_msgs.msg import BoundingBox2D  # noqa: E402

from stt_tracker_ros.msg import TrackStatus  # noqa: E402

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 3
DELAY_S = 0.2        # the double's time per frame
FRAMES = 30
PERIOD_S = 0.02      # frames arrive 10x faster than they can be tracked
# Newest-wins latency is at most the frame in progress plus the frame's own inference (0.4 s);
# a queue would make the last frame wait for all the others (about 30 x 0.2 - 0.6 = 5.4 s).
# The bound leaves room for a loaded 2-core machine and still tells the two apart.
MAX_LATENCY_MS = 1500.0


def test_slow_tracker_processes_only_the_newest_frames(tracker_rig, tracker_class,
                                                       image_factory):
    tracker = tracker_class(delay=DELAY_S)
    node, probe = tracker_rig(tracker)
    probe.image_pub.publish(image_factory(0, stamp_ns=10 ** 9))
    probe.wait_status(lambda s: s.header.stamp.sec == 1)
    box = BoundingBox2D(size_x=10.0, size_y=10.0)
    box.center.position.x = box.center.position.y = 20.0
    probe.init_box_pub.publish(box)
    probe.wait_status(lambda s: s.message.startswith('initialised'))

    started = time.monotonic()
    for index in range(1, FRAMES + 1):   # markers 1..FRAMES, stamps 2..FRAMES+1 s
        probe.image_pub.publish(image_factory(index, stamp_ns=(index + 1) * 10 ** 9))
        time.sleep(PERIOD_S)
    published_at = time.monotonic()
    last = probe.wait_status(lambda s: s.header.stamp.sec == FRAMES + 1, timeout=5.0)
    # The last frame waited at most for the frame in progress, then its own inference.
    assert time.monotonic() - published_at < MAX_LATENCY_MS / 1000.0
    assert last.latency_ms < MAX_LATENCY_MS

    tracked = [s for s in probe.messages('status') if s.state == TrackStatus.TRACKING
               and s.header.stamp.sec >= 2]
    markers = tracker.tracked_markers
    assert markers == sorted(markers) and markers[-1] == FRAMES
    # About one frame per inference while they came in, not one per frame published.
    assert len(markers) <= (published_at - started) / DELAY_S + 3
    assert len(tracked) == len(markers)
    assert max(s.latency_ms for s in tracked) < MAX_LATENCY_MS   # no queue builds up
    dropped = last.frames_dropped
    assert dropped == node.frames_dropped
    # Frames are tracked, replaced in the node (counted) or replaced in the DDS reader's
    # depth-1 history before the callback took them (not countable); never tracked late.
    assert dropped >= 1 and len(markers) + dropped <= FRAMES
    counts = [s.frames_dropped for s in tracked]
    assert counts == sorted(counts) and counts[-1] > counts[0]
