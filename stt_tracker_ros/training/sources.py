"""Turn the data sets named in a training configuration into lists of sequences."""
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from stt_tracker_ros.data.benchmarks import read_got10k, read_lasot, read_plain, read_trackingnet
from stt_tracker_ros.data.coco import read_coco
from stt_tracker_ros.data.sequence import Sequence
from stt_tracker_ros.data.synthetic import SceneConfig, generate_scene
from stt_tracker_ros.training.train_config import DatasetConfig

log = logging.getLogger(__name__)


_PARALLEL_SCENES = 32   # from this many scenes on, generate them in worker processes


def _scene_sequence(width: int, height: int, frames: int, leave_view: bool, seed: int
                    ) -> Sequence:
    scene = generate_scene(SceneConfig(width=width, height=height, num_frames=frames,
                                       leave_view=leave_view), seed)
    return scene.to_sequence(f'synthetic_{seed}')


def synthetic_sequences(config: DatasetConfig) -> list[Sequence]:
    """`config.sequences` generated scenes with seeds `config.seed`, `config.seed + 1`, ...

    A fixed share (`leave_view`) of them, chosen by a generator seeded with `config.seed`, has
    the target leave the view and come back, so stage 2 sees frames without the target. Many
    scenes are generated on all cores (each depends only on its seed, so the result is the same).
    """
    width, height = config.image_size
    leaves = np.random.default_rng(config.seed).random(config.sequences) < config.leave_view
    arguments = ([width] * config.sequences, [height] * config.sequences,
                 [config.frames] * config.sequences, [bool(v) for v in leaves],
                 range(config.seed, config.seed + config.sequences))
    workers = min(os.cpu_count() or 1, 16)
    if config.sequences < _PARALLEL_SCENES or workers < 2:
        return list(map(_scene_sequence, *arguments))
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_scene_sequence, *arguments, chunksize=8))


def load_source(config: DatasetConfig) -> list[Sequence]:
    """Read (or generate) the sequences of one data source.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: `subset` (plain) or `exclude` names a sequence the source does not have.
    """
    if config.format == 'synthetic':
        return select_sequences(synthetic_sequences(config), (), config.exclude)
    path = Path(config.path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f'{config.format} data set not found: {path}')
    subset = list(config.subset) or None
    if config.format == 'plain':
        sequences = read_plain(path)
    elif config.format == 'got10k':
        sequences = read_got10k(path, config.split)
    elif config.format == 'lasot':
        sequences = read_lasot(path, subset)
    elif config.format == 'trackingnet':
        sequences = read_trackingnet(path, subset)
    else:
        sequences = read_coco(path, config.images or None)
    keep = config.subset if config.format == 'plain' else ()   # lasot/trackingnet: read above
    sequences = select_sequences(sequences, keep, config.exclude)
    log.info('%s %s: %d sequences', config.format, path, len(sequences))
    return sequences


def select_sequences(sequences: list[Sequence], keep: tuple[str, ...],
                     drop: tuple[str, ...]) -> list[Sequence]:
    """The sequences named in `keep` (all when empty) minus those named in `drop`.

    Raises:
        ValueError: a name in `keep` or `drop` matches no sequence (a typo would otherwise
            train on held-out data or validate on nothing).
    """
    names = {s.name for s in sequences}
    unknown = sorted(set(keep) - names) + sorted(set(drop) - names)
    if unknown:
        raise ValueError(f'no sequence named {unknown} among {len(names)} sequences')
    return [s for s in sequences if (not keep or s.name in keep) and s.name not in drop]


def load_sources(configs: tuple[DatasetConfig, ...]) -> tuple[list[list[Sequence]], list[float]]:
    """The sequences of every source and the sources' sampling ratios, in config order."""
    return [load_source(c) for c in configs], [c.ratio for c in configs]
