"""pip packaging of the ROS-free part (core, training, CLI): `pip install -e .` without ROS.

On a ROS system the package is built by colcon from package.xml/CMakeLists.txt instead; this file
is not used there. The version is read from package.xml so both stay in step.
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r'<version>([^<]+)</version>', (HERE / 'package.xml').read_text()).group(1)

setup(
    name='stt_tracker_ros',
    version=VERSION,
    description='STARK single-object tracker with a ROS 2 node',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=['stt_tracker_ros', 'stt_tracker_ros.*']),
    # The default model looked up by tracking/factory.py, when one is shipped.
    package_data={'stt_tracker_ros': ['weights/*.safetensors']},
    install_requires=[
        'torch>=2.0',
        'numpy',
        'opencv-contrib-python-headless>=4.5',
        'safetensors',
        'pyyaml',
    ],
    extras_require={
        'test': ['pytest'],
        'eval': ['matplotlib'],
        'export': ['onnx', 'onnxruntime'],
    },
    entry_points={'console_scripts': ['stt-tracker = stt_tracker_ros.cli:main']},
)
