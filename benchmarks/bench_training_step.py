"""Time of one training step (forward, loss, backward, AdamW) per data path and dropout rate.

The network, stage, batch size and data come from a training YAML with the same `--override`s as
`stt-tracker train`; one real batch is made and reused. `--data images` makes it from the
datasets' frames (the body runs in every step), `--data bank` from the configuration's feature
bank (built beforehand by `stt-tracker train`; the body's features are read). Prints the median
and p95 step time (and per sample) for each combination, then the setup. Float32; on CUDA the
steps are synchronised before the clock is read.

    python benchmarks/bench_training_step.py config/train/default_stage1.yaml \
        --override model=config/models/stark_st_lite.yaml --override batch_size=16 --dropout 0.1 0
    python benchmarks/bench_training_step.py config/train/default_stage1.yaml --data images bank
"""
import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import default_collate

from bench_tracker import cpu_name
from stt_tracker_ros.config import ModelConfig
from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.training.feature_bank import BankPairs, bank_size
from stt_tracker_ros.training.optimizer import build_optimizer, prepare_for_stage, set_train_mode
from stt_tracker_ros.training.step import batch_to_device, compute_loss, forward_batch
from stt_tracker_ros.training.train import build_dataset
from stt_tracker_ros.training.train_config import TrainConfig, load_train_config


def step_seconds(config: TrainConfig, network: ModelConfig, batch: dict[str, torch.Tensor],
                 device: torch.device, steps: int, warmup: int) -> list[float]:
    """Wall time of `steps` training steps of `network` as `config` trains it."""
    torch.manual_seed(config.seed)
    model = build_stark(network)
    prepare_for_stage(model, config)
    model.to(device)
    set_train_mode(model, config.stage)
    optimizer = build_optimizer(model, config)
    times = []
    for _ in range(warmup + steps):
        started = time.perf_counter()
        loss = compute_loss(forward_batch(model, batch), batch, config.stage).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - started)
    return times[warmup:]


def main() -> None:
    """Parse arguments, time the steps, print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='training YAML (network, stage, batch size, datasets)')
    parser.add_argument('--override', action='append', default=[], metavar='KEY=VALUE')
    parser.add_argument('--dropout', type=float, nargs='+', default=[0.0])
    parser.add_argument('--data', nargs='+', choices=('images', 'bank'), default=['images'])
    parser.add_argument('--steps', type=int, default=8)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args()
    config = load_train_config(args.config, args.override)
    device = torch.device(args.device)
    network = config.model_config()
    for data in args.data:
        if data == 'bank':
            folder = Path(config.feature_bank) / 'train'
            dataset = BankPairs(folder, bank_size(folder), config.seed, config.batch_size)
        else:
            dataset = build_dataset(config, network, config.datasets)
        batch = batch_to_device(default_collate([dataset[i] for i in range(config.batch_size)]),
                                device)
        for dropout in args.dropout:
            times = step_seconds(config, dataclasses.replace(network, dropout=dropout), batch,
                                 device, args.steps, args.warmup)
            median, p95 = float(np.median(times)), float(np.percentile(times, 95))
            print(f'{network.name} stage {config.stage} batch {config.batch_size} data {data} '
                  f'dropout {dropout:g}: median {median * 1000:.0f} ms per step '
                  f'({median * 1000 / config.batch_size:.1f} ms per sample, '
                  f'{config.batch_size / median:.1f} samples/s), p95 {p95 * 1000:.0f} ms')
    setup = {'date': time.strftime('%Y-%m-%d'), 'cpu': cpu_name(),
             'cores': os.cpu_count(), 'torch_threads': torch.get_num_threads(),
             'torch': torch.__version__, 'device': args.device, 'steps': args.steps}
    if device.type == 'cuda':
        setup['gpu'] = torch.cuda.get_device_name(device)
    print('setup:', json.dumps(setup))


if __name__ == '__main__':
    main()
