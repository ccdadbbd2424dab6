"""How good is a density model? Measured in nats against the truth where it is known.

>>> import torch, flowlib
>>> truth = flowlib.dataset("bimodal")
>>> kl_divergence(truth, truth.log_prob, truth.sample(1000))
0.0
"""

import torch


@torch.no_grad()
def kl_divergence(truth, log_prob, x):
    """KL(truth || model) = E_truth[log p(x) - log q(x)], averaged over ``x`` drawn from the truth.

    ``log_prob`` is the model's log-density function. This paired estimate equals the
    test NLL minus the entropy of the truth, and has a far smaller Monte-Carlo error than
    either term alone when the model is good.
    """
    return (truth.log_prob(x) - log_prob(x)).mean().item()


@torch.no_grad()
def nll(log_prob, x):
    """Negative mean log-likelihood of ``x`` in nats."""
    return -log_prob(x).mean().item()
