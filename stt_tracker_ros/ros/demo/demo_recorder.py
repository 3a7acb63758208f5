"""The demo's observer: starts the track from the ground truth and records what comes back.

`DemoRecorder` listens to the camera's images and ground truth and to the tracker's status and
detections. As soon as the tracker has seen a frame whose true box is known (or any frame, when
a box was given for a video), it sends that box on `<tracker>/init` with the frame's stamp (the
node picks the frame from its cache). Afterwards `summarize` scores the run and `write_video`
draws it.
"""
import math
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2D

from stt_tracker_ros.evaluation.metrics import iou_xywh
from stt_tracker_ros.msg import TrackStatus
from stt_tracker_ros.ros.conversions import bbox_to_xywh, stamp_to_ns
from stt_tracker_ros.ros.debug_overlay import draw_overlay
from stt_tracker_ros.ros.image_decoding import image_to_rgb
from stt_tracker_ros.tracking.result import TrackState


@dataclass(frozen=True)
class TrackedFrame:
    """One frame the tracker processed: its status, box and when the result arrived."""

    status: TrackStatus
    box_xywh: tuple[float, float, float, float] | None
    received_ns: int


class DemoRecorder(Node):
    """Records the demo's topics and sends the init box once."""

    def __init__(self, init_box: tuple[float, float, float, float] | None = None,
                 tracker: str = '/stt_tracker', camera: str = '/demo_camera',
                 image_topic: str = '/image'):
        """Subscribe to the camera's and the tracker's outputs.

        Args:
            init_box: (x, y, w, h) to start on the first frame; None uses the ground truth.
            tracker, camera: node names whose topics are used.
            image_topic: the camera's image topic.
        """
        super().__init__('demo_recorder')
        self._init_box = init_box
        self._lock = threading.Lock()
        self.images: list[Image] = []
        self.truth: dict[int, tuple[float, float, float, float]] = {}
        self.tracked: dict[int, TrackedFrame] = {}
        self._boxes: dict[int, tuple[float, float, float, float]] = {}
        self._seen_by_tracker: set[int] = set()
        self.init_stamp_ns: int | None = None
        reliable = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(Image, image_topic, self._on_image, reliable)
        self.create_subscription(Detection2D, f'{camera}/ground_truth', self._on_truth, reliable)
        self.create_subscription(TrackStatus, f'{tracker}/status', self._on_status, reliable)
        self.create_subscription(Detection2D, f'{tracker}/detection', self._on_detection,
                                 reliable)
        self._init_pub = self.create_publisher(Detection2D, f'{tracker}/init', 10)

    def _on_image(self, msg: Image) -> None:
        with self._lock:
            self.images.append(msg)

    def _on_truth(self, msg: Detection2D) -> None:
        with self._lock:
            self.truth[stamp_to_ns(msg.header.stamp)] = bbox_to_xywh(msg.bbox)
        self._maybe_init()

    def _on_detection(self, msg: Detection2D) -> None:
        with self._lock:
            self._boxes[stamp_to_ns(msg.header.stamp)] = bbox_to_xywh(msg.bbox)

    def _on_status(self, msg: TrackStatus) -> None:
        stamp = stamp_to_ns(msg.header.stamp)
        with self._lock:
            self._seen_by_tracker.add(stamp)
            if msg.target_id and not msg.message:
                self.tracked[stamp] = TrackedFrame(msg, None, time.time_ns())
            usable = self._init_box is not None or stamp in self.truth
        if usable:
            self._maybe_init()

    def _maybe_init(self) -> None:
        """Send the init box for the first frame the tracker saw (and the truth knows)."""
        with self._lock:
            if self.init_stamp_ns is not None:
                return
            known = self._seen_by_tracker if self._init_box is not None else set(self.truth)
            common = sorted(known & self._seen_by_tracker)
            if not common:
                return
            stamp = self.init_stamp_ns = common[0]
            box = self._init_box or self.truth[stamp]
        request = Detection2D()
        request.header.stamp.sec, request.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        x, y, w, h = box
        request.bbox.center.position.x, request.bbox.center.position.y = x + w / 2, y + h / 2
        request.bbox.size_x, request.bbox.size_y = w, h
        self._init_pub.publish(request)
        self.get_logger().info(f'sent the init box for frame {stamp / 1e9:.3f} on ~/init')

    def seen_by_tracker(self) -> set[int]:
        """Stamps of the frames the tracker published a status for (tracked or not)."""
        with self._lock:
            return set(self._seen_by_tracker)

    def result_for(self, stamp_ns: int) -> TrackedFrame | None:
        """The tracked result of one frame, with its box, or None."""
        with self._lock:
            frame = self.tracked.get(stamp_ns)
            box = self._boxes.get(stamp_ns)
        return None if frame is None else TrackedFrame(frame.status, box, frame.received_ns)


@dataclass(frozen=True)
class DemoSummary:
    """What the demo prints."""

    frames_published: int
    frames_tracked: int
    frames_dropped: int
    frames_undelivered: int
    mean_iou: float | None
    max_area_ratio: float | None   # largest published box area / true area over the run
    median_latency_ms: float | None
    p95_latency_ms: float | None
    median_end_to_end_ms: float | None

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        def ms(value):
            return 'n/a' if value is None else f'{value:.1f} ms'
        iou = 'n/a (no ground truth)' if self.mean_iou is None else f'{self.mean_iou:.3f}'
        ratio = 'n/a' if self.max_area_ratio is None else f'{self.max_area_ratio:.2f}'
        return [f'frames published by the camera: {self.frames_published}',
                f'frames tracked:                 {self.frames_tracked}',
                f'frames dropped (newest wins):   {self.frames_dropped}',
                f'frames lost before the node:    {self.frames_undelivered} (DDS; '
                'best-effort QoS loses large fragmented frames when the CPU is busy)',
                f'mean IoU vs ground truth:       {iou}',
                f'largest box / true area:        {ratio}',
                f'node latency median / p95:      {ms(self.median_latency_ms)} / '
                f'{ms(self.p95_latency_ms)}',
                f'camera stamp -> result median:  {ms(self.median_end_to_end_ms)}']


def summarize(recorder: DemoRecorder) -> DemoSummary:
    """Score a finished run: counts, IoU on tracked frames with a visible target, latency."""
    stamps = [stamp_to_ns(image.header.stamp) for image in recorder.images]
    results = {s: r for s in stamps if (r := recorder.result_for(s)) is not None}
    latencies = sorted(r.status.latency_ms for r in results.values())
    end_to_end = [(r.received_ns - s) / 1e6 for s, r in results.items()]
    scored = [(r.box_xywh, recorder.truth[s]) for s, r in results.items()
              if s in recorder.truth and r.box_xywh is not None]
    ious = ratio = None
    if scored:
        predicted, truth = (np.array(boxes, np.float64) for boxes in zip(*scored))
        ious = iou_xywh(predicted, truth)
        ratio = float(np.max(predicted[:, 2] * predicted[:, 3] / (truth[:, 2] * truth[:, 3])))
    dropped = max((r.status.frames_dropped for r in results.values()), default=0)
    processed = len(set(stamps) & recorder.seen_by_tracker())
    return DemoSummary(
        frames_published=len(stamps), frames_tracked=len(results), frames_dropped=dropped,
        frames_undelivered=max(0, len(stamps) - processed - dropped),
        mean_iou=float(np.mean(ious)) if ious is not None else None, max_area_ratio=ratio,
        median_latency_ms=statistics.median(latencies) if latencies else None,
        p95_latency_ms=latencies[math.ceil(0.95 * len(latencies)) - 1] if latencies else None,
        median_end_to_end_ms=statistics.median(end_to_end) if end_to_end else None)


def open_video(path: Path, fps: float, size: tuple[int, int]) -> tuple[cv2.VideoWriter, Path]:
    """An opened writer: MP4 (mp4v) when this OpenCV build can, else MJPG AVI.

    Raises:
        OSError: neither codec works.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix, codec in (('.mp4', 'mp4v'), ('.avi', 'MJPG')):
        target = path.with_suffix(suffix)
        writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*codec), fps, size)
        if writer.isOpened():
            return writer, target
    raise OSError(f'cannot write video next to {path}: no mp4v or MJPG encoder')


def write_video(recorder: DemoRecorder, path: Path, fps: float) -> Path:
    """Every camera frame with the latest result drawn on it; returns the written file.

    Frames the tracker skipped show the last result, captioned 'held'; the true box is blue.
    """
    first = recorder.images[0]
    writer, target = open_video(path, fps, (first.width, first.height))
    last = None
    try:
        for image in recorder.images:
            stamp = stamp_to_ns(image.header.stamp)
            current = recorder.result_for(stamp)
            last = current or last
            rgb = image_to_rgb(image)
            truth = recorder.truth.get(stamp)
            if last is None:
                drawn = draw_overlay(rgb, note='waiting for the tracker', truth_xywh=truth)
            else:
                drawn = draw_overlay(rgb, last.box_xywh, TrackState(last.status.state),
                                     last.status.confidence, last.status.target_id,
                                     'tracked' if current else 'held', truth)
            writer.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return target
