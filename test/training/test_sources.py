"""Data sources named in a training configuration become sequences."""
import json

import cv2
import numpy as np
import pytest

from stt_tracker_ros.training import sources as sources_module
from stt_tracker_ros.training.sources import load_source, load_sources
from stt_tracker_ros.training.train_config import DatasetConfig


def test_synthetic_scenes_follow_the_config():
    config = DatasetConfig('synthetic', sequences=6, frames=12, image_size=(96, 64), seed=40,
                           leave_view=1.0)
    sequences = load_source(config)
    assert [s.name for s in sequences] == [f'synthetic_{40 + i}' for i in range(6)]
    assert all(len(s) == 12 and s.frames[0].shape == (64, 96, 3) for s in sequences)
    never = load_source(DatasetConfig('synthetic', sequences=6, frames=12,
                                      image_size=(96, 64), seed=40, leave_view=0.0))
    assert sum((~s.visible).sum() for s in never) < sum((~s.visible).sum() for s in sequences)


def test_scenes_generated_in_worker_processes_equal_serial_ones(monkeypatch):
    config = DatasetConfig('synthetic', sequences=sources_module._PARALLEL_SCENES + 2,
                           frames=6, image_size=(64, 48), seed=7)
    parallel = load_source(config)
    monkeypatch.setattr(sources_module, '_PARALLEL_SCENES', 10 ** 6)
    serial = load_source(config)
    assert [s.name for s in parallel] == [s.name for s in serial]
    for a, b in zip(parallel, serial):
        np.testing.assert_array_equal(a.boxes, b.boxes)
        np.testing.assert_array_equal(a.frames[3], b.frames[3])


def test_plain_and_coco_folders(tmp_path):
    folder = tmp_path / 'sot' / 'walk'
    (folder / 'img').mkdir(parents=True)
    for index in range(3):
        cv2.imwrite(str(folder / 'img' / f'{index + 1:08d}.jpg'), np.zeros((20, 30, 3), np.uint8))
    (folder / 'groundtruth.txt').write_text('1,2,5,6\n0,0,0,0\n2,3,5,6\n')
    images = tmp_path / 'det' / 'images'
    images.mkdir(parents=True)
    cv2.imwrite(str(images / 'a.jpg'), np.zeros((20, 30, 3), np.uint8))
    (tmp_path / 'det' / 'annotations.json').write_text(json.dumps({
        'images': [{'id': 1, 'file_name': 'a.jpg'}],
        'annotations': [{'id': 7, 'image_id': 1, 'bbox': [1, 1, 4, 4], 'iscrowd': 0},
                        {'id': 8, 'image_id': 1, 'bbox': [5, 5, 6, 6], 'iscrowd': 0}]}))
    sources, ratios = load_sources((
        DatasetConfig('plain', path=str(tmp_path / 'sot'), ratio=2.0),
        DatasetConfig('coco', path=str(tmp_path / 'det' / 'annotations.json'))))
    assert ratios == [2.0, 1.0]
    (walk,), objects = sources
    assert walk.visible.tolist() == [True, False, True]
    assert [len(s) for s in objects] == [1, 1]


def test_missing_data_set_is_reported():
    with pytest.raises(FileNotFoundError, match='got10k'):
        load_source(DatasetConfig('got10k', path='/nonexistent/got10k'))


def test_subset_and_exclude_split_a_plain_folder(tmp_path):
    for name in ('bike', 'car', 'dog'):
        folder = tmp_path / name / 'img'
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / '00000001.jpg'), np.zeros((20, 30, 3), np.uint8))
        (tmp_path / name / 'groundtruth.txt').write_text('1,2,5,6\n')
    held_out = ('car',)
    train = load_source(DatasetConfig('plain', path=str(tmp_path), exclude=held_out))
    val = load_source(DatasetConfig('plain', path=str(tmp_path), subset=held_out))
    assert sorted(s.name for s in train) == ['bike', 'dog']
    assert [s.name for s in val] == ['car']
    with pytest.raises(ValueError, match="'cat'"):
        load_source(DatasetConfig('plain', path=str(tmp_path), exclude=('cat',)))
    scenes = load_source(DatasetConfig('synthetic', sequences=3, frames=4, image_size=(64, 48),
                                       exclude=('synthetic_1',)))
    assert [s.name for s in scenes] == ['synthetic_0', 'synthetic_2']
