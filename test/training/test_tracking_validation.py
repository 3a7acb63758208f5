"""Validation by tracking: which videos are tracked, what the AUC says, and a run that keeps
its best checkpoint by it."""
import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from fixed_box_model import FixedBoxModel

from stt_tracker_ros.data.sequence import make_sequence
from stt_tracker_ros.training.logbook import CSV_FIELDS, CsvLog
from stt_tracker_ros.training.tracking_validation import trackable, tracking_auc
from stt_tracker_ros.training.train import train

FRAMES = [np.full((120, 160, 3), 90, np.uint8)] * 6


def sequence(name, moving: bool, frames=FRAMES):
    boxes = np.array([[40.0 + (12 * i if moving else 0), 30.0, 30.0, 30.0]
                      for i in range(len(frames))])
    return make_sequence(name, list(frames), boxes)


def test_only_videos_whose_first_frame_shows_the_target_are_tracked():
    boxes = sequence('hidden', False).boxes.copy()
    boxes[0] = np.nan
    hidden = make_sequence('hidden', list(FRAMES), boxes)
    kept = trackable([sequence('video', False), sequence('image', False, FRAMES[:1]), hidden])
    assert [s.name for s in kept] == ['video']


def test_the_auc_rewards_a_tracker_that_stays_on_the_target_and_leaves_the_model_as_it_was():
    model = FixedBoxModel().train()
    still = tracking_auc(model, [sequence('still', False)])
    gone = tracking_auc(model, [sequence('moving', True)])
    assert still > 0.9 and gone < 0.3
    assert tracking_auc(model, [sequence('still', False), sequence('moving', True)]) == (
        pytest.approx((still + gone) / 2))
    assert model.training and model.weight.item() == 1.0


def test_without_confidence_the_target_is_never_lost():
    # The double now sees the target 15 px right of the last box (it moves 12 px a frame) with
    # confidence 0.05: with the confidence heeded the target is LOST after 3 frames and the
    # search region stays at the first box; ignored (stage 1), the tracker keeps following.
    model = FixedBoxModel(box=(0.6, 0.5, 0.2, 0.2), logit=-3.0)
    following = sequence('moving', True)
    assert tracking_auc(model, [following], confidence=False) > tracking_auc(
        model, [following], confidence=True)


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline='') as stream:
        return list(csv.DictReader(stream))


def test_a_run_with_val_tracking_keeps_the_checkpoint_that_tracked_best(tiny_config):
    train(dataclasses.replace(tiny_config, val_tracking=True))
    folder = Path(tiny_config.output_dir) / 'stage1'
    aucs = [float(r['val_auc']) for r in rows(folder / 'log.csv')]
    assert len(aucs) == 2 and all(0.0 <= a <= 1.0 for a in aucs)
    best = json.loads((folder / 'best.json').read_text())
    assert best['metric'] == 'val_auc'
    assert best['value'] == pytest.approx(max(aucs), abs=1e-5)
    assert best['epoch'] == 1 + int(np.argmax(aucs))


def test_val_tracking_needs_validation_videos(tiny_config):
    with pytest.raises(ValueError, match='val_tracking'):
        dataclasses.replace(tiny_config, val_tracking=True, val_datasets=())


def test_a_log_with_older_columns_is_carried_over_to_todays(tmp_path):
    path = tmp_path / 'log.csv'
    path.write_text('epoch,loss,val_iou\n1,0.5,0.25\n')
    log = CsvLog(path)
    log.write({'epoch': 2, 'loss': 0.4, 'val_auc': 0.3})
    lines = rows(path)
    assert list(lines[0]) == list(CSV_FIELDS)
    assert (lines[0]['epoch'], lines[0]['val_iou'], lines[0]['val_auc']) == ('1', '0.25', '')
    assert (lines[1]['epoch'], lines[1]['loss'], lines[1]['val_auc']) == ('2', '0.4', '0.3')
