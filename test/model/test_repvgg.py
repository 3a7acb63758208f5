"""A fused RepVGG block computes what its training-time branches compute."""
import pytest
import torch
from torch import nn

from stt_tracker_ros.model.backbone import FrozenBatchNorm2d
from stt_tracker_ros.model.repvgg import RepVGGBlock, RepVGGBody, fuse_repvgg


def _randomise_norms(module: nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial statistics and affine parameters."""
    generator = torch.Generator().manual_seed(seed)
    for norm in module.modules():
        if isinstance(norm, (nn.BatchNorm2d, FrozenBatchNorm2d)):
            count = norm.running_mean.numel()
            with torch.no_grad():
                norm.weight.copy_(1 + 0.3 * torch.randn(count, generator=generator))
                norm.bias.copy_(0.2 * torch.randn(count, generator=generator))
                norm.running_mean.copy_(0.3 * torch.randn(count, generator=generator))
                norm.running_var.copy_(0.5 + torch.rand(count, generator=generator))


@pytest.mark.parametrize('in_channels, out_channels, stride, norm', [
    (8, 8, 1, nn.BatchNorm2d),        # identity branch, trainable BN (the corner head's)
    (8, 8, 1, FrozenBatchNorm2d),     # identity branch, frozen BN (the backbone's)
    (8, 16, 2, FrozenBatchNorm2d),    # first block of a stage: no identity
])
def test_fused_block_equals_its_branches(in_channels, out_channels, stride, norm):
    block = RepVGGBlock(in_channels, out_channels, stride, norm).eval()
    _randomise_norms(block)
    x = torch.randn(2, in_channels, 12, 12, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = block(x)
        block.fuse()
        fused = block(x)
        block.fuse()   # a second fuse changes nothing
        again = block(x)
    assert set(block.state_dict()) == {'rbr_reparam.weight', 'rbr_reparam.bias'}
    assert fused.shape == (2, out_channels, 12 // stride, 12 // stride)
    torch.testing.assert_close(fused, expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(again, fused)


def test_identity_branch_only_where_the_shape_allows():
    assert RepVGGBlock(8, 8, 1).rbr_identity is not None
    assert RepVGGBlock(8, 16, 1).rbr_identity is None
    assert RepVGGBlock(8, 8, 2).rbr_identity is None


def test_body_is_repvgg_a0_cut_after_four_blocks_of_stage3():
    body = RepVGGBody((2, 4, 4), 48).eval()
    _randomise_norms(body, seed=3)
    assert [len(body.stage1), len(body.stage2), len(body.stage3)] == [2, 4, 4]
    assert body.out_channels == 192
    image = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = body(image)
        fuse_repvgg(body)
        fused = body(image)
    assert expected.shape == (1, 192, 8, 8)   # stride 16
    assert not [k for k in body.state_dict() if 'rbr_dense' in k or 'rbr_identity' in k]
    torch.testing.assert_close(fused, expected, atol=1e-4, rtol=1e-4)
