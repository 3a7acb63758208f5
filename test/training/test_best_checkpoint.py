"""The best checkpoint of a stage by its validation metric, kept beside the newest ones."""
import json

from stt_tracker_ros.training.checkpoints import best_checkpoint, keep_if_best


def test_only_a_better_value_replaces_the_best(tmp_path):
    assert best_checkpoint(tmp_path) is None
    for epoch, value in ((1, 0.30), (2, 0.45), (3, 0.41)):
        path = tmp_path / f'ckpt_ep{epoch:04d}.pth.tar'
        path.write_bytes(f'epoch {epoch}'.encode())
        kept = keep_if_best(tmp_path, path, epoch, 'val_iou', value)
        assert kept == (epoch != 3)
    assert best_checkpoint(tmp_path).read_bytes() == b'epoch 2'
    assert json.loads((tmp_path / 'best.json').read_text()) == {
        'epoch': 2, 'metric': 'val_iou', 'value': 0.45}
    assert not list(tmp_path.glob('*.partial'))
