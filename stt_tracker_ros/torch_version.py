"""The oldest torch this package runs on, and the start-up check that names it."""
import re

# model/checkpoint.py loads checkpoints with torch.load(weights_only=True) and passes
# (class, 'module.name') pairs to torch.serialization.safe_globals: both arrived in torch 2.6.
# requirements/runtime.txt states the same floor (test_torch_version.py holds them together).
TORCH_FLOOR = (2, 6)
_FLOOR = '.'.join(map(str, TORCH_FLOOR))
_HOW = (f'pip install "torch>={_FLOOR}", or NVIDIA\'s wheel on a Jetson; README, '
        '"On a ROS 2 system"')


class TorchVersionError(RuntimeError):
    """The installed torch is missing or older than TORCH_FLOOR; the message says what to do."""


def torch_version_problem(version: str | None) -> str:
    """One line saying which torch is needed and how to get it; '' when `version` will do.

    Args:
        version: `torch.__version__` ('2.6.0', '2.5.1+cu121', '2.6.0a0+git1234'), None when
            torch is not installed. Only the release numbers count, so a pre-release of 2.6
            (NVIDIA's containers ship those) passes; a version without them passes too.
    """
    if version is None:
        return f'torch is not installed: stt_tracker_ros needs torch {_FLOOR} or later ({_HOW})'
    release = re.match(r'(\d+)\.(\d+)', version)
    if release and tuple(map(int, release.groups())) < TORCH_FLOOR:
        return (f'torch {version} is too old: stt_tracker_ros needs torch {_FLOOR} or later '
                f'({_HOW})')
    return ''


def installed_torch_version() -> str | None:
    """`torch.__version__` of the torch this interpreter imports, None without one."""
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)


def check_torch() -> None:
    """Stop a program at start-up when its torch is missing or too old.

    Raises:
        TorchVersionError: with the one-line `torch_version_problem` message.
    """
    problem = torch_version_problem(installed_torch_version())
    if problem:
        raise TorchVersionError(problem)
