"""Frame selection: modes, gaps, image data sets, negatives, source ratios; dataset samples."""
import numpy as np
import pytest
import torch

from stt_tracker_ros.data.sequence import Sequence
from stt_tracker_ros.training.dataset import PairDataset
from stt_tracker_ros.training.processing import Augmentation, CropSpec, PairProcessor
from stt_tracker_ros.training.sampler import FrameSampler

FRAME = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)


def video(name: str, count: int, hidden: range = range(0)) -> Sequence:
    boxes = np.tile([40.0, 30.0, 30.0, 20.0], (count, 1))
    visible = np.ones(count, bool)
    visible[list(hidden)] = False
    boxes[~visible] = np.nan
    return Sequence(name, [FRAME] * count, boxes, visible)


def draws(sampler: FrameSampler, count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [sampler.sample(rng) for _ in range(count)]


def test_trident_dynamic_template_lies_near_the_search_frame_on_the_initial_side():
    seq = video('a', 300, hidden=range(100, 130))
    sampler = FrameSampler([[seq]], [1.0], num_templates=2, mode='trident_pro', max_gap=20)
    for selection in draws(sampler, 300):
        initial, dynamic = (t.frame for t in selection.templates)
        search = selection.search.frame
        assert seq.visible[[initial, dynamic, search]].all()
        assert abs(dynamic - search) <= 20
        assert (dynamic <= search) if search >= initial else (dynamic >= search)
        assert selection.label == 1.0


def test_causal_search_follows_the_template_within_the_gap():
    seq = video('a', 300)
    sampler = FrameSampler([[seq]], [1.0], num_templates=1, mode='causal', max_gap=15)
    for selection in draws(sampler, 300):
        gap = selection.search.frame - selection.templates[0].frame
        assert 0 < gap <= 15


def test_image_data_sets_repeat_the_image_and_short_videos_are_skipped():
    image = video('img', 1)
    short = video('short', 10)
    sampler = FrameSampler([[image, short]], [1.0], num_templates=2, min_frames=20)
    assert sampler.usable == [[0]]
    for selection in draws(sampler, 20):
        assert [t.frame for t in selection.templates] == [0, 0]
        assert selection.search == (0, 0, 0)


def test_sources_are_mixed_by_ratio():
    sampler = FrameSampler([[video('a', 40)], [video('b', 40)]], [3.0, 1.0], num_templates=1)
    share = np.mean([s.search.source == 0 for s in draws(sampler, 2000)])
    assert share == pytest.approx(0.75, abs=0.04)


def test_stage_2_negatives_half_the_time_and_labelled_zero():
    hidden = range(20, 30)
    sources = [[video('a', 60, hidden), video('b', 60)], [video('img', 1)]]
    sampler = FrameSampler(sources, [1.0, 1.0], num_templates=2, negative_prob=0.5)
    selections = draws(sampler, 2000)
    labels = np.array([s.label for s in selections])
    assert set(labels) == {0.0, 1.0}
    assert labels.mean() == pytest.approx(0.5, abs=0.04)
    kinds = set()
    for s in selections:
        template_seq = s.templates[0][:2]
        search_seq = s.search[:2]
        shown = sources[s.search.source][s.search.sequence].visible[s.search.frame]
        if s.label == 1.0:
            assert search_seq == template_seq and shown and s.crop == 'target'
        elif s.crop == 'centre':   # same video, target absent
            assert search_seq == template_seq == (0, 0) and not shown
            kinds.add('absent')
        elif s.crop == 'away':     # same video, cropped off the target
            assert search_seq == template_seq and shown and s.search.source == 0
            kinds.add('away')
        else:                      # another sequence's frame
            assert search_seq != template_seq and shown and s.crop == 'target'
            kinds.add('other')
    assert kinds == {'absent', 'away', 'other'}


def test_no_usable_sequence_is_an_error():
    with pytest.raises(ValueError, match='usable'):
        FrameSampler([[video('short', 5)]], [1.0], num_templates=2)


def test_dataset_samples_are_deterministic_with_crop_sizes_and_labels():
    sequences = [video('a', 40, hidden=range(5, 10)), video('b', 40)]
    sampler = FrameSampler([sequences], [1.0], num_templates=2, negative_prob=0.5)
    processor = PairProcessor(CropSpec(2.0, 64, 0.0, 0.0), CropSpec(5.0, 128, 0.5, 4.5),
                              Augmentation())
    dataset = PairDataset(sampler, processor, seed=3, length=100)
    sample = dataset[7]
    assert sample['template_images'].shape == (2, 3, 64, 64)
    assert sample['template_masks'].shape == (2, 64, 64)
    assert sample['template_masks'].dtype == torch.bool
    assert sample['search_image'].shape == (3, 128, 128)
    assert sample['search_mask'].shape == (128, 128)
    assert sample['search_box'].shape == (4,)
    again = dataset[7]
    assert all(torch.equal(sample[k], again[k]) for k in sample)
    other = PairDataset(sampler, processor, seed=4, length=100)[7]
    assert not torch.equal(sample['search_box'], other['search_box'])
    labels = [dataset[i]['label'].item() for i in range(40)]
    assert set(labels) == {0.0, 1.0}
