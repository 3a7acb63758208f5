"""What a torch checkpoint's pickle may refer to: the official trainer's files load in both torch
formats (zip and legacy), and any other global is refused before anything is unpickled.

The official trainer (`BaseTrainer.save_checkpoint` of researchmm/Stark) pickles `net` beside its
own objects: `settings` (lib.train.admin.settings.Settings holding an EnvironmentSettings and a
torch.device), `stats` (OrderedDicts of lib.train.admin.stats.AverageMeter / StatValue) and the
optimizer's state. Stand-ins of those classes live in a fake `lib.train` package while a test
runs; each writes a marker file if its `__setstate__` ever runs, which loading must not do.
"""
import io
import os
import shutil
import subprocess
import sys
import types
import zipfile
from collections import OrderedDict

import pytest
import torch

from stt_tracker_ros.cli import main
from stt_tracker_ros.model.checkpoint import CheckpointError, load_stark, read_checkpoint
from stt_tracker_ros.model.pickle_globals import UNNAMED_GLOBAL, pickled_globals
from stt_tracker_ros.parity import fixture_model

FORMATS = {'zip': True, 'legacy': False}   # torch.save's _use_new_zipfile_serialization


@pytest.fixture(scope='module')
def st50():
    return fixture_model('st50', salt=7)


@pytest.fixture
def marker(tmp_path):
    """A file that exists only if code from a checkpoint ran."""
    return tmp_path / 'code_ran'


TRAINER_CLASSES = {'Settings': 'lib.train.admin.settings',
                   'EnvironmentSettings': 'lib.train.admin.local',
                   'AverageMeter': 'lib.train.admin.stats', 'StatValue': 'lib.train.admin.stats'}


@pytest.fixture
def trainer_classes(monkeypatch, marker):
    """Stand-ins of the official trainer's classes, importable as lib.train.admin.*."""
    def record_execution(self, state):
        marker.write_text('executed')

    for name in ('lib', 'lib.train', 'lib.train.admin', *set(TRAINER_CLASSES.values())):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    classes = {}
    for class_name, module_name in TRAINER_CLASSES.items():
        classes[class_name] = type(class_name, (), {'__setstate__': record_execution,
                                                    '__module__': module_name})
        setattr(sys.modules[module_name], class_name, classes[class_name])
    return classes


def official_checkpoint(model, classes) -> dict:
    """The dict the official trainer saves, with the trainer's objects of the stand-in classes."""
    settings = classes['Settings']()
    settings.env = classes['EnvironmentSettings']()
    settings.env.workspace_dir = '/data/stark'
    settings.device = torch.device('cuda', 0)
    settings.script_name, settings.search_area_factor = 'stark_st2', {'search': 5.0}
    meter, rate = classes['AverageMeter'](), classes['StatValue']()
    meter.avg, meter.history, rate.val = 0.31, [0.52, 0.31], 1e-4
    weight = torch.zeros(4, requires_grad=True)
    optimizer = torch.optim.AdamW([weight], lr=1e-4)
    weight.sum().backward()
    optimizer.step()
    return {'epoch': 50, 'actor_type': 'STARKSTActor', 'net_type': 'STARKST',
            'net': model.state_dict(), 'net_info': None, 'constructor': None,
            'optimizer': optimizer.state_dict(),
            'stats': OrderedDict(train=OrderedDict({'Loss/total': meter, 'LearningRate': rate}),
                                 val=None),
            'settings': settings}


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize('form', FORMATS)
def test_official_trainer_file_loads_in_both_formats(st50, trainer_classes, marker,
                                                     tmp_path, form):
    path = tmp_path / f'STARKST_ep0050_{form}.pth.tar'
    torch.save(official_checkpoint(st50, trainer_classes), path,
               _use_new_zipfile_serialization=FORMATS[form])
    assert zipfile.is_zipfile(path) == FORMATS[form]
    assert 'lib.train.admin.stats.AverageMeter' in pickled_globals(path)
    loaded = load_stark(path)
    assert loaded.config.name == 'st50' and same_weights(loaded, st50)
    assert not marker.exists()   # the trainer's classes were never used


def test_both_formats_give_the_same_state(st50, trainer_classes, tmp_path):
    states = {}
    for form, zipped in FORMATS.items():
        path = tmp_path / f'{form}.pth.tar'
        torch.save(official_checkpoint(st50, trainer_classes), path,
                   _use_new_zipfile_serialization=zipped)
        states[form], _ = read_checkpoint(path)
    assert list(states['zip']) == list(states['legacy'])
    assert all(torch.equal(states['zip'][k], states['legacy'][k]) for k in states['zip'])


class _Payload:
    """Pickles as a call of `function(*arguments)`, which would run when unpickled."""

    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


def payloads(marker, tmp_path) -> dict:
    """Global name -> an object whose unpickling would create `marker` through that global."""
    source = tmp_path / 'source.txt'
    source.write_text('copied')
    return {'subprocess.call': _Payload(subprocess.call, ['touch', str(marker)]),
            'builtins.exec': _Payload(exec, f'open({str(marker)!r}, "w").close()'),
            'shutil.copyfile': _Payload(shutil.copyfile, str(source), str(marker)),
            'os.system': _Payload(os.system, f'touch {marker}')}


@pytest.mark.parametrize('form', FORMATS)
@pytest.mark.parametrize('global_name', ['subprocess.call', 'builtins.exec', 'shutil.copyfile',
                                         'os.system'])
def test_dangerous_globals_are_refused_by_name(st50, marker, tmp_path, form, global_name):
    path = tmp_path / f'evil_{form}.pth.tar'
    torch.save({'net': st50.state_dict(), 'settings': payloads(marker, tmp_path)[global_name]},
               path, _use_new_zipfile_serialization=FORMATS[form])
    # os.system pickles under the module that defines it (posix on Linux).
    pickled_name = global_name.replace('os.', f'{os.system.__module__}.')
    with pytest.raises(CheckpointError,
                       match=rf'evil_{form}\.pth\.tar: refused: .*{pickled_name}'):
        load_stark(path)
    target = tmp_path / 'converted.safetensors'
    assert main(['convert', str(path), str(target)]) == 2
    assert not target.exists() and not marker.exists()


def test_globals_named_through_the_stack_are_refused(st50, tmp_path):
    # Protocol 4 names globals with STACK_GLOBAL (module and name pushed as strings).
    path = tmp_path / 'protocol4.pth'
    torch.save({'net': st50.state_dict(), 'x': _Payload(exec, 'pass')}, path, pickle_protocol=4)
    assert {'torch._utils._rebuild_tensor_v2', 'builtins.exec'} <= set(pickled_globals(path))
    with pytest.raises(CheckpointError, match='protocol4.pth: refused: .*builtins.exec'):
        read_checkpoint(path)


def _zip_with_pickle(path, data: bytes) -> None:
    """A torch-style zip archive whose data.pkl is `data`."""
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as archive:
        archive.writestr('archive/data.pkl', data)
        archive.writestr('archive/version', '3\n')


def test_names_are_followed_through_the_memo_and_computed_ones_refused(tmp_path):
    memo = io.BytesIO()
    # 'builtins' and 'exec' are memoised, then fetched back for STACK_GLOBAL.
    memo.write(b'\x80\x04\x8c\x08builtins\x94\x8c\x04exec\x94h\x00h\x01\x93N\x85R.')
    by_memo = tmp_path / 'memo.pth'
    _zip_with_pickle(by_memo, memo.getvalue())
    assert pickled_globals(by_memo) == ['builtins.exec']
    with pytest.raises(CheckpointError, match='memo.pth: refused: .*builtins.exec'):
        read_checkpoint(by_memo)
    computed = tmp_path / 'computed.pth'   # module and name are not strings in the stream
    _zip_with_pickle(computed, b'\x80\x04]\x94]\x94\x93N\x85R.')
    assert pickled_globals(computed) == [UNNAMED_GLOBAL]
    with pytest.raises(CheckpointError, match='computed.pth: refused: .*<a global'):
        read_checkpoint(computed)


@pytest.mark.parametrize('form', FORMATS)
def test_impossible_lengths_are_a_format_error(tmp_path, form):
    # A string opcode whose length field claims 2**60 bytes, in a 23-byte pickle.
    data = b'\x80\x04\x8d' + (2 ** 60).to_bytes(8, 'little') + b'x' * 10 + b'.'
    path = tmp_path / f'huge_{form}.pth'
    if FORMATS[form]:
        _zip_with_pickle(path, data)
    else:
        path.write_bytes(data)
    with pytest.raises(CheckpointError, match=rf'huge_{form}.pth: not a torch checkpoint: .*'
                                              r'expected 1152921504606846976 bytes'):
        read_checkpoint(path)


def test_older_torch_is_named_with_the_fix(st50, tmp_path, monkeypatch):
    path = tmp_path / 'st50.pth'
    torch.save(st50.state_dict(), path)
    monkeypatch.setattr(torch, '__version__', '2.5.1+cu121')
    with pytest.raises(CheckpointError, match=r'st50.pth: .*needs torch 2.6 or later, this is '
                                              r'torch 2.5.1\+cu121: pip install'):
        read_checkpoint(path)
