"""Cost of making one training sample (frame choice, crops, augmentation) in one process.

Training on a GPU is bound by this: the data-loading workers together make about
`workers * 1000 / median_ms` samples per second. Prints the median and p95 over chunks of
samples, then the setup.

    python benchmarks/bench_training_data.py config/train/default_stage1.yaml --samples 300
"""
import argparse
import json
import os
import time

import cv2
import numpy as np
import torch

from bench_tracker import cpu_name
from stt_tracker_ros.training.train import build_dataset
from stt_tracker_ros.training.train_config import load_train_config


def main() -> None:
    """Parse arguments, time the samples, print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='training YAML (its datasets are sampled)')
    parser.add_argument('--samples', type=int, default=300)
    parser.add_argument('--chunk', type=int, default=20, help='samples per timed chunk')
    parser.add_argument('--override', action='append', default=[], metavar='KEY=VALUE')
    args = parser.parse_args()
    cv2.setNumThreads(1)     # as in a data-loading worker
    torch.set_num_threads(1)
    config = load_train_config(args.config, args.override)
    started = time.perf_counter()
    dataset = build_dataset(config, config.model_config(), config.datasets)
    build_seconds = time.perf_counter() - started
    for index in range(args.chunk):   # warm-up: first image reads, allocator
        dataset[index]
    per_sample = []
    for start in range(args.chunk, args.chunk + args.samples, args.chunk):
        began = time.perf_counter()
        for index in range(start, start + args.chunk):
            dataset[index]
        per_sample.append((time.perf_counter() - began) / args.chunk * 1000)
    median, p95 = float(np.median(per_sample)), float(np.percentile(per_sample, 95))
    print(f'{args.config}: median {median:.2f} ms per sample (p95 of {args.chunk}-sample chunks '
          f'{p95:.2f} ms), {1000 / median:.0f} samples/s per worker; datasets built in '
          f'{build_seconds:.1f} s')
    setup = {'date': time.strftime('%Y-%m-%d'), 'cpu': cpu_name(),
             'cores': os.cpu_count(), 'samples': args.samples, 'opencv': cv2.__version__,
             'torch': torch.__version__}
    print('setup:', json.dumps(setup))


if __name__ == '__main__':
    main()
