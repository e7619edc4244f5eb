"""MixStyle (Zhou et al., ICLR 2021): mix feature statistics between samples, training only."""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptMultiConfig
from torch import Tensor, nn

__all__ = ['MixStyle', 'MixStyleBackbone']


@MODELS.register_module()
class MixStyle(nn.Module):
    """Mix the channel-wise mean and standard deviation of features between samples.

    In training, with probability ``p`` per batch, every sample's feature map
    is normalised by its own per-channel mean and standard deviation (both
    detached) and re-scaled with a convex combination of its statistics and
    those of another sample of the batch, weight ``lam ~ Beta(alpha,
    alpha)`` per sample (Zhou et al., "Domain Generalization with MixStyle",
    ICLR 2021). Instance statistics of early features carry style (lighting,
    texture); the spatial layout, and so the pose, is untouched: a label-exact
    appearance augmentation inside the network. In evaluation it is the
    identity.

    Args:
        p (float): Probability of mixing a batch. Defaults to 0.5.
        alpha (float): Parameter of the Beta distribution. Defaults to 0.1.
        eps (float): Added to the variance. Defaults to 1e-6.
        mix (str): ``'random'`` (partners by a random permutation of the
            batch) or ``'crossdomain'`` (the two halves of the batch swap
            partners, reversed). Defaults to ``'random'``.

    Note:
        - input/output: ``(N, C, H, W)``
    """

    def __init__(self, p: float = 0.5, alpha: float = 0.1, eps: float = 1e-6,
                 mix: str = 'random') -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f'MixStyle: p must be in [0, 1], got {p}')
        if not alpha > 0:
            raise ValueError(f'MixStyle: alpha must be > 0, got {alpha}')
        if mix not in ('random', 'crossdomain'):
            raise ValueError(f"MixStyle: mix must be 'random' or 'crossdomain', got {mix!r}")
        self.p = float(p)
        self.alpha = float(alpha)
        self.eps = float(eps)
        self.mix = mix
        self.beta = torch.distributions.Beta(torch.tensor(self.alpha), torch.tensor(self.alpha))

    def extra_repr(self) -> str:
        return f'p={self.p}, alpha={self.alpha}, eps={self.eps}, mix={self.mix!r}'

    def partners(self, n: int, device: torch.device) -> Tensor:
        """Index of each sample's partner in a batch of ``n``."""
        if self.mix == 'random':
            return torch.randperm(n, device=device)
        perm = torch.arange(n - 1, -1, -1, device=device)
        half = n // 2
        a, b = perm[:half], perm[half:]
        return torch.cat([b[torch.randperm(b.numel(), device=device)],
                          a[torch.randperm(a.numel(), device=device)]])

    def forward(self, x: Tensor) -> Tensor:
        """Mix the statistics (training, probability ``p``); else return ``x``."""
        if not self.training or x.size(0) < 2 or float(torch.rand(())) >= self.p:
            return x
        n = x.size(0)
        mu = x.mean(dim=(2, 3), keepdim=True).detach()
        sig = (x.var(dim=(2, 3), keepdim=True) + self.eps).sqrt().detach()
        normed = (x - mu) / sig
        lam = self.beta.sample((n, 1, 1, 1)).to(x)
        perm = self.partners(n, x.device)
        mu_mix = lam * mu + (1 - lam) * mu[perm]
        sig_mix = lam * sig + (1 - lam) * sig[perm]
        return normed * sig_mix + mu_mix


@MODELS.register_module()
class MixStyleBackbone(BaseModule):
    """Any backbone with :class:`MixStyle` after some of its modules.

    ``backbone`` is built as configured; a forward hook on each module named
    in ``after`` (e.g. ``'stages.0'`` of :class:`UNetEncoder`, ``'layer1'`` of
    MMPose's ResNet) passes its output through MixStyle. The paper inserts it
    after the first two or three stages. Outputs and parameters are the
    backbone's (MixStyle has none), so the head is configured as for the
    backbone alone.

    Example::

        model = dict(backbone=dict(type='MixStyleBackbone',
                                   backbone=dict(type='UNetEncoder', ...),
                                   after=('stages.0', 'stages.1'),
                                   mixstyle=dict(p=0.5, alpha=0.1)))

    Args:
        backbone (dict): The backbone's config.
        after (Sequence[str]): Names of the backbone's modules (as in
            ``named_modules()``) whose outputs are mixed.
        mixstyle (dict, optional): Arguments of :class:`MixStyle`.
        init_cfg (dict, optional): Initialisation config.

    Raises:
        ValueError: ``after`` is empty or names a module the backbone lacks
            (the message lists the candidates).
    """

    def __init__(self,
                 backbone: ConfigType,
                 after: Sequence[str] = ('stages.0', 'stages.1'),
                 mixstyle: Optional[dict] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if not after:
            raise ValueError('MixStyleBackbone: after must name at least one module')
        modules = dict(self.backbone.named_modules())
        missing = [name for name in after if name not in modules]
        if missing:
            top = [n for n in modules if n and n.count('.') <= 1][:12]
            raise ValueError(f'MixStyleBackbone: the backbone has no module {missing}; '
                             f'choose among e.g. {top}')
        self.after = tuple(after)
        self.mixstyle = MixStyle(**(mixstyle or {}))
        for name in self.after:
            modules[name].register_forward_hook(self._mix_output)

    def _mix_output(self, module: nn.Module, inputs, output):
        if isinstance(output, Tensor):
            return self.mixstyle(output)
        return output

    def forward(self, x: Tensor):
        """The backbone's forward, with the mixing hooks active in training."""
        return self.backbone(x)
