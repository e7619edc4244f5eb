"""ChannelsLastHook: the model's convolutions run in channels-last, with the same results."""
import torch
from torch import nn

from mmselfdis.engine.hooks import ChannelsLastHook


class _Runner:
    def __init__(self, model):
        self.model = model


def test_channels_last_hook_converts_the_weights_and_keeps_the_function():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Conv2d(4, 1, 3, padding=1))
    x = torch.randn(2, 2, 8, 8)
    before = model(x)
    names = set(model.state_dict())
    assert not model[0].weight.is_contiguous(memory_format=torch.channels_last)
    ChannelsLastHook().before_train(_Runner(model))
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert model[3].weight.is_contiguous(memory_format=torch.channels_last)
    out = model(x)  # NCHW inputs still work
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, before, atol=1e-5, rtol=1e-5)
    assert set(model.state_dict()) == names
