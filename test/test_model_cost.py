"""benchmarks/model_cost.py: parameters and GFLOP per search frame of each network."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_model_cost_prints_parameters_and_gflop_per_network():
    done = subprocess.run([sys.executable, 'benchmarks/model_cost.py', '--networks', 'lightning',
                           'default'], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=True)
    found = re.findall(r'^(\w+): ([\d.]+) M parameters, ([\d.]+) GFLOP per search frame',
                       done.stdout, re.MULTILINE)
    assert [name for name, _, _ in found] == ['lightning', 'default']
    costs = {name: (float(m), float(g)) for name, m, g in found}
    assert costs['lightning'][0] == 2.15   # the fused official network's 2,151,202 parameters
    assert 0 < costs['default'][1] < costs['lightning'][1]
