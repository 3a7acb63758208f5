"""The training benchmarks run on the tiny configuration and print their figures and setup."""
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = ['config/train/tiny_cpu.yaml', '--override', 'datasets.0.sequences=2']


def run_benchmark(script: str, *args: str) -> list[str]:
    done = subprocess.run([sys.executable, f'benchmarks/{script}', *TINY, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=True)
    lines = done.stdout.strip().splitlines()
    setup = json.loads(lines[-1].removeprefix('setup: '))
    assert setup['cores'] > 0 and setup['torch'] and setup['cpu']
    return lines[:-1]


def test_training_step_benchmark_times_each_dropout_rate():
    lines = run_benchmark('bench_training_step.py', '--override', 'batch_size=2',
                          '--steps', '2', '--warmup', '0', '--dropout', '0.5', '0')
    pattern = r'\S+ stage 1 batch 2 dropout (\S+): median \d+ ms per step \(([\d.]+) ms per'
    found = [re.match(pattern, line) for line in lines]
    assert all(found) and [m.group(1) for m in found] == ['0.5', '0']
    assert all(float(m.group(2)) > 0 for m in found)


def test_training_data_benchmark_prints_a_per_sample_cost():
    lines = run_benchmark('bench_training_data.py', '--samples', '4', '--chunk', '2')
    assert re.search(r'median [\d.]+ ms per sample', lines[-1])
