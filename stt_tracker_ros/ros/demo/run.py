"""Camera-free demo: demo camera -> stt_tracker -> annotated video and a printed summary.

    python -m stt_tracker_ros.ros.demo.run [--checkpoint PATH] [--video PATH] [--frames N] ...

Starts the demo camera and the tracker node as separate processes talking over DDS (on a
domain of their own, discovery limited to this host), sends the true box of the first frame on
the tracker's ~/init, records everything, then writes out/demo.mp4 (or .avi) and prints frames,
drops, mean IoU and latency. Without trained weights the tracker runs with random weights:
the plumbing is real, the boxes are not.
"""
import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor

from stt_tracker_ros.ros.conversions import stamp_to_ns
from stt_tracker_ros.ros.demo.demo_recorder import DemoRecorder, summarize, write_video

log = logging.getLogger('stt_tracker_ros.demo')
RANDOM_WEIGHTS_NOTE = """
==========================================================================================
 NO TRAINED WEIGHTS: the tracker runs STARK-{variant} with RANDOM weights.
 Everything around the model is real (DDS, node, init, drops, latency); the boxes and the
 IoU are meaningless. Pass --checkpoint PATH (an official STARK .pth.tar) for real tracking.
==========================================================================================
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--checkpoint', default='', help='STARK checkpoint (default: the '
                        'installed model, else random weights)')
    parser.add_argument('--variant', default='st50', help='variant for random weights')
    parser.add_argument('--device', default='auto', help="torch device ('auto', 'cpu', ...)")
    parser.add_argument('--video', default='', help='play this video file instead of a scene')
    parser.add_argument('--init-box', default='', metavar='X,Y,W,H',
                        help='box on the first frame (pixels); needed with --video')
    parser.add_argument('--frames', type=int, default=150, help='synthetic scene length')
    parser.add_argument('--rate', type=float, default=10.0, help='camera frame rate (Hz)')
    parser.add_argument('--size', default='640x480', help='synthetic frame size WxH')
    parser.add_argument('--seed', type=int, default=1, help='synthetic scene seed')
    parser.add_argument('--image-reliability', default='reliable',
                        choices=('reliable', 'best_effort'),
                        help="tracker's image QoS (default reliable: the demo camera publishes "
                             'reliable, and best effort loses large fragmented frames when the '
                             'CPU is busy)')
    parser.add_argument('--follow-when-lost', action='store_true',
                        help='while LOST, search around each prediction instead of the last '
                             'confident box (the node parameter follow_when_lost)')
    parser.add_argument('--out', type=Path, default=Path('out/demo.mp4'), help='video file')
    parser.add_argument('--domain-id', type=int, default=1 + (os.getpid() * 7 + 33) % 100,
                        help='ROS_DOMAIN_ID for this run (default: from the process id)')
    parser.add_argument('--timeout', type=float, default=180.0, help='give up after (s)')
    return parser.parse_args(argv)


def tracker_arguments(args: argparse.Namespace) -> list[str]:
    """--ros-args for the tracker node: the checkpoint, or random weights when none exists."""
    from stt_tracker_ros.tracking.factory import DEFAULT_CHECKPOINT

    params = {'device': args.device, 'publish_when_lost': 'true',
              'image_reliability': args.image_reliability,
              'follow_when_lost': str(args.follow_when_lost).lower()}
    if args.checkpoint:
        params['checkpoint'] = args.checkpoint
    elif not DEFAULT_CHECKPOINT.is_file():
        log.warning(RANDOM_WEIGHTS_NOTE.format(variant=args.variant.upper()))
        params.update(random_weights='true', variant=args.variant)
    return [item for name, value in params.items() for item in ('-p', f'{name}:={value}')]


def camera_arguments(args: argparse.Namespace) -> list[str]:
    """--ros-args for the demo camera; it waits for the tracker and the recorder."""
    width, height = (int(v) for v in args.size.lower().split('x'))
    params = {'num_frames': args.frames, 'rate': args.rate, 'width': width, 'height': height,
              'seed': args.seed, 'wait_for_subscribers': 2}
    if args.video:
        params['video'] = args.video
    return [item for name, value in params.items() for item in ('-p', f'{name}:={value}')]


def start(module: str, ros_args: list[str], log_path: Path) -> subprocess.Popen:
    """Run `python -m <module> --ros-args ...`, output to `log_path` (as plain text: no colour
    codes, even where RCUTILS_COLORIZED_OUTPUT=1 is set)."""
    with open(log_path, 'w', encoding='utf-8') as stream:   # the child keeps its own handle
        return subprocess.Popen([sys.executable, '-m', module, '--ros-args', *ros_args],
                                stdout=stream, stderr=subprocess.STDOUT,
                                env=dict(os.environ, RCUTILS_COLORIZED_OUTPUT='0'))


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C the process; kill it if it does not end within 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def record(recorder: DemoRecorder, camera: subprocess.Popen, tracker: subprocess.Popen,
           deadline: float) -> str | None:
    """Spin until the camera is done and the tracker has caught up; returns an error or None."""
    executor = SingleThreadedExecutor()
    executor.add_node(recorder)
    settle_until = None
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.1)
        if tracker.poll() is not None:
            return f'the tracker node exited with code {tracker.returncode}'
        if camera.poll() is not None and settle_until is None:
            if camera.returncode != 0:
                return f'the demo camera exited with code {camera.returncode}'
            settle_until = time.monotonic() + 5.0   # the last frame's inference
        if settle_until is not None:
            last = recorder.images[-1] if recorder.images else None
            caught_up = last is not None and recorder.result_for(
                stamp_to_ns(last.header.stamp)) is not None
            if caught_up or time.monotonic() > settle_until:
                return None
    return f'timed out after {deadline:.0f} s'


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns 0 on success."""
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    args = parse_args(argv)
    init_box = tuple(float(v) for v in args.init_box.split(',')) if args.init_box else None
    if (args.video and init_box is None) or (init_box is not None and len(init_box) != 4):
        log.error('--init-box X,Y,W,H (the target on the first frame) is needed with --video')
        return 2
    os.environ.update(ROS_DOMAIN_ID=str(args.domain_id), ROS_LOCALHOST_ONLY='1',
                      ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    out_dir = args.out.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rclpy.init(domain_id=args.domain_id)
    recorder = DemoRecorder(init_box)
    tracker = start('stt_tracker_ros.ros.tracker_node', tracker_arguments(args),
                    out_dir / 'demo_tracker.log')
    camera = start('stt_tracker_ros.ros.demo.demo_camera', camera_arguments(args),
                   out_dir / 'demo_camera.log')
    log.info(f'demo on ROS_DOMAIN_ID={args.domain_id}; node logs in {out_dir}/demo_*.log')
    try:
        error = record(recorder, camera, tracker, started + args.timeout)
    except KeyboardInterrupt:
        error = 'interrupted'
    finally:
        for process in (camera, tracker):
            stop(process)
    recorder.destroy_node()
    rclpy.try_shutdown()
    if error is not None or not recorder.images:
        log.error(f'demo failed: {error or "no image received"}; see {out_dir}/demo_*.log')
        return 1
    video = write_video(recorder, args.out, args.rate)
    summary = summarize(recorder)
    print('\n'.join(['', 'stt_tracker demo summary', *summary.lines(),
                     f'annotated video:                {video}',
                     f'wall time:                      {time.monotonic() - started:.1f} s']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
