"""How good a network's boxes are when its following is perfect: every search crop is centred on
the previous frame's true box (a tracker that was right until now), and the IoU of the box it
finds there is averaged per sequence. Tracking success AUC mixes the boxes' quality with what a
wrong box does to the next frame; this separates the two. Templates and their updates are the
tracker's own.

    python benchmarks/box_quality.py --root ../shared/data/sot
    python benchmarks/box_quality.py --root .data/sot-train --sequences otb_Woman dtb70_Surfing06 \
        uav123_10fps_boat1 uav123_10fps_car14 uav123_10fps_person11 --checkpoint CANDIDATE
"""
import argparse
import platform

import numpy as np
import torch

from stt_tracker_ros.cli import evaluation_sequences, tracker_settings
from stt_tracker_ros.data.sequence import Sequence
from stt_tracker_ros.evaluation.metrics import iou_xywh
from stt_tracker_ros.tracking.factory import build_tracker
from stt_tracker_ros.tracking.tracker import StarkTracker, read_outputs


@torch.inference_mode()
def one_step_ious(tracker: StarkTracker, sequence: Sequence) -> np.ndarray:
    """IoU of each frame's box found around the previous frame's true box (frames where both
    boxes are known)."""
    truth = sequence.boxes
    tracker.initialize(sequence.frames[0], tuple(truth[0]))
    ious = []
    for index in range(1, len(sequence)):
        if not (sequence.visible[index - 1] and sequence.visible[index]):
            continue
        frame, anchor = sequence.frames[index], tuple(float(v) for v in truth[index - 1])
        search = tracker.search_around(frame, anchor)
        row = read_outputs(tracker.model.search(tracker.templates, search.image, search.mask))[0]
        box = tracker.finish(frame, search, row).box_xywh
        ious.append(iou_xywh(np.array([box]), truth[index:index + 1])[0])
    return np.array(ious)


def main() -> None:
    """Print one line per sequence, then the mean over sequences."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', required=True, help='a folder of sequences (plain layout)')
    parser.add_argument('--sequences', nargs='+', metavar='NAME', help='only these')
    parser.add_argument('--checkpoint', help='default: the shipped model')
    parser.add_argument('--tracker-override', action='append', default=[], metavar='KEY=VALUE')
    args = parser.parse_args()
    tracker = build_tracker(args.checkpoint, device='cpu',
                            config=tracker_settings(args.tracker_override))
    print(f'# {args.checkpoint or "default model"}, search factor {tracker.search_factor}, '
          f'{platform.processor() or platform.machine()}, torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads')
    means = []
    for sequence in evaluation_sequences('plain', args.root, names=args.sequences):
        ious = one_step_ious(tracker, sequence)
        if not len(ious):
            continue
        means.append(ious.mean())
        print(f'{sequence.name:28s} {len(ious):4d} frames  mean IoU {ious.mean():.3f}  '
              f'median {np.median(ious):.3f}  IoU > 0.5: {(ious > 0.5).mean():.3f}')
    print(f'{"mean over " + str(len(means)) + " sequences":28s}            mean IoU '
          f'{np.mean(means):.3f}')


if __name__ == '__main__':
    main()
