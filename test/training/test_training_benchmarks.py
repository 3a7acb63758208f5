"""The training benchmarks run on the tiny configuration and print their figures and setup."""
import json
import re
import subprocess
import sys
from pathlib import Path

from stt_tracker_ros.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ['config/train/tiny_cpu.yaml', '--override', 'datasets.0.sequences=2']


def run_benchmark(script: str, *args: str) -> list[str]:
    done = subprocess.run([sys.executable, f'benchmarks/{script}', *TINY, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=True)
    lines = done.stdout.strip().splitlines()
    setup = json.loads(lines[-1].removeprefix('setup: '))
    assert setup['cores'] > 0 and setup['torch'] and setup['cpu']
    return lines[:-1]


def test_training_step_benchmark_times_each_data_path_and_dropout_rate(tmp_path):
    bank = tmp_path / 'bank'
    assert main(['train', TINY[0], '--override', f'feature_bank={bank}', '--override',
                 'bank_samples=4', '--override', 'val_samples=2', '--override', 'epochs=1',
                 '--override', 'samples_per_epoch=2', '--override', 'batch_size=2',
                 '--override', f'output_dir={tmp_path / "run"}', *TINY[1:]]) == 0
    lines = run_benchmark('bench_training_step.py', '--override', 'batch_size=2',
                          '--override', f'feature_bank={bank}', '--data', 'images', 'bank',
                          '--steps', '2', '--warmup', '0', '--dropout', '0.5', '0')
    pattern = (r'\S+ stage 1 batch 2 data (\S+) dropout (\S+): median \d+ ms per step '
               r'\(([\d.]+) ms per sample, [\d.]+ samples/s\)')
    found = [re.match(pattern, line) for line in lines]
    assert all(found)
    assert [m.group(1, 2) for m in found] == [('images', '0.5'), ('images', '0'),
                                              ('bank', '0.5'), ('bank', '0')]
    assert all(float(m.group(3)) > 0 for m in found)


def test_training_data_benchmark_prints_a_per_sample_cost():
    lines = run_benchmark('bench_training_data.py', '--samples', '4', '--chunk', '2')
    assert re.search(r'median [\d.]+ ms per sample', lines[-1])
