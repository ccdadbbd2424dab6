"""Conditioner networks: the free-form part of a flow, which computes the parameters of
the scalar transforms and never has to be inverted.

Their last layer starts at zero, so that the layer they condition starts as the identity
(Glow's choice for deep image flows).

>>> import torch
>>> ConvNet(2, 6, hidden=8)(torch.randn(3, 2, 5, 5)).abs().max().item()
0.0
"""

import torch
from torch import nn


class MLP(nn.Sequential):
    """A conditioner for vectors: ``in_features`` to ``out_features`` through ReLU
    layers of widths ``hidden``; the last layer starts at zero when ``zero_last``, so
    that a coupling layer starts as the identity."""

    def __init__(self, in_features, out_features, hidden=(64, 64), zero_last=True):
        widths = [in_features, *hidden]
        layers = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        last = nn.Linear(widths[-1], out_features)
        if zero_last:
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        super().__init__(*layers, last)


class ConvNet(nn.Module):
    """A conditioner for images: a 3x3 convolution to ``hidden`` channels, ``blocks``
    residual blocks (3x3 then 1x1 convolution), and a 3x3 convolution to
    ``out_channels``, zero at the start (so the coupling starts as the identity, as in
    Glow).

    ``bf16=True`` runs the convolutions of float32 inputs in bfloat16 (autocast) and
    returns float32: on a CPU with bfloat16 instructions it nearly halves the step
    time of an image flow (``benchmarks/mnist_coupling.py``). A flow with such
    conditioners inverts only approximately: float32 roundoff between an input and its
    reconstruction can round to different bfloat16 values. Set ``bf16`` back to False
    to evaluate, sample and invert in float32.
    """

    def __init__(self, in_channels, out_channels, hidden=64, blocks=1, bf16=False):
        super().__init__()
        self.bf16 = bf16
        self.first = nn.Conv2d(in_channels, hidden, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(hidden, hidden, 1))
            for _ in range(blocks))
        self.last = nn.Conv2d(hidden, out_channels, 3, padding=1)
        nn.init.zeros_(self.last.weight)
        nn.init.zeros_(self.last.bias)

    def forward(self, x):
        with torch.autocast(x.device.type, torch.bfloat16,
                            enabled=self.bf16 and x.dtype == torch.float32):
            h = self.first(x)
            for block in self.blocks:
                h = h + block(h)
            out = self.last(torch.relu(h))
        return out.to(x.dtype)


class WithContext(nn.Module):
    """A conditioner that also sees a ``context``: ``net`` applied to the input and the
    context side by side (features for vectors, channels for images), so that a
    coupling or autoregressive layer becomes conditional, e.g. on the integers ``x`` in
    ``Variational`` dequantization. ``net`` takes the widths of both together."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, context):
        return self.net(torch.cat([x, context.to(x.dtype)], 1))


class GatedAttentionNet(nn.Module):
    """Flow++'s conditioner for images (Ho et al., 2019), scaled down: a 3x3
    convolution to ``hidden`` channels, then ``blocks`` blocks of a gated residual
    convolution and, with ``attention``, multi-head self-attention over all positions,
    then a 3x3 convolution to ``out_channels`` that starts at zero.

    Each branch is added to the running features through a gate, ``a * sigmoid(b)``
    (a gated linear unit); the attention branch starts with a layer norm over the
    channels. Attention lets every pixel's parameters depend on the whole image in one
    layer, which convolutions reach only through depth; it sees positions through a
    learned embedding. ``bf16`` as in ``ConvNet``.
    """

    def __init__(self, in_channels, out_channels, hidden=64, blocks=1, heads=4,
                 attention=True, size=(14, 14), bf16=False):
        super().__init__()
        self.bf16, self.attention = bf16, attention
        self.first = nn.Conv2d(in_channels, hidden, 3, padding=1)
        self.convs = nn.ModuleList(
            nn.Sequential(nn.ELU(), nn.Conv2d(hidden, hidden, 3, padding=1), nn.ELU(),
                          nn.Conv2d(hidden, 2 * hidden, 1), nn.GLU(1))
            for _ in range(blocks))
        if attention:
            self.position = nn.Parameter(torch.zeros(1, hidden, *size))
            self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(blocks))
            self.attend = nn.ModuleList(
                nn.MultiheadAttention(hidden, heads, batch_first=True)
                for _ in range(blocks))
            self.gates = nn.ModuleList(nn.Linear(hidden, 2 * hidden)
                                       for _ in range(blocks))
        self.last = nn.Conv2d(hidden, out_channels, 3, padding=1)
        nn.init.zeros_(self.last.weight)
        nn.init.zeros_(self.last.bias)

    def forward(self, x):
        with torch.autocast(x.device.type, torch.bfloat16,
                            enabled=self.bf16 and x.dtype == torch.float32):
            h = self.first(x)
            for k, conv in enumerate(self.convs):
                h = h + conv(h)
                if self.attention:
                    seq = (h + self.position).flatten(2).transpose(1, 2)  # (n, HW, C)
                    seq = self.norms[k](seq)
                    seq = self.attend[k](seq, seq, seq, need_weights=False)[0]
                    gated = nn.functional.glu(self.gates[k](seq), -1)
                    h = h + gated.transpose(1, 2).view_as(h)
            out = self.last(nn.functional.elu(h))
        return out.to(x.dtype)
