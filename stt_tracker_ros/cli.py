"""The `stt-tracker` command: parity check, checkpoint conversion, ONNX export, training."""
import argparse
import logging
import sys

from stt_tracker_ros.config import VARIANTS


def _verdict(check) -> str:
    """'ok' / 'FAIL' for a held item; 'info' for one only reported (reduced precision)."""
    if not check.enforced:
        return 'info'
    return 'ok' if check.passed else 'FAIL'


def _parity(args: argparse.Namespace) -> int:
    import torch

    from stt_tracker_ros.parity import run_parity

    # TF32 convolutions (cuDNN's default) would blur a float32 comparison on Ampere and later.
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False

    checks = run_parity(args.fixture, tuple(args.variants or VARIANTS), args.device,
                        getattr(torch, args.dtype))
    print(f'{"variant":8s} {"item":28s} {"max abs error":>14s} {"tolerance":>10s}  result')
    for check in checks:
        print(f'{check.variant:8s} {check.item:28s} {check.max_abs_error:14.3e} '
              f'{check.tolerance:10.1e}  {_verdict(check)}')
    failed = [c for c in checks if not c.passed]
    print(f'parity: {len(checks) - len(failed)} ok, {len(failed)} failed')
    return 1 if failed or not checks else 0


def _convert(args: argparse.Namespace) -> int:
    from stt_tracker_ros.model.checkpoint import convert_to_safetensors

    model = convert_to_safetensors(args.source, args.target, args.variant, args.half,
                                   args.fuse)
    form = ', RepVGG fused' if args.fuse else ''
    print(f'wrote {args.target} (STARK-{model.config.name.upper()}{form})')
    return 0


def _export(args: argparse.Namespace) -> int:
    from stt_tracker_ros.config import model_config
    from stt_tracker_ros.export.onnx_export import export_onnx
    from stt_tracker_ros.model.checkpoint import load_stark
    from stt_tracker_ros.model.stark import build_stark

    if args.random_weights:
        model = build_stark(model_config(args.variant or 'st50'))
    else:
        model = load_stark(args.checkpoint, args.variant)
    manifest = export_onnx(model, args.out_dir, args.opset)
    print(f'wrote {args.out_dir}/template.onnx, search.onnx and {manifest.name}')
    return 0


def _train(args: argparse.Namespace) -> int:
    import os

    from stt_tracker_ros.training.train import train
    from stt_tracker_ros.training.train_config import load_train_config

    try:
        config = load_train_config(args.config, args.override)
    except ValueError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    checkpoint = train(config)
    if os.environ.get('RANK', '0') == '0':   # one line under torchrun, not one per process
        print(f'stage {config.stage} checkpoint: {checkpoint}')
    return 0


DATASET_FORMATS = ('plain', 'got10k', 'lasot', 'trackingnet', 'coco', 'synthetic')
# What --root must hold for each format (stt_tracker_ros.data.benchmarks and .coco).
DATASET_LAYOUTS = {
    'plain': 'ROOT/NAME/img/*.jpg and ROOT/NAME/groundtruth.txt',
    'got10k': 'ROOT/val/NAME/00000001.jpg... and groundtruth.txt',
    'lasot': 'ROOT/CLASS/CLASS-N/img/ and groundtruth.txt',
    'trackingnet': 'ROOT/TRAIN_K/anno/NAME.txt and ROOT/TRAIN_K/frames/NAME/',
    'coco': 'an annotations JSON file with images/ beside it',
}


def load_sequences(fmt: str, root: str | None, limit: int | None = None) -> list:
    """Read evaluation sequences of one format (synthetic: generated, `root` unused)."""
    from stt_tracker_ros.data import benchmarks, coco, synthetic

    if fmt == 'synthetic':
        config = synthetic.SceneConfig(width=480, height=360, num_frames=60)
        sequences = [synthetic.generate_scene(config, seed).to_sequence(f'synthetic_{seed:02d}')
                     for seed in range(limit or 5)]
    elif fmt == 'coco':
        sequences = coco.read_coco(root)
    else:
        reader = {'plain': benchmarks.read_plain, 'got10k': benchmarks.read_got10k,
                  'lasot': benchmarks.read_lasot, 'trackingnet': benchmarks.read_trackingnet}
        sequences = reader[fmt](root)
    return sequences[:limit] if limit else sequences


def tracker_factory(spec: str, device: str = 'auto', config=None):
    """'csrt', 'kcf', 'stark' (default model), 'stark:PATH' or 'stark-random:VARIANT' (a variant
    or a ModelConfig YAML: an untrained network, to time it beside the others). `config` is the
    STARK trackers' TrackerConfig (None: its defaults)."""
    from stt_tracker_ros.evaluation.opencv_trackers import csrt_tracker, kcf_tracker
    from stt_tracker_ros.tracking.factory import build_tracker

    kind, _, argument = spec.partition(':')
    if kind == 'csrt':
        return csrt_tracker
    if kind == 'kcf':
        return kcf_tracker
    if kind == 'stark':
        return lambda: build_tracker(argument or None, device=device, config=config)
    if kind == 'stark-random':
        return lambda: build_tracker(None, argument or 'st50', device=device, config=config,
                                     random_weights=True)
    raise ValueError(f'unknown tracker {spec!r}: use csrt, kcf, stark[:PATH], '
                     'stark-random[:VARIANT or MODEL.yaml]')


def tracker_settings(assignments: list[str]):
    """TrackerConfig with KEY=VALUE assignments applied (values read as YAML, as `train
    --override` reads them).

    Raises:
        ValueError: not KEY=VALUE, an unknown key, or a value TrackerConfig rejects.
    """
    from stt_tracker_ros.config import TrackerConfig, apply_override, override

    values: dict = {}
    for assignment in assignments:
        apply_override(values, assignment)
    return override(TrackerConfig(), values)


def evaluation_sequences(fmt: str, root: str | None, limit: int | None = None,
                         names: list[str] | None = None) -> list:
    """`load_sequences` (only those called `names`, when given), with a one-line ValueError
    when `root` is missing, holds none, or lacks one of `names`."""
    from pathlib import Path

    if fmt != 'synthetic':
        if not root:
            raise ValueError(f'--root is needed with --format {fmt}')
        if not Path(root).exists():
            raise ValueError(f'--root {root}: no such file or folder')
    sequences = load_sequences(fmt, root, limit)
    if not sequences:
        single = fmt in ('plain', 'lasot') and (Path(root) / 'groundtruth.txt').is_file()
        hint = ('it is one sequence\'s own folder: give the folder that holds it' if single
                else f'expected {DATASET_LAYOUTS[fmt]}')
        raise ValueError(f'no sequence found in {root} for --format {fmt} ({hint})')
    if names:
        missing = sorted(set(names) - {s.name for s in sequences})
        if missing:
            raise ValueError(f'{root} holds no sequence called {", ".join(missing)}')
        sequences = [s for s in sequences if s.name in names]
    return sequences


def _eval(args: argparse.Namespace) -> int:
    from stt_tracker_ros.evaluation.report import summary_tables
    from stt_tracker_ros.evaluation.runner import evaluate

    config = tracker_settings(args.tracker_override)
    factories = {}
    for spec in args.trackers:
        name, _, rest = spec.partition('=')
        name = name if rest else spec.split(':')[0]
        factories[name] = tracker_factory(rest or spec, args.device, config)
    sequences = evaluation_sequences(args.format, args.root, args.limit, args.sequences)
    summary = evaluate(factories, sequences, args.out)
    print('\n'.join(summary_tables(summary)))
    print(f'wrote {args.out}/summary.json and plots')
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per job."""
    parser = argparse.ArgumentParser(prog='stt-tracker', description=__doc__)
    parser.add_argument('-v', '--verbose', action='store_true', help='log at debug level')
    commands = parser.add_subparsers(dest='command', required=True)

    parity = commands.add_parser('parity', help='compare our STARK with a reference fixture')
    parity.add_argument('fixture', help='stark_parity.npz or stark_lightning_parity.npz, made '
                        'with the official code')
    parity.add_argument('--variants', nargs='+', choices=tuple(VARIANTS),
                        help='model variants to check (default: all in the fixture)')
    parity.add_argument('--device', default='cpu', help="'cpu', 'cuda', ...")
    parity.add_argument('--dtype', default='float32', choices=('float32', 'bfloat16', 'float16'),
                        help='model precision; below float32 only boxes and logits are held '
                        'to a (looser) tolerance and the tracker check is skipped')
    parity.set_defaults(run=_parity)

    convert = commands.add_parser('convert', help='official checkpoint -> safetensors')
    convert.add_argument('source', help='official .pth.tar, a state dict, or safetensors')
    convert.add_argument('target', help='output .safetensors (variant kept in its metadata)')
    convert.add_argument('--variant',
                         help=f'check the file against this variant ({", ".join(VARIANTS)}), '
                         'or against a model YAML (config/models/) whose settings the output '
                         'then records (default: the file\'s own, or inferred)')
    convert.add_argument('--half', action='store_true',
                         help='store the weights as float16 (half the file; loaded as float32)')
    convert.add_argument('--fuse', action='store_true',
                         help='STARK-Lightning: store the RepVGG blocks fused (the inference '
                         'form, 9%% smaller) instead of the official training-time branches')
    convert.set_defaults(run=_convert)

    export = commands.add_parser('export', help='ONNX graphs of the template/search branches')
    export.add_argument('checkpoint', nargs='?', help='checkpoint to export')
    export.add_argument('out_dir', help='folder for template.onnx and search.onnx')
    export.add_argument('--variant', choices=tuple(VARIANTS))
    export.add_argument('--opset', type=int, default=17)
    export.add_argument('--random-weights', action='store_true',
                        help='export an untrained network (for testing the toolchain)')
    export.set_defaults(run=_export)

    evaluate = commands.add_parser('eval', help='run trackers over sequences, score, plot')
    evaluate.add_argument('--format', choices=DATASET_FORMATS, default='plain')
    evaluate.add_argument('--root', help='data set folder (COCO: the annotations json)')
    evaluate.add_argument('--trackers', nargs='+', default=['stark', 'csrt', 'kcf'],
                          help='csrt, kcf, stark[:CHECKPOINT], stark-random[:VARIANT or '
                          'MODEL.yaml] (untrained, for timing); prefix NAME= to name a result '
                          'folder')
    evaluate.add_argument('--out', default='out/eval', help='output folder')
    evaluate.add_argument('--limit', type=int, help='evaluate only the first N sequences')
    evaluate.add_argument('--sequences', nargs='+', metavar='NAME',
                          help='evaluate only these sequences (e.g. held-out training ones)')
    evaluate.add_argument('--device', default='auto')
    evaluate.add_argument('--tracker-override', action='append', default=[],
                          metavar='KEY=VALUE', help='change a STARK tracking setting '
                          '(TrackerConfig), e.g. lost_patience=1000000 to search around every '
                          'prediction as the official tracker does, or search_factor=4.5')
    evaluate.set_defaults(run=_eval)

    train = commands.add_parser('train', help='train STARK (stage 1 or 2; torchrun for DDP)')
    train.add_argument('config', help='training YAML, e.g. config/train/tiny_cpu.yaml')
    train.add_argument('--override', action='append', default=[], metavar='KEY=VALUE',
                       help='change one setting, e.g. epochs=2 or model.hidden_dim=64')
    train.set_defaults(run=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `stt-tracker`; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(levelname)s %(name)s: %(message)s')
    from stt_tracker_ros.torch_version import TorchVersionError, check_torch

    try:   # before anything imports the model code, which an old torch may not run
        check_torch()
    except TorchVersionError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    from stt_tracker_ros.model.checkpoint import CheckpointError

    try:
        return args.run(args)
    except (CheckpointError, FileNotFoundError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
