"""Readers of on-disk tracking and detection sets, checked on tiny fake copies of each layout."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from stt_tracker_ros.data.benchmarks import (read_got10k, read_lasot, read_plain,
                                             read_trackingnet)
from stt_tracker_ros.data.coco import read_coco
from stt_tracker_ros.data.sequence import Sequence, load_rgb, make_sequence

NAN = [np.nan] * 4


def _write_frames(folder: Path, names: list[str]) -> None:
    """Small JPEGs whose red channel encodes the frame index (20 per frame), green 50, blue 10."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        bgr = np.empty((24, 32, 3), np.uint8)
        bgr[:] = (10, 50, 20 * index)
        cv2.imwrite(str(folder / name), bgr)


def _frame_indices(sequence: Sequence) -> list[int]:
    """Recover each frame's index from its red channel, checking it was read as RGB."""
    indices = []
    for frame in sequence.frames:
        assert frame.dtype == np.uint8 and frame.shape == (24, 32, 3)
        red, green, blue = frame.reshape(-1, 3).mean(axis=0)
        assert abs(green - 50) < 4 and abs(blue - 10) < 4
        indices.append(round(red / 20))
    return indices


def _numbered(count: int, start: int = 1, digits: int = 8) -> list[str]:
    return [f'{i:0{digits}d}.jpg' for i in range(start, start + count)]


def test_plain_layout(tmp_path):
    _write_frames(tmp_path / 'walk' / 'img', _numbered(3))
    (tmp_path / 'walk' / 'groundtruth.txt').write_text('1,2,3,4\n0,0,0,0\n5.5\t6 7,8\n')
    _write_frames(tmp_path / 'bike' / 'img', _numbered(2))
    (tmp_path / 'bike' / 'groundtruth.txt').write_text('10,20,30,40\n11,21,31,41\n')
    (tmp_path / 'notes').mkdir()                             # no groundtruth: not a sequence
    bike, walk = read_plain(tmp_path)
    assert (bike.name, walk.name) == ('bike', 'walk')
    np.testing.assert_array_equal(walk.boxes, [[1, 2, 3, 4], NAN, [5.5, 6, 7, 8]])
    np.testing.assert_array_equal(walk.visible, [True, False, True])
    assert _frame_indices(walk) == [0, 1, 2]
    assert len(bike) == 2 and bike.visible.all()


def test_got10k_layout(tmp_path):
    val = tmp_path / 'val'
    for name, count in (('GOT-10k_Val_000002', 3), ('GOT-10k_Val_000001', 2)):
        _write_frames(val / name, _numbered(count))
    (val / 'list.txt').write_text('GOT-10k_Val_000002\nGOT-10k_Val_000001\n')
    (val / 'GOT-10k_Val_000002' / 'groundtruth.txt').write_text('1,1,5,5\n2,2,5,5\n3,3,5,5\n')
    (val / 'GOT-10k_Val_000002' / 'absence.label').write_text('0\n1\n0\n')
    (val / 'GOT-10k_Val_000001' / 'groundtruth.txt').write_text('4,4,6,6\n4,5,6,6\n')
    test = tmp_path / 'test' / 'GOT-10k_Test_000001'
    _write_frames(test, _numbered(4))
    (test / 'groundtruth.txt').write_text('7,8,9,10\n')         # the test split gives one box

    second, first = read_got10k(tmp_path, 'val')                 # list.txt order
    assert (second.name, first.name) == ('GOT-10k_Val_000002', 'GOT-10k_Val_000001')
    np.testing.assert_array_equal(second.visible, [True, False, True])
    np.testing.assert_array_equal(second.boxes[1], NAN)
    np.testing.assert_array_equal(second.boxes[2], [3, 3, 5, 5])
    assert first.visible.all() and _frame_indices(first) == [0, 1]
    (only,) = read_got10k(tmp_path, 'test')                      # no list.txt: folder order
    assert len(only) == 4
    np.testing.assert_array_equal(only.visible, [True, False, False, False])
    np.testing.assert_array_equal(only.boxes[0], [7, 8, 9, 10])


def test_lasot_layout(tmp_path):
    for name, count in (('airplane-10', 2), ('airplane-2', 3), ('bear-1', 1)):
        folder = tmp_path / name.split('-')[0] / name
        _write_frames(folder / 'img', _numbered(count))
        (folder / 'groundtruth.txt').write_text('\n'.join(['11,21,30,40'] * count) + '\n')
        (folder / 'full_occlusion.txt').write_text(','.join(['0'] * count))
        (folder / 'out_of_view.txt').write_text(','.join(['0'] * count))
    flagged = tmp_path / 'airplane' / 'airplane-2'
    (flagged / 'full_occlusion.txt').write_text('0,0,1')
    (flagged / 'out_of_view.txt').write_text('0,1,0')

    names = [s.name for s in read_lasot(tmp_path)]
    assert names == ['airplane-2', 'airplane-10', 'bear-1']    # numeric order within a class
    (two,) = read_lasot(tmp_path, names=['airplane-2'])
    np.testing.assert_array_equal(two.boxes[0], [10, 20, 30, 40])   # 1-based -> 0-based
    np.testing.assert_array_equal(two.visible, [True, False, False])
    assert np.isnan(two.boxes[1:]).all()
    assert _frame_indices(two) == [0, 1, 2]


def test_trackingnet_layout(tmp_path):
    frames = [f'{i}.jpg' for i in range(12)]                   # 10.jpg sorts after 9.jpg
    _write_frames(tmp_path / 'TRAIN_0' / 'frames' / 'vidA', frames)
    (tmp_path / 'TRAIN_0' / 'anno').mkdir()
    rows = '\n'.join(f'{i},{i},10,12' for i in range(12))
    (tmp_path / 'TRAIN_0' / 'anno' / 'vidA.txt').write_text(rows + '\n')
    _write_frames(tmp_path / 'TRAIN_10' / 'frames' / 'vidB', frames[:2])
    (tmp_path / 'TRAIN_10' / 'anno').mkdir()
    (tmp_path / 'TRAIN_10' / 'anno' / 'vidB.txt').write_text('1,2,3,4\n5,6,7,8\n')
    _write_frames(tmp_path / 'TRAIN_2' / 'frames' / 'vidC', frames[:3])
    (tmp_path / 'TRAIN_2' / 'anno').mkdir()
    (tmp_path / 'TRAIN_2' / 'anno' / 'vidC.txt').write_text('1,1,4,4\n')

    sequences = read_trackingnet(tmp_path)
    assert [s.name for s in sequences] == ['vidA', 'vidC', 'vidB']   # TRAIN_0, TRAIN_2, TRAIN_10
    vid_a = sequences[0]
    assert _frame_indices(vid_a) == list(range(12))
    np.testing.assert_array_equal(vid_a.boxes[11], [11, 11, 10, 12])
    np.testing.assert_array_equal(sequences[1].visible, [True, False, False])
    assert [s.name for s in read_trackingnet(tmp_path, chunks=['TRAIN_10'])] == ['vidB']


def test_coco_layout(tmp_path):
    _write_frames(tmp_path / 'images', ['a.jpg', 'b.jpg'])
    content = {
        'images': [{'id': 1, 'file_name': 'a.jpg', 'width': 32, 'height': 24},
                   {'id': 7, 'file_name': 'b.jpg', 'width': 32, 'height': 24}],
        'annotations': [
            {'id': 5, 'image_id': 7, 'bbox': [1.5, 2, 10, 8], 'iscrowd': 0, 'category_id': 1},
            {'id': 6, 'image_id': 1, 'bbox': [0, 0, 32, 24], 'iscrowd': 1, 'category_id': 1},
            {'id': 8, 'image_id': 1, 'bbox': [3, 3, 0, 5], 'iscrowd': 0, 'category_id': 1},
            {'id': 9, 'image_id': 1, 'bbox': [4, 5, 6, 7], 'category_id': 2},
        ],
        'categories': [{'id': 1, 'name': 'x'}, {'id': 2, 'name': 'y'}],
    }
    (tmp_path / 'annotations.json').write_text(json.dumps(content))
    first, second = read_coco(tmp_path / 'annotations.json')
    assert (first.name, second.name) == ('b_5', 'a_9')
    np.testing.assert_array_equal(first.boxes, [[1.5, 2, 10, 8]])
    assert len(first) == 1 and first.visible.all()
    assert _frame_indices(first) == [1] and _frame_indices(second) == [0]
    moved = tmp_path / 'elsewhere'
    (tmp_path / 'images').rename(moved)
    assert _frame_indices(read_coco(tmp_path / 'annotations.json', moved)[0]) == [1]


def test_make_sequence_pads_and_cuts_rows():
    frames = [np.zeros((2, 2, 3), np.uint8)] * 3
    short = make_sequence('s', frames, np.array([[1, 1, 2, 2]]))
    np.testing.assert_array_equal(short.visible, [True, False, False])
    long = make_sequence('l', frames, np.ones((5, 4)), absent=np.array([0, 0, 1, 0, 0]))
    np.testing.assert_array_equal(long.visible, [True, True, False])
    negative = make_sequence('n', frames, np.array([[1, 1, -2, 2], [1, 1, 2, np.nan],
                                                    [0, 0, 1, 1]]))
    np.testing.assert_array_equal(negative.visible, [False, False, True])


def test_sequence_rejects_inconsistent_ground_truth():
    frames = [np.zeros((2, 2, 3), np.uint8)] * 2
    with pytest.raises(ValueError):
        Sequence('bad', frames, np.ones((3, 4)), np.ones(3, bool))
    with pytest.raises(ValueError):
        Sequence('bad', frames, np.array([[1, 1, 1, 1], NAN]), np.array([True, True]))


def test_unreadable_image_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_rgb(tmp_path / 'missing.jpg')
    (tmp_path / 'broken.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(FileNotFoundError):
        load_rgb(tmp_path / 'broken.jpg')
