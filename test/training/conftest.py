"""Fixtures of the training tests: the tiny configuration and a single compute thread."""
from pathlib import Path

import pytest
import torch

from stt_tracker_ros.training.train_config import TrainConfig, load_train_config

TINY_YAML = Path(__file__).resolve().parents[2] / 'config' / 'train' / 'tiny_cpu.yaml'


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a small, busy CPU this is faster and the runs are bit-exact."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_config(tmp_path: Path) -> TrainConfig:
    """The shipped tiny configuration, shrunk to two 2-step epochs writing under tmp_path."""
    return load_train_config(TINY_YAML, [
        f'output_dir={tmp_path / "run"}', 'epochs=2', 'samples_per_epoch=8', 'batch_size=4',
        'val_samples=4', 'datasets.0.sequences=4', 'val_datasets.0.sequences=2'])
