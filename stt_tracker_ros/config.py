"""Model variants and tracker settings as frozen dataclasses; YAML and KEY=VALUE overrides."""
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml


BACKBONES = ('resnet', 'efficientnet_lite0', 'repvgg')
ARCHITECTURES = ('stark', 'lightning')
SCORE_INPUTS = ('query', 'match')


@dataclass(frozen=True)
class ModelConfig:
    """Shape of one STARK network; the defaults are STARK-ST50 (official stark_st2 baseline)."""

    name: str = 'st50'
    architecture: str = 'stark'    # 'stark' (S/ST) or 'lightning' (model/stark_lightning.py)
    # 'resnet' (official S/ST), 'efficientnet_lite0' (ImageNet, light) or 'repvgg' (Lightning,
    # whose backbone_layers count the blocks of stage1..stage3)
    backbone: str = 'resnet'
    backbone_layers: tuple[int, int, int] = (3, 4, 6)  # bottleneck blocks in layer1..layer3
    backbone_width: int = 64       # ResNet base width (64: ResNet-50/101; smaller: lighter)
    hidden_dim: int = 256          # transformer width, `bottleneck` output channels
    num_heads: int = 8
    encoder_layers: int = 6
    decoder_layers: int = 6
    ffn_dim: int = 2048
    dropout: float = 0.1           # training only
    head_channels: int = 256       # corner head width (halves at each of its 4 conv layers)
    score_head: bool = True        # STARK-ST: 3-layer MLP on the decoder output
    # what the score head sees: 'query' (STARK-ST: the decoder output) or 'match' (that and the
    # box's appearance match with each template, model/appearance_match.py)
    score_input: str = 'query'
    # the corner head also sees each search cell's cosine similarity with each cell of each
    # template's target (model/target_correlation.py); off in the official variants
    box_correlation: bool = False
    num_templates: int = 2         # initial + dynamic (ST); 1 for STARK-S
    template_size: int = 128       # template crop side in pixels
    search_size: int = 320         # search crop side in pixels
    stride: int = 16               # backbone output stride
    # search crop side / sqrt(target area) when tracking: how much context around the target
    # the network sees (official test value 5.0); TrackerConfig.search_factor overrides it
    search_factor: float = 5.0

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f'unknown backbone {self.backbone!r}; expected one of {BACKBONES}')
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f'unknown architecture {self.architecture!r}; expected one of '
                             f'{ARCHITECTURES}')
        if self.score_input not in SCORE_INPUTS:
            raise ValueError(f'unknown score_input {self.score_input!r}; expected one of '
                             f'{SCORE_INPUTS}')
        if not self.search_factor > 0:
            raise ValueError(f'search_factor must be positive, got {self.search_factor}')
        if (self.architecture == 'lightning') != (self.backbone == 'repvgg'):
            raise ValueError('the lightning architecture goes with the repvgg backbone, and '
                             'only with it')

    @property
    def search_feat_size(self) -> int:
        """Side of the search feature map (20 for a 320 px crop)."""
        return self.search_size // self.stride


VARIANTS: dict[str, ModelConfig] = {
    's50': ModelConfig(name='s50', score_head=False, num_templates=1),
    'st50': ModelConfig(name='st50'),
    'st101': ModelConfig(name='st101', backbone_layers=(3, 4, 23)),
    # STARK-Lightning (stark_lightning_X_trt/baseline_rephead_4_lite_search5): RepVGG-A0 cut
    # after 4 blocks of stage 3 (widths 48/96/192), one light encoder layer, RepVGG corner head.
    'lightning': ModelConfig(name='lightning', architecture='lightning', backbone='repvgg',
                             backbone_layers=(2, 4, 4), backbone_width=48, hidden_dim=128,
                             encoder_layers=1, decoder_layers=0, ffn_dim=1024,
                             head_channels=128, score_head=False, num_templates=1),
}


def model_config(variant: str) -> ModelConfig:
    """Return the configuration of a published variant ('s50', 'st50', 'st101' or
    'lightning')."""
    try:
        return VARIANTS[variant.lower()]
    except KeyError:
        raise ValueError(f'unknown STARK variant {variant!r}; expected one of '
                         f'{sorted(VARIANTS)}') from None


@dataclass(frozen=True)
class TrackerConfig:
    """Per-frame tracking logic. Crop factors follow the official test parameters; the crops'
    sizes in pixels belong to the network (ModelConfig)."""

    template_factor: float = 2.0   # template crop side / sqrt(target area)
    # search crop side / sqrt(target area); None: the network's (ModelConfig.search_factor)
    search_factor: float | None = None
    update_interval: int = 200     # frames between dynamic-template refreshes (paper: 200)
    update_threshold: float = 0.5  # refresh only when the confidence is above this (paper: 0.5)
    lost_threshold: float = 0.5    # confidence below this counts towards LOST
    lost_patience: int = 3         # consecutive low-confidence frames before LOST
    # While LOST, the search region stays at the last confident box (False), or follows each
    # prediction as the official tracker does, LOST then being only a report (True). With the
    # default model False tracks ../shared/data/sot better (success AUC 0.426 against 0.412,
    # docs/results/2026-12-08-correlation); with the one before it, False kept the demo's target
    # through its occlusions (mean IoU 0.81 against 0.40, docs/results/2026-12-07-match).
    follow_when_lost: bool = False

    def __post_init__(self) -> None:
        search_ok = self.search_factor is None or self.search_factor > 0
        if not self.template_factor > 0 or not search_ok:
            raise ValueError('crop factors must be positive')
        if self.update_interval < 1 or self.lost_patience < 1:
            raise ValueError('update_interval and lost_patience must be at least 1')
        for name in ('update_threshold', 'lost_threshold'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'{name} must lie in [0, 1]')


Config = TypeVar('Config', ModelConfig, TrackerConfig)


def network_config(spec: str) -> ModelConfig:
    """A published variant by name ('s50', 'st50', 'st101', 'lightning'), or the path of a YAML
    file of ModelConfig overrides applied to STARK-ST50 (e.g. config/models/stark_st_compact.yaml).
    """
    if spec.endswith(('.yaml', '.yml')):
        return load_yaml_overrides(model_config('st50'), spec)
    return model_config(spec)


def override(config: Config, values: dict[str, Any]) -> Config:
    """Return `config` with `values` applied; unknown keys raise ValueError."""
    known = {f.name for f in fields(config)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f'unknown {type(config).__name__} keys: {unknown}')
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return replace(config, **values)


def model_config_from_dict(values: dict[str, Any]) -> ModelConfig:
    """The ModelConfig a plain dict records (a checkpoint's metadata, an ONNX export's manifest:
    JSON, which stores tuples as lists); missing keys take the defaults, unknown keys raise
    ValueError."""
    return override(ModelConfig(), values)


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The mapping a YAML file holds (empty for an empty file); ValueError naming `what` if the
    file holds something else."""
    with open(path, encoding='utf-8') as stream:
        values = yaml.safe_load(stream) or {}
    if not isinstance(values, dict):
        raise ValueError(f'{path}: expected a mapping of {what}')
    return values


def load_yaml_overrides(config: Config, path: str | Path) -> Config:
    """Apply the mapping stored in a YAML file to `config` (see `override`)."""
    return override(config, read_yaml_mapping(path, 'overrides'))


def apply_override(values: dict[str, Any], assignment: str) -> None:
    """Apply one `dotted.key=value` assignment (value parsed as YAML) to a raw mapping in place.

    A dotted part addresses a nested mapping, created when missing, or a list item by its index
    (`datasets.0.path=/data/got10k`). Used by `stt-tracker train --override` and `eval
    --tracker-override`.

    Raises:
        ValueError: not of the form key=value, or a list index that is not a number.
        IndexError, AttributeError, TypeError: a dotted key the mapping's structure does not
            have (a list index out of range, a part below a plain value).
    """
    key, sep, text = assignment.partition('=')
    if not sep or not key:
        raise ValueError(f'override {assignment!r} is not of the form key=value')
    *parents, last = key.split('.')
    node: Any = values
    for part in parents:
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node.setdefault(part, {})
    value = yaml.safe_load(text)
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
