"""Node parameters: descriptors, config/tracker.yaml, and run-time threshold changes over DDS."""
from dataclasses import fields
from pathlib import Path

import pytest

rclpy = pytest.importorskip('rclpy')

import yaml  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from vision_msgs.msg import BoundingBox2D  # noqa: E402

from stt_tracker_ros.msg import TrackStatus  # noqa: E402
from stt_tracker_ros.ros.parameters import (NodeParameters, apply_changes,  # noqa: E402
                                            declare_parameters)

pytestmark = pytest.mark.ros
DOMAIN_OFFSET = 2
CONFIG = Path(__file__).resolve().parents[2] / 'config' / 'tracker.yaml'
RUNTIME = {'update_interval', 'update_threshold', 'lost_threshold', 'lost_patience',
           'follow_when_lost', 'class_id', 'publish_when_lost', 'debug_image',
           'init_stamp_tolerance'}


@pytest.fixture
def plain_node(ros_session):
    node = Node('param_host', namespace='/params')
    yield node
    node.destroy_node()


def test_every_parameter_is_described_and_ranged(plain_node):
    params = declare_parameters(plain_node)
    assert params == NodeParameters()
    for field in fields(NodeParameters):
        descriptor = plain_node.describe_parameter(field.name)
        assert descriptor.description, field.name
        assert descriptor.read_only == (field.name not in RUNTIME), field.name
    for name in ('update_threshold', 'lost_threshold'):
        (unit,) = plain_node.describe_parameter(name).floating_point_range
        assert (unit.from_value, unit.to_value) == (0.0, 1.0)
    (patience,) = plain_node.describe_parameter('lost_patience').integer_range
    assert patience.from_value == 1


def test_apply_changes_validates_against_the_tracker_config():
    current = NodeParameters()
    updated, result = apply_changes(current, [Parameter('lost_threshold', value=0.25),
                                              Parameter('lost_patience', value=7),
                                              Parameter('follow_when_lost', value=True)])
    assert result.successful
    assert (updated.lost_threshold, updated.lost_patience) == (0.25, 7)
    assert updated.tracker_config().lost_threshold == 0.25
    assert updated.tracker_config().follow_when_lost
    assert not current.tracker_config().follow_when_lost
    unchanged, rejected = apply_changes(current, [Parameter('update_threshold', value=1.5)])
    assert not rejected.successful and 'update_threshold' in rejected.reason
    assert unchanged is current
    unchanged, rejected = apply_changes(current, [Parameter('image_reliability', value='fast')])
    assert not rejected.successful and 'image_reliability' in rejected.reason


def test_shipped_yaml_loads_into_the_node(ros_session, tmp_path):
    document = yaml.safe_load(CONFIG.read_text())
    values = document['stt_tracker']['ros__parameters']
    assert set(values) <= {f.name for f in fields(NodeParameters)}
    # The shipped values equal the defaults; change two lines to see that the file is applied.
    text = CONFIG.read_text().replace('lost_patience: 3', 'lost_patience: 9')
    edited = tmp_path / 'tracker.yaml'
    edited.write_text(text.replace('class_id: object', 'class_id: mug'))
    node = Node('stt_tracker', cli_args=['--ros-args', '--params-file', str(edited)])
    try:
        params = declare_parameters(node)   # raises on any type mismatch with the defaults
    finally:
        node.destroy_node()
    assert (params.lost_patience, params.class_id) == (9, 'mug')
    for name, value in values.items():
        if name not in ('lost_patience', 'class_id'):
            assert getattr(params, name) == value, name


def test_launch_reads_the_node_section_in_any_namespace(tmp_path):
    from stt_tracker_ros.ros.params_file import node_parameters

    assert node_parameters(CONFIG, 'stt_tracker', '/robot1') == \
        yaml.safe_load(CONFIG.read_text())['stt_tracker']['ros__parameters']
    layered = tmp_path / 'layered.yaml'
    layered.write_text(
        '/**:\n  ros__parameters: {device: cpu, half: true}\n'
        'stt_tracker:\n  ros__parameters: {device: cuda, class_id: cup}\n'
        '/robot1/stt_tracker:\n  ros__parameters: {class_id: mug}\n'
        'other_node:\n  ros__parameters: {class_id: nope}\n')
    assert node_parameters(layered, 'stt_tracker', 'robot1') == \
        {'device': 'cuda', 'half': True, 'class_id': 'mug'}
    assert node_parameters(layered, 'stt_tracker') == \
        {'device': 'cuda', 'half': True, 'class_id': 'cup'}
    broken = tmp_path / 'broken.yaml'
    broken.write_text('stt_tracker: {device: cpu}\n')
    with pytest.raises(ValueError, match='ros__parameters'):
        node_parameters(broken, 'stt_tracker')


def _set(probe, name: str, value):
    client = probe.node.create_client(SetParameters, f'{probe.base}/set_parameters')
    assert client.wait_for_service(timeout_sec=10.0)
    request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
    (result,) = probe.call(client, request).results
    return result


def _frame(probe, index: int) -> TrackStatus:
    image = Image(height=8, width=8, encoding='mono8', step=8, data=bytes([index]) * 64)
    image.header.stamp.sec = 1000 + index
    probe.image_pub.publish(image)
    return probe.wait_status(lambda s: s.header.stamp.sec == 1000 + index)


def test_thresholds_change_at_run_time(tracker_rig, tracker_class):
    tracker = tracker_class(confidence=0.4)
    node, probe = tracker_rig(tracker, lost_patience=2)
    _frame(probe, 0)
    box = BoundingBox2D(size_x=4.0, size_y=4.0)
    box.center.position.x = box.center.position.y = 4.0
    probe.init_box_pub.publish(box)
    probe.wait_status(lambda s: s.message.startswith('initialised'))
    assert _frame(probe, 1).state == TrackStatus.TRACKING   # 1 of 2 low-confidence frames
    lost = _frame(probe, 2)
    assert lost.state == TrackStatus.LOST
    assert not [d for d in probe.messages('detection') if d.header.stamp.sec == 1002]

    assert _set(probe, 'publish_when_lost', True).successful
    _frame(probe, 3)
    assert [d for d in probe.messages('detection') if d.header.stamp.sec == 1003]

    assert _set(probe, 'lost_threshold', 0.3).successful
    assert tracker.config.lost_threshold == 0.3
    assert _frame(probe, 4).state == TrackStatus.TRACKING

    assert not _set(probe, 'lost_threshold', 1.5).successful       # outside the range
    assert not _set(probe, 'lost_patience', 0).successful          # outside the range
    assert not _set(probe, 'device', 'cuda').successful            # read-only
    assert not _set(probe, 'lost_threshold', 'high').successful    # wrong type
    assert tracker.config.lost_threshold == 0.3 and tracker.config.lost_patience == 2
    assert node.get_parameter('device').value == 'auto'
