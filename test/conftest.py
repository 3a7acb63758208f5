"""Shared pytest fixtures."""
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parent / 'fixtures'


@pytest.fixture(scope='session')
def parity_fixture_path() -> Path:
    """The official-code parity fixture copied into the repository."""
    return FIXTURES / 'stark_parity.npz'


@pytest.fixture(scope='session')
def lightning_fixture_path() -> Path:
    """The official-code STARK-Lightning parity fixture copied into the repository."""
    return FIXTURES / 'stark_lightning_parity.npz'


@pytest.fixture(scope='session')
def lightning_data(lightning_fixture_path) -> dict[str, np.ndarray]:
    """Every array of the STARK-Lightning parity fixture, read once."""
    with np.load(lightning_fixture_path) as archive:
        return {k: archive[k] for k in archive.files}
