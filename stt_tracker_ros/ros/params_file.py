"""Read one node's parameters out of a ROS 2 parameter YAML file (used by the launch file).

ROS matches the top-level keys of a `--params-file` against the node's fully qualified name, so
a file keyed `stt_tracker:` no longer applies once the launch file puts the node in a namespace.
The launch file therefore passes the node's values as a dictionary, collected here from every
key that names the node: `/**`, `stt_tracker`, `/stt_tracker`, `/**/stt_tracker` and
`<namespace>/stt_tracker`; later, more specific keys win.
"""
from pathlib import Path
from typing import Any

from stt_tracker_ros.config import read_yaml_mapping


def _matches(key: str, node_name: str, namespace: str) -> int:
    """Specificity of `key` for the node (0 = no match); higher ranks apply later."""
    namespace = '/' + namespace.strip('/') if namespace.strip('/') else ''
    key = key.rstrip('/')
    if key in ('/**', '**'):
        return 1
    if key in ('/**/' + node_name, '**/' + node_name):
        return 2
    # A relative key names the node in whatever namespace the launch file puts it in.
    if key == node_name or (key == '/' + node_name and not namespace):
        return 3
    if key == f'{namespace}/{node_name}':
        return 4
    return 0


def node_parameters(path: str | Path, node_name: str, namespace: str = '') -> dict[str, Any]:
    """The `ros__parameters` that `path` gives the node `namespace`/`node_name`.

    Raises:
        ValueError: the file is not a mapping of node names to `ros__parameters` mappings.
    """
    document = read_yaml_mapping(path, 'node names')
    ranked = sorted((rank, key) for key in document
                    if (rank := _matches(str(key), node_name, namespace)))
    values: dict[str, Any] = {}
    for _, key in ranked:
        section = document[key]
        if not isinstance(section, dict) or not isinstance(section.get('ros__parameters'), dict):
            raise ValueError(f'{path}: {key!r} has no ros__parameters mapping')
        values.update(section['ros__parameters'])
    return values
