"""Training on a frozen body's features, computed once and kept on disk (the feature bank).

With an ImageNet body that does not train, most of a CPU training step is the body computing
the same kind of features again. The bank runs the body once over `count` samples of a
PairDataset (jittered, augmented crops, stage-2 negatives included) and stores, as memory-mapped
float16 arrays:
- every template crop's features and padding mask (on the feature grid), with its sequence;
- every search crop's features, mask, normalised box, sequence and whether the crop holds its
  own sequence's target (`present`: 0 for crops cut away from the target or where it is absent).
`BankPairs` then pairs search crops with template crops of the same sequence anew for every
training sample (positives), or with templates of another sequence, or uses a crop without its
target (negatives), so each body forward serves many samples. Building resumes where it stopped:
sample i of the bank is sample i of the PairDataset, whatever the interruptions.
"""
import copy
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from stt_tracker_ros.model.fusion import fold_batchnorm
from stt_tracker_ros.training.dataset import PairDataset
from stt_tracker_ros.training.processing import CropSpec, feature_grid, network_image

log = logging.getLogger(__name__)

_ARRAYS = {   # name: (dtype, shape after the record count, given the layout)
    'template_feat': ('float16', lambda m: (m['channels'], m['template_cells'],
                                            m['template_cells'])),
    'template_mask': ('bool', lambda m: (m['template_cells'], m['template_cells'])),
    'template_seq': ('int32', lambda m: ()),
    'search_feat': ('float16', lambda m: (m['channels'], m['search_cells'], m['search_cells'])),
    'search_mask': ('bool', lambda m: (m['search_cells'], m['search_cells'])),
    'search_box': ('float32', lambda m: (4,)),
    'search_seq': ('int32', lambda m: ()),
    'search_present': ('bool', lambda m: ()),
}


def bank_layout(body_name: str, channels: int, stride: int, num_templates: int,
                template: CropSpec, search: CropSpec) -> dict:
    """What a bank holds per sample, and how its crops were cut (a bank's samples are only
    those crops): a bank on disk with another layout is refused."""
    return {'body': body_name, 'channels': channels, 'stride': stride,
            'template_cells': template.size // stride, 'search_cells': search.size // stride,
            'num_templates': num_templates,
            'crops': {'template': template._asdict(), 'search': search._asdict()}}


def _open_arrays(folder: Path, layout: dict, mode: str, capacity: int = 0
                 ) -> dict[str, np.ndarray]:
    arrays = {}
    for name, (dtype, shape) in _ARRAYS.items():
        path = folder / f'{name}.npy'
        records = capacity * (layout['num_templates'] if name.startswith('template') else 1)
        full = (records, *shape(layout))
        if mode == 'w+':
            arrays[name] = np.lib.format.open_memmap(path, 'w+', np.dtype(dtype), full)
        else:
            arrays[name] = np.load(path, mmap_mode=mode)
    return arrays


def _read_state(folder: Path) -> dict | None:
    path = folder / 'bank.json'
    return json.loads(path.read_text()) if path.is_file() else None


def bank_size(folder: str | Path) -> int:
    """Samples a bank in `folder` holds so far (0 where there is none)."""
    state = _read_state(Path(folder))
    return state['done'] if state else 0


def _write_state(folder: Path, state: dict) -> None:
    temporary = folder / 'bank.json.tmp'
    temporary.write_text(json.dumps(state, indent=1))
    temporary.replace(folder / 'bank.json')


@torch.no_grad()
def build_feature_bank(folder: str | Path, dataset: PairDataset, body: nn.Module,
                       layout: dict, count: int, batch_size: int = 32,
                       num_workers: int = 1) -> Path:
    """Make the bank in `folder` hold at least `count` samples of `dataset`, resuming where an
    earlier build stopped. A new bank gets room for `count` samples.

    Args:
        folder: the bank's folder; created if missing.
        dataset: the samples (index i of the bank is `dataset[i]`).
        body: the frozen image body ([B, 3, H, W] -> [B, C, h, w]); run folded, in eval mode,
            on the device its weights are on.
        layout: from `bank_layout`; must equal that of an existing bank.
        count: samples wanted.
        batch_size, num_workers: crops per body call; data-loading processes.

    Raises:
        ValueError: the folder holds a bank of another layout, or has no room for `count`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = _read_state(folder)
    if state is None:
        arrays = _open_arrays(folder, layout, 'w+', count)
        state = {'layout': layout, 'capacity': count, 'done': 0, 'seconds': 0.0}
        _write_state(folder, state)
    elif state['layout'] != layout or state['capacity'] < count:
        raise ValueError(f'{folder}: holds a feature bank of another layout or size '
                         f'({state["layout"]}, room for {state["capacity"]} samples; wanted '
                         f'{layout}, {count}); delete it or choose another folder')
    else:
        arrays = _open_arrays(folder, layout, 'r+')
    done = state['done']
    if done >= count:
        return folder
    body = fold_batchnorm(copy.deepcopy(body)).eval().to(memory_format=torch.channels_last)
    device = next(body.parameters()).device
    templates, stride = layout['num_templates'], layout['stride']
    loader = DataLoader(torch.utils.data.Subset(dataset, range(done, count)), batch_size,
                        num_workers=num_workers)
    log.info('feature bank %s: samples %d-%d of %d', folder, done, count - 1, count)
    first, seconds_before = done, state['seconds']
    started = time.perf_counter()
    for batch in loader:
        size = len(batch['label'])
        images = network_image(batch['template_images'].to(device),
                               batch['template_brightness'].to(device))
        feat = body(images.flatten(0, 1).contiguous(memory_format=torch.channels_last))
        span = slice(done * templates, (done + size) * templates)
        arrays['template_feat'][span] = feat.half().cpu().numpy()
        arrays['template_mask'][span] = feature_grid(batch['template_masks'].flatten(0, 1),
                                                     stride).numpy()
        arrays['template_seq'][span] = batch['template_sequence'].repeat_interleave(
            templates).numpy()
        search = network_image(batch['search_image'].to(device),
                               batch['search_brightness'].to(device))
        span = slice(done, done + size)
        arrays['search_feat'][span] = body(
            search.contiguous(memory_format=torch.channels_last)).half().cpu().numpy()
        arrays['search_mask'][span] = feature_grid(batch['search_mask'], stride).numpy()
        arrays['search_box'][span] = batch['search_box'].numpy()
        arrays['search_seq'][span] = batch['search_sequence'].numpy()
        # A crop of another sequence is centred on that sequence's own target: it holds it.
        other = batch['search_sequence'] != batch['template_sequence']
        arrays['search_present'][span] = ((batch['label'] > 0.5) | other).numpy()
        done += size
        for array in arrays.values():
            array.flush()
        state.update(done=done, seconds=state['seconds'] + time.perf_counter() - started)
        started = time.perf_counter()
        _write_state(folder, state)
        log.info('feature bank %s: %d / %d samples, %.1f samples/s', folder, done, count,
                 (done - first) / max(state['seconds'] - seconds_before, 1e-9))
    return folder


class BankPairs(Dataset):
    """Training samples paired anew from a feature bank; sample i depends only on seed and i.

    Returns dicts with template_features [T, C, t, t], template_masks [T, t, t],
    search_features [C, s, s], search_mask [s, s] (float32 features, bool masks),
    search_box [4] and label [].
    """

    def __init__(self, folder: str | Path, count: int, seed: int, length: int,
                 negative_prob: float = 0.0):
        """Open the bank read-only.

        Args:
            folder: a bank written by `build_feature_bank`.
            count: its first `count` samples are used.
            seed: base seed; sample i uses the generator seeded with (seed, i).
            length: number of indices.
            negative_prob: share of negatives (stage 2), half of them crops without the
                target (where the bank has some), half another sequence's crops.

        Raises:
            ValueError: the bank is missing or holds fewer than `count` samples.
        """
        self.folder = Path(folder)
        state = _read_state(self.folder)
        if state is None or state['done'] < count:
            raise ValueError(f'{self.folder}: no feature bank of {count} samples')
        self.layout = state['layout']
        self.seed, self.length, self.negative_prob = seed, length, negative_prob
        self.arrays = _open_arrays(self.folder, self.layout, 'r')
        templates = count * self.layout['num_templates']
        template_seq = np.asarray(self.arrays['template_seq'][:templates])
        self.templates_of = {int(s): np.flatnonzero(template_seq == s)
                             for s in np.unique(template_seq)}
        search_seq = np.asarray(self.arrays['search_seq'][:count])
        present = np.asarray(self.arrays['search_present'][:count])
        paired = np.isin(search_seq, list(self.templates_of))
        self.positives = np.flatnonzero(present & paired)
        self.absent = np.flatnonzero(~present & paired)
        self.sequences = np.array(sorted(self.templates_of))

    def __len__(self) -> int:
        """Number of distinct sample indices."""
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """Sample `index`: a positive, or with `negative_prob` a negative (label 0)."""
        rng = np.random.default_rng((self.seed, index))
        label = 1.0
        search = int(rng.choice(self.positives))
        sequence = int(self.arrays['search_seq'][search])
        if rng.random() < self.negative_prob:
            label = 0.0
            if len(self.absent) and rng.random() < 0.5:
                search = int(rng.choice(self.absent))
                sequence = int(self.arrays['search_seq'][search])
            elif len(self.sequences) > 1:
                others = self.sequences[self.sequences != sequence]
                sequence = int(rng.choice(others))
        chosen = np.sort(rng.choice(self.templates_of[sequence], self.layout['num_templates']))
        return {
            'template_features': torch.from_numpy(
                self.arrays['template_feat'][chosen].astype(np.float32)),
            'template_masks': torch.from_numpy(np.array(self.arrays['template_mask'][chosen])),
            'search_features': torch.from_numpy(
                self.arrays['search_feat'][search].astype(np.float32)),
            'search_mask': torch.from_numpy(np.array(self.arrays['search_mask'][search])),
            'search_box': torch.from_numpy(np.array(self.arrays['search_box'][search])),
            'label': torch.tensor(label, dtype=torch.float32),
        }
