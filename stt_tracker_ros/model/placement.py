"""Where a network's weights live: the device and dtype its inputs must have."""
import torch
from torch import nn


class PlacedModule(nn.Module):
    """An nn.Module whose parameters share one device and one dtype, and which says which.

    The STARK networks derive from it, so that an eager model states its device and dtype as
    the other backends of the tracker do (`tracking.backends.StarkBackend`).
    """

    @property
    def device(self) -> torch.device:
        """The device of the weights; inputs must be there too."""
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the weights; image inputs are cast to it."""
        return next(self.parameters()).dtype
