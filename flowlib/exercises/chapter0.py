"""Checkers for chapter 0's exercises."""

import math

import torch

from ._base import _checker, _result, _verdict


@_checker
def check_logit_normal_log_prob(log_prob):
    """Chapter 0: ``log_prob(x, loc, scale)`` is the log-density, at each entry of a 1-D
    tensor ``x`` in (0, 1), of the flow ``z = (logit(x) - loc) / scale`` with a
    standard-normal base."""
    from .. import Affine, Compose, Flow, Sigmoid, StandardNormal
    x = torch.tensor([0.01, 0.3, 0.5, 0.9, 0.999], dtype=torch.float64)
    for loc, scale in ((0.0, 1.0), (1.5, 0.4), (-2.0, 3.0)):
        affine = Affine(1)
        with torch.no_grad():
            affine.loc.fill_(loc)
            affine.log_scale.fill_(math.log(scale))
        flow = Flow(Compose(Sigmoid().inv, affine), StandardNormal(1)).double()
        with torch.no_grad():
            want = flow.log_prob(x[:, None])
        got = _result(log_prob(x.clone(), loc, scale))
        _verdict(got.shape == x.shape,
                 f"expected one value per x, shape {tuple(x.shape)}, "
                 f"got {tuple(got.shape)}")
        _verdict(torch.allclose(got, want),
                 f"for loc = {loc}, scale = {scale} and x = {x.tolist()} you return "
                 f"{got.tolist()}, expected {want.tolist()} (both steps, the logit and "
                 "the affine map, contribute a log-derivative)")
    print("Correct: log N(z) - log scale - log x - log(1 - x), as flow.log_prob "
          "computes.")
