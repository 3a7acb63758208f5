"""The tracker node's ROS parameters: declaration with descriptors, reading, run-time checks.

Defaults live in `NodeParameters` (and, for the thresholds, in TrackerConfig); config/tracker.yaml
only overrides them. Parameters marked read-only take effect at start-up; the others (thresholds,
patience, labels, debug image, init tolerance) may be changed while the node runs.
"""
from dataclasses import dataclass, fields, replace

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.node import Node
from rclpy.parameter import Parameter

from stt_tracker_ros.config import TrackerConfig

_TRACKER_DEFAULTS = TrackerConfig()


@dataclass(frozen=True)
class NodeParameters:
    """Everything the node reads from its parameters."""

    checkpoint: str = ''              # '' -> the default model shipped with the package
    variant: str = ''                 # '' -> inferred from the checkpoint
    device: str = 'auto'              # 'auto' picks CUDA when present
    half: bool = False
    cuda_graphs: bool = True          # replay the per-frame search branch as a CUDA graph
    random_weights: bool = False      # untrained `variant`: plumbing tests only
    update_interval: int = _TRACKER_DEFAULTS.update_interval
    update_threshold: float = _TRACKER_DEFAULTS.update_threshold
    lost_threshold: float = _TRACKER_DEFAULTS.lost_threshold
    lost_patience: int = _TRACKER_DEFAULTS.lost_patience
    follow_when_lost: bool = _TRACKER_DEFAULTS.follow_when_lost
    image_reliability: str = 'best_effort'
    use_compressed: bool = False
    class_id: str = 'object'
    publish_when_lost: bool = False
    debug_image: bool = False         # draw even when nobody subscribes to ~/debug_image
    frame_cache_size: int = 15
    init_stamp_tolerance: float = 0.05
    max_targets: int = 1              # followed at once; one init more replaces the oldest
    diagnostics_period: float = 1.0   # seconds between /diagnostics reports; 0 turns them off

    def tracker_config(self, base: TrackerConfig | None = None) -> TrackerConfig:
        """`base` (default TrackerConfig()) with this node's thresholds applied."""
        return replace(base or TrackerConfig(), update_interval=self.update_interval,
                       update_threshold=self.update_threshold,
                       lost_threshold=self.lost_threshold, lost_patience=self.lost_patience,
                       follow_when_lost=self.follow_when_lost)


RELIABILITIES = ('best_effort', 'reliable')


def _unit_range() -> list[FloatingPointRange]:
    return [FloatingPointRange(from_value=0.0, to_value=1.0, step=0.0)]


def _int_range(low: int, high: int) -> list[IntegerRange]:
    return [IntegerRange(from_value=low, to_value=high, step=1)]


_DESCRIPTORS: dict[str, ParameterDescriptor] = {
    'checkpoint': ParameterDescriptor(
        description="STARK checkpoint file (.pth.tar, .pth or .safetensors); '' uses the "
                    'default model installed with the package', read_only=True),
    'variant': ParameterDescriptor(
        description="'s50', 'st50', 'st101' or 'lightning'; '' infers it from the checkpoint",
        read_only=True),
    'device': ParameterDescriptor(
        description="torch device: 'auto' (CUDA when present), 'cpu', 'cuda', 'cuda:1', ...",
        read_only=True),
    'half': ParameterDescriptor(
        description='half precision (float16 on CUDA, bfloat16 on the CPU; TensorRT float16 '
                    'engines for an ONNX export folder on CUDA)', read_only=True),
    'cuda_graphs': ParameterDescriptor(
        description='on CUDA, replay the per-frame network as a CUDA graph (same outputs, '
                    'several times faster; one recording per number of targets)',
        read_only=True),
    'random_weights': ParameterDescriptor(
        description='build `variant` with random weights: for plumbing tests and demos only, '
                    'boxes are meaningless', read_only=True),
    'update_interval': ParameterDescriptor(
        description='frames between dynamic-template refreshes (STARK-ST)',
        integer_range=_int_range(1, 1_000_000)),
    'update_threshold': ParameterDescriptor(
        description='refresh the dynamic template only above this confidence',
        floating_point_range=_unit_range()),
    'lost_threshold': ParameterDescriptor(
        description='confidence below this counts towards LOST',
        floating_point_range=_unit_range()),
    'lost_patience': ParameterDescriptor(
        description='consecutive low-confidence frames before the state becomes LOST',
        integer_range=_int_range(1, 1000)),
    'follow_when_lost': ParameterDescriptor(
        description='while LOST, search around each new prediction (as the official tracker) '
                    'instead of around the last confident box'),
    'image_reliability': ParameterDescriptor(
        description="image subscription reliability: 'best_effort' (sensor data, accepts "
                    "every publisher) or 'reliable'; history depth is 1", read_only=True),
    'use_compressed': ParameterDescriptor(
        description='subscribe <image>/compressed (sensor_msgs/CompressedImage) instead of '
                    'the raw image', read_only=True),
    'class_id': ParameterDescriptor(
        description='label written to results[0].hypothesis.class_id'),
    'publish_when_lost': ParameterDescriptor(
        description='also publish the detection while the target is LOST (its score is low)'),
    'debug_image': ParameterDescriptor(
        description='draw ~/debug_image on every frame even when nobody subscribes'),
    'frame_cache_size': ParameterDescriptor(
        description='recent frames kept so that ~/init can pick its frame by stamp',
        integer_range=_int_range(1, 300), read_only=True),
    'init_stamp_tolerance': ParameterDescriptor(
        description='largest stamp difference in seconds between a ~/init message and the '
                    'cached frame it is applied to',
        floating_point_range=[FloatingPointRange(from_value=0.0, to_value=10.0, step=0.0)]),
    'max_targets': ParameterDescriptor(
        description='targets followed at once (one batched forward pass per frame); an init '
                    'beyond this replaces the oldest target', integer_range=_int_range(1, 32),
        read_only=True),
    'diagnostics_period': ParameterDescriptor(
        description='seconds between health reports on /diagnostics (diagnostic_msgs); 0 '
                    'publishes none',
        floating_point_range=[FloatingPointRange(from_value=0.0, to_value=60.0, step=0.0)],
        read_only=True),
}


def declare_parameters(node: Node) -> NodeParameters:
    """Declare every parameter on `node` with its descriptor and return the values read back."""
    defaults = NodeParameters()
    for field in fields(NodeParameters):
        node.declare_parameter(field.name, getattr(defaults, field.name),
                               _DESCRIPTORS[field.name])
    return read_parameters(node)


def read_parameters(node: Node) -> NodeParameters:
    """Current parameter values of `node` as a NodeParameters.

    Raises:
        ValueError: a value that the descriptors cannot express is invalid.
    """
    values = {f.name: node.get_parameter(f.name).value for f in fields(NodeParameters)}
    params = NodeParameters(**values)
    _check(params)
    return params


def apply_changes(current: NodeParameters,
                  changes: list[Parameter]) -> tuple[NodeParameters, SetParametersResult]:
    """Validate run-time parameter changes against the current values.

    Ranges and types are enforced by rclpy from the descriptors; this adds the cross-field and
    enumerated checks and builds the TrackerConfig to prove the thresholds are usable.

    Returns:
        The new values (unchanged when rejected) and the result to hand back to rclpy.
    """
    known = {f.name for f in fields(NodeParameters)}
    values = {p.name: p.value for p in changes if p.name in known}
    try:
        updated = replace(current, **values)
        _check(updated)
    except (TypeError, ValueError) as error:
        return current, SetParametersResult(successful=False, reason=str(error))
    return updated, SetParametersResult(successful=True)


def _check(params: NodeParameters) -> None:
    if params.image_reliability not in RELIABILITIES:
        raise ValueError(f'image_reliability must be one of {RELIABILITIES}, '
                         f'got {params.image_reliability!r}')
    params.tracker_config()   # TrackerConfig rejects out-of-range thresholds
