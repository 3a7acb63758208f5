"""The generated .venv/env.sh only defaults the ROS discovery scope and domain."""
import os
import shlex
import subprocess
from pathlib import Path

import pytest

ENV_SH = Path(__file__).resolve().parents[1] / '.venv' / 'env.sh'
VARIABLES = ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_LOCALHOST_ONLY', 'ROS_DOMAIN_ID')

pytestmark = pytest.mark.skipif(not ENV_SH.is_file(),
                                reason='no .venv/env.sh (scripts/setup_env.sh writes it)')


def sourced(**preset: str) -> dict[str, str | None]:
    """The three variables (None: unset) after sourcing env.sh where only `preset` is set."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    script = (f'source {shlex.quote(str(ENV_SH))} && for v in {" ".join(VARIABLES)}; do '
              'if [[ -v $v ]]; then echo "$v=${!v}"; else echo "$v"; fi; done')
    result = subprocess.run(['bash', '-c', script], env={**env, **preset}, capture_output=True,
                            text=True, timeout=30, check=True)
    parts = [line.partition('=') for line in result.stdout.splitlines()]
    return {name: value if sep else None for name, sep, value in parts}


def test_an_unset_shell_gets_discovery_on_this_host_and_a_domain():
    values = sourced()
    assert values['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    assert values['ROS_LOCALHOST_ONLY'] == '1'
    assert values['ROS_DOMAIN_ID'].isdigit()


def test_a_chosen_range_is_kept_and_not_overridden_by_localhost_only():
    values = sourced(ROS_AUTOMATIC_DISCOVERY_RANGE='SUBNET', ROS_DOMAIN_ID='7')
    assert values == {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET', 'ROS_LOCALHOST_ONLY': None,
                      'ROS_DOMAIN_ID': '7'}


def test_localhost_only_off_is_kept():
    values = sourced(ROS_LOCALHOST_ONLY='0')
    assert values['ROS_LOCALHOST_ONLY'] == '0'
    assert values['ROS_AUTOMATIC_DISCOVERY_RANGE'] is None
