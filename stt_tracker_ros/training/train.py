"""The training loop of one stage: `train(config)`, behind `stt-tracker train CONFIG.yaml`.

Reads top to bottom: processes and seeds, network and initial weights, optimiser and resume,
data, then per epoch: train, validate, log, checkpoint. Under torchrun every process runs this;
the network is wrapped in DistributedDataParallel and only rank 0 writes files.
"""
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from stt_tracker_ros.config import ModelConfig
from stt_tracker_ros.model.checkpoint import CheckpointError
from stt_tracker_ros.model.efficientnet_lite import imagenet_weights_path
from stt_tracker_ros.model.stark import Stark, build_stark
from stt_tracker_ros.training.backbone_norm import thawed_layout
from stt_tracker_ros.training.checkpoints import (best_checkpoint, checkpoint_path,
                                                  keep_if_best, latest_checkpoint,
                                                  load_backbone_weights, load_checkpoint,
                                                  load_initial_weights, prune_checkpoints,
                                                  save_checkpoint, stage_dir)
from stt_tracker_ros.training.dataset import PairDataset
from stt_tracker_ros.training.feature_bank import BankPairs, bank_layout, build_feature_bank
from stt_tracker_ros.training.distributed import (DistributedContext, ShardSampler,
                                                  all_reduce_sum, setup_distributed,
                                                  teardown_distributed)
from stt_tracker_ros.training.logbook import CsvLog, ProgressLine
from stt_tracker_ros.training.optimizer import (build_optimizer, build_scheduler,
                                                prepare_for_stage, set_train_mode)
from stt_tracker_ros.training.processing import Augmentation, CropSpec, PairProcessor
from stt_tracker_ros.training.sampler import FrameSampler
from stt_tracker_ros.training.sources import load_sources
from stt_tracker_ros.training.step import (batch_to_device, compute_loss, forward_batch,
                                           validation_sums)
from stt_tracker_ros.training.tracking_validation import trackable, tracking_auc
from stt_tracker_ros.training.train_config import DatasetConfig, TrainConfig

log = logging.getLogger(__name__)

BANK_NEGATIVE_PROB = 0.3   # negatives among a feature bank's samples (used by stage 2 only)


def build_dataset(config: TrainConfig, network: ModelConfig, datasets: tuple[DatasetConfig, ...],
                  validation: bool = False, negative_prob: float | None = None,
                  length: int | None = None) -> PairDataset:
    """Samples of `datasets` for `network`; validation crops get jitter but no augmentation.

    `negative_prob` defaults to the stage's (0 in stage 1); `length` to the run's samples (all
    epochs' for training, `val_samples` for validation).
    """
    if negative_prob is None:
        negative_prob = config.negative_prob if config.stage == 2 else 0.0
    sources, ratios = load_sources(datasets)
    sampler = FrameSampler(sources, ratios, network.num_templates, config.sampler,
                           config.max_gap, config.min_frames, negative_prob)
    template, search = crop_specs(config, network)
    augmentation = (Augmentation(0.0, 0.0, 0.0) if validation else
                    Augmentation(config.grayscale_prob, config.flip_prob,
                                 config.brightness_jitter))
    processor = PairProcessor(template, search, augmentation, network.stride)
    if validation:
        return PairDataset(sampler, processor, config.seed + 1, length or config.val_samples)
    return PairDataset(sampler, processor, config.seed,
                       length or config.epochs * config.samples_per_epoch)


def crop_specs(config: TrainConfig, network: ModelConfig) -> tuple[CropSpec, CropSpec]:
    """How the run cuts its template and search crops."""
    return (CropSpec(config.template_factor, network.template_size,
                     config.template_scale_jitter, config.template_center_jitter),
            CropSpec(config.search_factor, network.search_size, config.search_scale_jitter,
                     config.search_center_jitter))


def build_datasets(config: TrainConfig, network: ModelConfig, model: Stark
                   ) -> tuple[Dataset, Dataset | None]:
    """The training and validation sets (None without val_datasets): crops of the frames, or
    with `feature_bank` pairs of the frozen body's features, banked first where missing."""
    has_val = bool(config.val_datasets)
    if not config.feature_bank:
        return (build_dataset(config, network, config.datasets),
                build_dataset(config, network, config.val_datasets, validation=True)
                if has_val else None)
    negatives = config.negative_prob if config.stage == 2 else 0.0
    body = model.backbone[0].body
    layout = bank_layout(network.backbone, body.out_channels, network.stride,
                         network.num_templates, *crop_specs(config, network))
    banks = []
    for name, datasets, count in (('train', config.datasets, config.bank_samples),
                                  ('val', config.val_datasets, config.val_samples)):
        if not datasets:
            continue
        # One bank serves both stages: it holds BANK_NEGATIVE_PROB negatives either way.
        samples = build_dataset(config, network, datasets, validation=name == 'val',
                                negative_prob=BANK_NEGATIVE_PROB, length=count)
        banks.append(build_feature_bank(Path(config.feature_bank) / name, samples, body, layout,
                                        count, num_workers=config.num_workers))
    train_set = BankPairs(banks[0], config.bank_samples, config.seed,
                          config.epochs * config.samples_per_epoch, negatives)
    return train_set, BankPairs(banks[1], config.val_samples, config.seed + 1,
                                config.val_samples, negatives) if has_val else None


def initialise_weights(model: Stark, config: TrainConfig) -> None:
    """Stage 1: ImageNet body weights (given, or the installed EfficientNet-Lite0 ones for that
    body unless `init_checkpoint` brings a body) and/or STARK weights to fine-tune (the score
    head, which stage 1 does not train, may be of another width; a corner head given the target
    correlation starts from one without it). Stage 2: `init_checkpoint`, else stage 1's best
    checkpoint by validation IoU, else its newest.

    Raises:
        CheckpointError: stage 2 without a stage-1 checkpoint, or unusable weight files.
    """
    if config.stage == 1:
        lite_body = model.config.backbone == 'efficientnet_lite0'
        if config.backbone_weights or (lite_body and not config.init_checkpoint):
            load_backbone_weights(model, config.backbone_weights or imagenet_weights_path())
        if config.init_checkpoint:
            load_initial_weights(model, config.init_checkpoint, allow_missing='cls_head.',
                                 widen='box_head.conv1_')
        return
    stage1 = stage_dir(config.output_dir, 1)
    path = config.init_checkpoint or best_checkpoint(stage1) or latest_checkpoint(stage1)
    if not path:
        raise CheckpointError(f'{stage_dir(config.output_dir, 1)}: stage 2 starts from a stage-1 '
                              'checkpoint; none found there and init_checkpoint is empty')
    load_initial_weights(model, path, allow_missing='cls_head.')


def _epoch_seed(seed: int, rank: int, epoch: int) -> int:
    """Dropout seed of one epoch on one process: a resumed run repeats an uninterrupted one."""
    return int(np.random.SeedSequence([seed, rank, epoch]).generate_state(1)[0])


def _quiet_worker(_: int) -> None:
    """A data-loading worker uses one OpenCV thread: the workers already fill the cores."""
    cv2.setNumThreads(1)


def _autocast(config: TrainConfig, device: torch.device
              ) -> Callable[[], contextlib.AbstractContextManager]:
    """A factory of autocast contexts: bf16/fp16 on CUDA as configured, nothing on the CPU."""
    if device.type != 'cuda' or config.precision == 'fp32':
        return contextlib.nullcontext
    dtype = torch.bfloat16 if config.precision == 'bf16' else torch.float16
    return lambda: torch.autocast('cuda', dtype=dtype)


class _Trainer:
    """The state one stage needs across epochs."""

    def __init__(self, config: TrainConfig, context: DistributedContext):
        self.config, self.context = config, context
        self.network = config.model_config()
        self.folder = stage_dir(config.output_dir, config.stage)
        device = context.device
        if device.type == 'cuda':
            torch.backends.cudnn.benchmark = True   # fixed crop sizes: pick the fastest kernels
        torch.manual_seed(config.seed)   # the same initial weights on every process
        self.model = build_stark(self.network)
        resume = latest_checkpoint(self.folder)
        if resume is None:
            initialise_weights(self.model, config)
        self.thawed = prepare_for_stage(self.model, config)
        self.model.to(device)
        self.optimizer = build_optimizer(self.model, config)
        self.scaler = torch.amp.GradScaler(
            device.type, enabled=device.type == 'cuda' and config.precision == 'fp16')
        self.start_epoch = 1
        self.last_checkpoint = resume
        if resume is not None:
            self._resume(resume)
        self.scheduler = build_scheduler(self.optimizer, config, self.start_epoch - 1)
        self.wrapped = (DistributedDataParallel(
            self.model, device_ids=[device.index] if device.type == 'cuda' else None)
            if context.distributed else self.model)
        self.autocast = _autocast(config, device)
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]

    def _resume(self, path: Path) -> None:
        """Weights, optimiser moments and the epoch from `path`; the learning rates, weight decay
        and schedule stay those of the configuration, so a resumed run can change them."""
        state = load_checkpoint(path)
        configured = [{k: v for k, v in group.items() if k != 'params'}
                      for group in self.optimizer.param_groups]
        try:
            net = thawed_layout(self.model, state['net']) if self.thawed else state['net']
            self.model.load_state_dict(net)
            self.optimizer.load_state_dict(state['optimizer'])
        except (RuntimeError, ValueError, KeyError) as error:
            raise CheckpointError(f'{path}: cannot resume this configuration from it: '
                                  f'{error}') from error
        for group, settings in zip(self.optimizer.param_groups, configured):
            group.update(settings, initial_lr=settings['lr'])   # the schedule's starting rates
        if state.get('scaler'):
            self.scaler.load_state_dict(state['scaler'])
        self.start_epoch = int(state['epoch']) + 1
        log.info('resuming stage %d from %s (epoch %d done)', self.config.stage, path,
                 self.start_epoch - 1)

    def loader(self, dataset: PairDataset, sampler: ShardSampler,
               drop_last: bool = True) -> DataLoader:
        """Batches of this process's shard, pinned for a GPU.

        Training drops an incomplete last batch (every process must run the same steps).
        """
        workers = self.config.num_workers
        return DataLoader(dataset, self.config.batch_size, sampler=sampler,
                          num_workers=workers, drop_last=drop_last,
                          pin_memory=self.context.device.type == 'cuda',
                          worker_init_fn=_quiet_worker if workers else None,
                          persistent_workers=workers > 0)

    def train_epoch(self, epoch: int, loader: DataLoader, deadline: float = float('inf')
                    ) -> tuple[dict[str, float], int]:
        """One pass over the epoch's shard, cut short at `deadline` (time.perf_counter()).

        Returns the mean statistics over all processes and the number of steps run.
        """
        config, context = self.config, self.context
        set_train_mode(self.model, config.stage)
        torch.manual_seed(_epoch_seed(config.seed, context.rank, epoch))
        samples_per_step = config.batch_size * context.world_size
        progress = ProgressLine(epoch, config.epochs, len(loader), enabled=context.is_main)
        totals: dict[str, torch.Tensor] = {}
        steps = 0
        for steps, batch in enumerate(loader, start=1):
            batch = batch_to_device(batch, context.device)
            with self.autocast():
                output = forward_batch(self.wrapped, batch)
            result = compute_loss(output, batch, config.stage, config.giou_weight,
                                  config.l1_weight, config.stage2_transformer,
                                  config.score_label_iou)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(result.loss).backward()
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.trainable, config.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            for name, value in result.stats.items():
                totals[name] = totals.get(name, 0.0) + value
            if steps % config.log_interval == 0 and context.is_main and progress.interactive:
                # .item() waits for the device: only at log time.
                progress.update(steps, steps * samples_per_step,
                                {k: (v / steps).item() for k, v in totals.items()})
            if _past(deadline, context):
                break
        if not steps:
            raise ValueError('an epoch has no complete batch: raise samples_per_epoch or lower '
                             'batch_size')
        names = sorted(totals)
        means = all_reduce_sum(torch.stack([totals[n] / steps for n in names]), context)
        values = dict(zip(names, (means / context.world_size).tolist()))
        progress.close(steps, steps * samples_per_step, values)
        return values, steps

    @torch.no_grad()
    def validate(self, loader: DataLoader) -> tuple[float, float | None]:
        """(mean IoU of positives, score accuracy or None in stage 1) over all processes."""
        self.model.eval()
        sums = torch.zeros(4, dtype=torch.float64, device=self.context.device)
        for batch in loader:
            batch = batch_to_device(batch, self.context.device)
            with self.autocast():
                output = forward_batch(self.model, batch)
            sums += validation_sums(output, batch, self.config.score_label_iou)
        iou, positives, correct, count = all_reduce_sum(sums, self.context).tolist()
        accuracy = correct / max(count, 1.0) if self.config.stage == 2 else None
        return iou / max(positives, 1.0), accuracy

    def save(self, epoch: int) -> None:
        """The main process writes epoch `epoch`'s checkpoint and drops old ones."""
        path = checkpoint_path(self.folder, epoch)
        self.last_checkpoint = path
        if not self.context.is_main:
            return
        state = {'optimizer': self.optimizer.state_dict(),
                 'scaler': self.scaler.state_dict() if self.scaler.is_enabled() else {}}
        save_checkpoint(path, self.model, epoch, state, self.network, self.config.to_dict())
        prune_checkpoints(self.folder, self.config.keep_last, self.config.keep_every)


def _past(deadline: float, context: DistributedContext) -> bool:
    """Whether `deadline` has passed on the main process (all processes agree, so DDP stays in
    step)."""
    if not context.distributed:
        return time.perf_counter() > deadline
    flag = torch.tensor([float(time.perf_counter() > deadline)], device=context.device)
    torch.distributed.broadcast(flag, 0)
    return bool(flag.item())


def train(config: TrainConfig) -> Path:
    """Run (or resume) one training stage to `config.epochs`.

    Returns:
        The newest checkpoint of the stage.

    Raises:
        ValueError: no training data, or an epoch without a full batch.
        CheckpointError: stage 2 without stage-1 weights, or an unusable checkpoint.
    """
    if not config.datasets:
        raise ValueError('the training configuration names no datasets')
    context = setup_distributed(config.device)
    try:
        return _run(config, context)
    finally:
        teardown_distributed(context)


def _run(config: TrainConfig, context: DistributedContext) -> Path:
    trainer = _Trainer(config, context)
    if trainer.start_epoch > config.epochs:
        log.info('stage %d already trained to epoch %d', config.stage, config.epochs)
        return trainer.last_checkpoint
    network = trainer.network
    if config.feature_bank and context.distributed:
        raise ValueError('feature_bank trains in one process; run it without torchrun')
    train_set, val_set = build_datasets(config, network, trainer.model)
    train_sampler = ShardSampler(config.samples_per_epoch, context.rank, context.world_size)
    train_loader = trainer.loader(train_set, train_sampler)
    val_loader = None
    if val_set is not None:
        val_loader = trainer.loader(
            val_set,
            ShardSampler(config.val_samples, context.rank, context.world_size, per_epoch=False),
            drop_last=False)
    val_videos = []
    if config.val_tracking:
        val_videos = trackable([s for source in load_sources(config.val_datasets)[0]
                                for s in source])
        if not val_videos:
            raise ValueError('val_tracking: val_datasets hold no video to track')
    csv_log = CsvLog(trainer.folder / 'log.csv') if context.is_main else None
    if context.is_main:
        log.info('stage %d: %s, epochs %d-%d, %d samples per epoch, %d process(es) on %s',
                 config.stage, network.name, trainer.start_epoch, config.epochs,
                 config.samples_per_epoch, context.world_size, context.device)
    deadline = (time.perf_counter() + 60.0 * config.time_limit_minutes
                if config.time_limit_minutes > 0 else float('inf'))
    for epoch in range(trainer.start_epoch, config.epochs + 1):
        started = time.perf_counter()
        train_sampler.set_epoch(epoch)
        lr = trainer.optimizer.param_groups[0]['lr']
        stats, steps = trainer.train_epoch(epoch, train_loader, deadline)
        stopped = steps < len(train_loader)
        train_seconds = time.perf_counter() - started
        trainer.scheduler.step()
        val_iou = val_accuracy = val_auc = None
        last = epoch == config.epochs or stopped
        if val_loader is not None and (epoch % config.val_interval == 0 or last):
            val_iou, val_accuracy = trainer.validate(val_loader)
            if val_videos and context.is_main:
                val_auc = tracking_auc(trainer.model, val_videos, config.stage == 2)
                log.info('stage %d, epoch %d: success AUC %.4f tracking %d validation videos',
                         config.stage, epoch, val_auc, len(val_videos))
        if csv_log is not None:
            csv_log.write({**stats, 'epoch': epoch,
                           'step': (epoch - 1) * len(train_loader) + steps, 'lr': lr,
                           'val_iou': val_iou, 'val_accuracy': val_accuracy,
                           'val_auc': val_auc,
                           'samples_per_s': steps * config.batch_size * context.world_size
                           / train_seconds, 'seconds': time.perf_counter() - started})
        if epoch % config.checkpoint_interval == 0 or last:
            trainer.save(epoch)
            if val_videos:
                metric, best = 'val_auc', val_auc
            else:
                metric, best = (('val_iou', val_iou) if config.stage == 1
                                else ('val_accuracy', val_accuracy))
            if best is not None and context.is_main and keep_if_best(
                    trainer.folder, trainer.last_checkpoint, epoch, metric, best):
                log.info('stage %d: epoch %d is the best so far (%s %.4f)', config.stage, epoch,
                         metric, best)
        if stopped:
            if context.is_main:
                log.info('stage %d: time limit of %.1f min reached in epoch %d',
                         config.stage, config.time_limit_minutes, epoch)
            break
    if context.is_main:
        log.info('stage %d finished: %s', config.stage, trainer.last_checkpoint)
    return trainer.last_checkpoint
