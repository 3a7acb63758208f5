"""`stt-tracker eval` runs named trackers over a data set and writes the summary and plots."""
import json
import re
from pathlib import Path

import cv2
import numpy as np
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
    lines = capsys.readouterr().out.splitlines()
    assert 'AUC' in lines[0] and 'sequence' in lines[0]
    # One row per sequence and tracker with that sequence's figures, then one mean per tracker.
    per_sequence = summary['trackers']['csrt']['sequences']['synthetic_00']
    (row,) = [line for line in lines if line.startswith('synthetic_00')]
    assert row.split()[1:4] == ['csrt', str(per_sequence['frames']),
                                f'{per_sequence["auc"]:.3f}']
    assert lines[lines.index(row) + 1].split()[0] == 'fast'
    mean = summary['trackers']['fast']['mean']
    (mean_row,) = [line for line in lines if line.startswith('1 sequence ') and 'fast' in line]
    assert mean_row.split()[4] == f'{mean["auc"]:.3f}'


def write_plain_sequence(folder, first_box='10,10,20,20') -> None:
    """A three-frame sequence in the plain layout (NAME/img/*.jpg + groundtruth.txt)."""
    (folder / 'img').mkdir(parents=True)
    for index in range(1, 4):
        cv2.imwrite(str(folder / 'img' / f'{index:08d}.jpg'), np.full((48, 64, 3), 90, np.uint8))
    (folder / 'groundtruth.txt').write_text(f'{first_box}\n12,10,20,20\n14,10,20,20\n')


def test_only_the_named_sequences_are_evaluated(tmp_path, capsys):
    for name in ('kept', 'other', 'third'):
        write_plain_sequence(tmp_path / 'data' / name)
    out = tmp_path / 'out'
    assert main(['eval', '--root', str(tmp_path / 'data'), '--sequences', 'third', 'kept',
                 '--trackers', 'kcf', '--out', str(out)]) == 0
    summary = json.loads((out / 'summary.json').read_text())
    assert set(summary['trackers']['kcf']['sequences']) == {'kept', 'third'}
    capsys.readouterr()
    assert main(['eval', '--root', str(tmp_path / 'data'), '--sequences', 'kept', 'absent',
                 '--trackers', 'kcf', '--out', str(out)]) == 2
    assert re.fullmatch(r'error: .*data holds no sequence called absent\n',
                        capsys.readouterr().err)


@pytest.mark.parametrize('layout, message', [
    ('empty', r'no sequence found in .*empty for --format plain \(expected ROOT/NAME/img/'),
    ('one_sequence', r"no sequence found in .*seq1 for --format plain \(it is one sequence's "
                     r'own folder: give the folder that holds it\)'),
    ('missing', r'--root .*missing: no such file or folder'),
    (None, r'--root is needed with --format plain'),
])
def test_root_without_sequences_is_one_line(tmp_path, capsys, layout, message):
    (tmp_path / 'empty').mkdir()
    write_plain_sequence(tmp_path / 'data' / 'seq1')
    roots = {'empty': tmp_path / 'empty', 'one_sequence': tmp_path / 'data' / 'seq1',
             'missing': tmp_path / 'missing'}
    root = ['--root', str(roots[layout])] if layout else []
    assert main(['eval', *root, '--trackers', 'kcf', '--out', str(tmp_path / 'out')]) == 2
    error = capsys.readouterr().err
    assert re.fullmatch(rf'error: {message}.*\n', error)


def test_unscorable_sequences_print_dashes(tmp_path, capsys):
    # Target absent in frame 0: the sequence is skipped, so no tracker has a mean.
    write_plain_sequence(tmp_path / 'data' / 'absent', first_box='0,0,0,0')
    assert main(['eval', '--root', str(tmp_path / 'data'), '--trackers', 'kcf',
                 '--out', str(tmp_path / 'out')]) == 0
    (mean_row,) = [line for line in capsys.readouterr().out.splitlines()
                   if line.startswith('0 sequences')]
    assert mean_row.split()[2:] == ['kcf', '0'] + ['-'] * 9


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
