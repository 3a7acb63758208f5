"""pip packaging of the ROS-free part (core, training, CLI): `pip install -e .` without ROS.

On a ROS system the package is built by colcon from package.xml/CMakeLists.txt instead; this file
is not used there. The version is read from package.xml so both stay in step, and the dependencies
from requirements/, the lists scripts/setup_env.sh installs.
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r'<version>([^<]+)</version>', (HERE / 'package.xml').read_text()).group(1)


def requirements(name: str) -> list[str]:
    """The requirement lines of requirements/<name>.txt, comments and blank lines dropped."""
    lines = (HERE / 'requirements' / f'{name}.txt').read_text().splitlines()
    return [kept for kept in (line.split('#')[0].strip() for line in lines) if kept]


setup(
    name='stt_tracker_ros',
    version=VERSION,
    description='STARK single-object tracker with a ROS 2 node',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=['stt_tracker_ros', 'stt_tracker_ros.*']),
    # The default model looked up by tracking/factory.py, when one is shipped.
    package_data={'stt_tracker_ros': ['weights/*.safetensors']},
    install_requires=requirements('runtime'),
    extras_require={extra: requirements(extra)
                    for extra in ('test', 'eval', 'export', 'training')},
    entry_points={'console_scripts': ['stt-tracker = stt_tracker_ros.cli:main']},
)
