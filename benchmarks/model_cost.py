"""Size and compute of each network in the form the tracker runs: parameters, and the GFLOP of
the search branch of one frame (`torch.utils.flop_counter`; the template branch runs once per
template, not per frame). Random weights, the network's own crop sizes, float32 on the CPU.

    python benchmarks/model_cost.py --networks st101 st50 lightning default
"""
import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench_tracker import named_network
from stt_tracker_ros.config import VARIANTS
from stt_tracker_ros.model.stark import build_stark
from stt_tracker_ros.tracking.factory import prepare_for_inference


@torch.no_grad()
def search_gflop(model: torch.nn.Module) -> float:
    """GFLOP of one `search` call of `model` with its configured templates."""
    config = model.config

    def crop(size: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(1, 3, size, size), torch.zeros(1, size, size, dtype=torch.bool)

    templates = [model.encode(*crop(config.template_size))] * config.num_templates
    image, mask = crop(config.search_size)
    with FlopCounterMode(display=False) as counter:
        model.search(templates, image, mask)
    return counter.get_total_flops() / 1e9


def main() -> None:
    """Print one line per network."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--networks', nargs='+', choices=(*VARIANTS, 'default'),
                        default=['default'], help="variants by name; 'default': the shipped "
                        "model's network")
    args = parser.parse_args()
    for name in args.networks:
        network = named_network(name)
        torch.manual_seed(0)
        model = prepare_for_inference(build_stark(network).eval(), torch.device('cpu'))
        parameters = sum(p.numel() for p in model.parameters())
        print(f'{name}: {parameters / 1e6:.2f} M parameters, {search_gflop(model):.2f} GFLOP '
              f'per search frame ({network.search_size} px search crop)')


if __name__ == '__main__':
    main()
