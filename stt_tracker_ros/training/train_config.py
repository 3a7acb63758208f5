"""Training settings as frozen dataclasses, read from YAML overrides that reject unknown keys.

Defaults follow the official STARK-ST50 stage-1 recipe (researchmm/Stark, experiments/stark_st1);
a YAML file lists only what differs. Its `model` is a mapping of ModelConfig overrides or the path
of a file of them (relative to the training file, e.g. `../models/stark_st_compact.yaml`).
`key=value` overrides (the CLI's `--override`) address nested entries with dots:
`model.hidden_dim=64`, `datasets.0.path=/data/got10k`; `model=PATH` (relative to the working
directory) trains another network.
"""
import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from stt_tracker_ros.config import (ModelConfig, apply_override, model_config, override,
                                    read_yaml_mapping)

DATASET_FORMATS = ('synthetic', 'plain', 'got10k', 'lasot', 'trackingnet', 'coco')
SAMPLERS = ('causal', 'trident_pro')
PRECISIONS = ('fp32', 'bf16', 'fp16')


@dataclass(frozen=True)
class DatasetConfig:
    """One data source and its share of the samples."""

    format: str                     # one of DATASET_FORMATS
    path: str = ''                  # root folder; coco: the annotations JSON file
    ratio: float = 1.0              # relative sampling weight among the sources
    split: str = 'train'            # got10k: split folder
    subset: tuple[str, ...] = ()    # lasot, plain: names; trackingnet: chunks (empty = all)
    exclude: tuple[str, ...] = ()   # sequence names left out (e.g. held out for validation)
    images: str = ''                # coco: image folder (default: images/ beside the JSON)
    sequences: int = 100            # synthetic: number of scenes
    frames: int = 100               # synthetic: frames per scene
    image_size: tuple[int, int] = (640, 480)   # synthetic: width, height
    leave_view: float = 0.5         # synthetic: share of scenes where the target leaves the view
    seed: int = 0                   # synthetic: seed of the first scene

    def __post_init__(self) -> None:
        if self.format not in DATASET_FORMATS:
            raise ValueError(f'dataset format {self.format!r} is not one of {DATASET_FORMATS}')
        if self.format != 'synthetic' and not self.path:
            raise ValueError(f'a {self.format} dataset needs a path')
        if self.ratio <= 0:
            raise ValueError(f'dataset ratio must be positive, got {self.ratio}')


@dataclass(frozen=True)
class TrainConfig:
    """One training stage: model, data, optimisation, augmentation and bookkeeping."""

    stage: int = 1                  # 1: everything but the score head; 2: score head only
    variant: str = 'st50'           # published configuration the network starts from
    model: dict[str, Any] = field(default_factory=dict)   # ModelConfig overrides (compact nets)
    datasets: tuple[DatasetConfig, ...] = ()
    val_datasets: tuple[DatasetConfig, ...] = ()
    epochs: int = 500
    samples_per_epoch: int = 60000  # over all processes
    batch_size: int = 16            # per process (per GPU)
    num_workers: int = 8            # data-loading processes per training process
    lr: float = 1e-4
    backbone_lr_factor: float = 0.1
    weight_decay: float = 1e-4
    lr_drop_epoch: int = 400        # StepLR step
    lr_gamma: float = 0.1
    grad_clip: float = 0.1          # max global gradient norm
    giou_weight: float = 2.0
    l1_weight: float = 5.0
    precision: str = 'bf16'         # CUDA autocast dtype ('fp32': off); the CPU runs fp32
    device: str = 'auto'            # 'auto', 'cpu', 'cuda'; under torchrun each rank takes its GPU
    seed: int = 42
    output_dir: str = 'runs/stark_st50'
    init_checkpoint: str = ''       # weights to start from; stage 2 default: newest stage-1 file
    backbone_weights: str = ''      # stage 1: torchvision ResNet state dict (ImageNet)
    train_backbone_norm: bool = False  # stage 1 from scratch: every backbone layer trains, with
    #                                    BatchNorm on batch statistics (saved in the frozen layout)
    feature_bank: str = ''          # folder: the body stays frozen and its features of
    #                                  `bank_samples` samples are computed once and kept there
    bank_samples: int = 20000       # (training/feature_bank.py); validation keeps val_samples
    sampler: str = 'trident_pro'    # 'causal' (STARK-S) or 'trident_pro' (STARK-ST)
    max_gap: int = 200              # frames between template and search (dynamic template)
    min_frames: int = 20            # shorter videos are skipped (single images are kept)
    negative_prob: float = 0.5      # stage 2: share of negative search regions
    stage2_transformer: bool = False  # stage 2 also trains the transformer, with the box loss
    #                                   kept on the positives (not in the official recipe)
    score_label_iou: float = 0.0    # stage 2, > 0: a positive's label is 1 only where the
    #                                 predicted box has at least this IoU (training/step.py)
    template_factor: float = 2.0
    search_factor: float = 5.0
    template_scale_jitter: float = 0.0
    template_center_jitter: float = 0.0
    search_scale_jitter: float = 0.5
    search_center_jitter: float = 4.5
    grayscale_prob: float = 0.05
    flip_prob: float = 0.5          # for the whole sample and again for each crop
    brightness_jitter: float = 0.2
    val_samples: int = 10000
    val_tracking: bool = False      # also track val_datasets' videos at each validation, and keep
    #                                 the checkpoint with the best success AUC there as the best
    val_interval: int = 20          # epochs between validations (the last epoch always validates)
    checkpoint_interval: int = 1    # epochs between checkpoints (the last epoch always saves)
    keep_last: int = 10             # checkpoints kept besides every `keep_every`-th epoch
    keep_every: int = 100
    log_interval: int = 50          # steps between progress-line updates
    time_limit_minutes: float = 0.0  # > 0: this run stops after about this long, saving the
    #                                  epoch it was in as done (a lease-bound GPU run)

    def __post_init__(self) -> None:
        if self.stage not in (1, 2):
            raise ValueError(f'stage must be 1 or 2, got {self.stage}')
        if self.sampler not in SAMPLERS:
            raise ValueError(f'sampler {self.sampler!r} is not one of {SAMPLERS}')
        if self.precision not in PRECISIONS:
            raise ValueError(f'precision {self.precision!r} is not one of {PRECISIONS}')
        for name in ('epochs', 'samples_per_epoch', 'batch_size', 'lr_drop_epoch', 'max_gap',
                     'val_interval', 'checkpoint_interval', 'keep_last', 'keep_every',
                     'log_interval'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be at least 1')
        if self.time_limit_minutes < 0:
            raise ValueError('time_limit_minutes must not be negative')
        for name in ('negative_prob', 'score_label_iou'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'{name} must lie in [0, 1]')
        if self.val_tracking and not self.val_datasets:
            raise ValueError('val_tracking tracks the val_datasets\' videos: name some')
        if self.feature_bank and self.train_backbone_norm:
            raise ValueError('feature_bank keeps the body frozen: train_backbone_norm must be '
                             'false')
        network = self.model_config()   # raises on unknown model keys
        if self.stage == 2 and not network.score_head:
            raise ValueError('stage 2 trains the score head; the model has none')

    def model_config(self) -> ModelConfig:
        """The network: the published `variant` with the `model` overrides applied."""
        return override(model_config(self.variant), self.model)

    def to_dict(self) -> dict[str, Any]:
        """Plain python values only (for checkpoints loaded with weights_only=True)."""
        return dataclasses.asdict(self)


def _coerce(default: Any, value: Any, where: str) -> Any:
    """Convert a YAML value to the type of the field's default (YAML reads 1e-4 as a string)."""
    try:
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise TypeError
            return value
        if isinstance(default, float):
            return float(value)
        if isinstance(default, int):
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise TypeError
            return int(float(value))
        if isinstance(default, tuple):
            if not isinstance(value, (list, tuple)):
                raise TypeError
            return tuple(value)
        if isinstance(default, str):
            return '' if value is None else str(value)
    except (TypeError, ValueError):
        raise ValueError(f'{where}: cannot use {value!r} as a {type(default).__name__}') from None
    return value


def _build(cls: type, values: Any, where: str) -> Any:
    """Build dataclass `cls` from a mapping; unknown keys and ill-typed values raise ValueError."""
    if not isinstance(values, dict):
        raise ValueError(f'{where}: expected a mapping, got {type(values).__name__}')
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f'{where}: unknown {cls.__name__} keys: {unknown}')
    kwargs = {}
    for name, value in values.items():
        spec, here = known[name], f'{where}.{name}'
        if name in ('datasets', 'val_datasets'):
            if not isinstance(value, list):
                raise ValueError(f'{here}: expected a list of datasets')
            kwargs[name] = tuple(_build(DatasetConfig, item, f'{here}.{index}')
                                 for index, item in enumerate(value))
        elif name == 'model':
            if not isinstance(value, dict):
                raise ValueError(f'{here}: expected a mapping of ModelConfig overrides')
            kwargs[name] = dict(value)
        elif spec.default is not dataclasses.MISSING:
            kwargs[name] = _coerce(spec.default, value, here)
        else:
            kwargs[name] = value
    missing = [f.name for f in known.values() if f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING and f.name not in kwargs]
    if missing:
        raise ValueError(f'{where}: missing {cls.__name__} keys: {missing}')
    return cls(**kwargs)


def train_config_from_dict(values: dict[str, Any], where: str = 'train config') -> TrainConfig:
    """Build a TrainConfig from plain values (what a YAML file or a checkpoint holds)."""
    try:
        return _build(TrainConfig, values, where)
    except (IndexError, TypeError) as error:
        raise ValueError(f'{where}: {error}') from error


def _read_model_file(values: dict[str, Any], folder: Path) -> None:
    """Replace a `model` that names a file (relative to `folder`) by the mapping it holds."""
    if isinstance(values.get('model'), str):
        values['model'] = read_yaml_mapping(folder / values['model'], 'ModelConfig overrides')


def load_train_config(path: str | Path, overrides: tuple[str, ...] | list[str] = ()
                      ) -> TrainConfig:
    """Read a training YAML file and apply `key=value` overrides.

    Raises:
        ValueError: unknown keys, values of the wrong type or invalid settings.
        FileNotFoundError: no such file.
    """
    values = read_yaml_mapping(path, 'training settings')
    _read_model_file(values, Path(path).parent)
    try:
        for assignment in overrides:
            apply_override(values, assignment)
    except (IndexError, ValueError, AttributeError, TypeError) as error:
        raise ValueError(f'{path}: bad override: {error}') from error
    _read_model_file(values, Path.cwd())   # `model=PATH` given as an override
    return train_config_from_dict(values, str(path))
