"""`stt-tracker eval` runs named trackers over a data set and writes the summary and plots."""
import json
from pathlib import Path

import pytest

from stt_tracker_ros.cli import main, tracker_factory, tracker_settings

COMPACT = Path(__file__).resolve().parents[2] / 'config' / 'models' / 'stark_st_compact.yaml'


def test_eval_command_on_synthetic_scenes(tmp_path, capsys):
    out = tmp_path / 'eval'
    code = main(['eval', '--format', 'synthetic', '--limit', '1', '--trackers', 'csrt',
                 'fast=kcf', '--out', str(out)])
    assert code == 0
    summary = json.loads((out / 'summary.json').read_text())
    assert set(summary['trackers']) == {'csrt', 'fast'}
    assert summary['trackers']['csrt']['mean']['auc'] > 0.3
    assert (out / 'success.png').stat().st_size > 1000
    table = capsys.readouterr().out
    assert 'csrt' in table and 'fast' in table and 'AUC' in table


def test_stark_specs_build_stark_trackers():
    tracker = tracker_factory('stark-random:s50', device='cpu')()
    assert tracker.model.config.name == 's50'
    compact = tracker_factory(f'stark-random:{COMPACT}', device='cpu')()
    assert (compact.model.config.name, compact.model.config.hidden_dim) == ('st_compact', 128)


def test_unknown_tracker_is_rejected():
    with pytest.raises(ValueError, match='unknown tracker'):
        tracker_factory('siamrpn')


def test_tracker_overrides_reach_stark_trackers(capsys):
    settings = tracker_settings(['lost_patience=1000000', 'search_factor=4.5'])
    assert (settings.lost_patience, settings.search_factor) == (1_000_000, 4.5)
    tracker = tracker_factory('stark-random:s50', 'cpu', settings)()
    assert tracker.config == settings
    assert tracker_factory('stark-random:s50', 'cpu')().config.lost_patience == 3

    assert main(['eval', '--format', 'synthetic', '--trackers', 'kcf',
                 '--tracker-override', 'lost_patience=0']) == 2
    assert 'lost_patience must be at least 1' in capsys.readouterr().err
    for bad, message in (('lost_patience', 'key=value'), ('patience=3', 'unknown')):
        with pytest.raises(ValueError, match=message):
            tracker_settings([bad])
