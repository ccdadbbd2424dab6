"""Chapter 5's learned dequantization noise on MNIST, next to uniform noise and two
other learned noises.

Each row trains chapter 4's two-scale Glow (K = 4 steps per scale, 64-channel
conditioners, contracting affine couplings, bfloat16 conditioners, batch 16, lr 3e-3,
cosine) from seed 0, with one kind of dequantization noise:

- uniform noise;
- the chapter's q(u | x): logit, squeeze to 4x14x14, four affine couplings on
  alternating channel halves whose 32-channel conditioners also see x;
- the same four couplings at full resolution, with checkerboard masks on 1x28x28;
- one conditional layer, squeezed: every u_i from a logistic shifted and scaled by a
  network of x alone (noise independent across pixels given x).

Each trains for the same wall time (``fit(..., seconds=...)``, whose cosine follows
the clock). It reports the step time, the steps that fit, and test bits/dim (float32)
on the first 1,000 test digits with one draw of the noise and importance-weighted
over 8 draws.

    python benchmarks/dequantization_noise.py            # about 15 minutes
    python benchmarks/dequantization_noise.py --quick    # a smoke test, git-ignored
"""

import sys

import torch
import torch.nn.functional as F

import flowlib
from common import machine, save
from flowlib import (Compose, ConvNet, Coupling, Dequantized, Flow, Sigmoid, Squeeze,
                     StandardLogistic, Variational, WithContext, channel_mask,
                     checkerboard)
from mnist_glow_choices import model as glow     # chapter 4's flow

QUICK = "--quick" in sys.argv
SECONDS = 20 if QUICK else 180          # training time per row
TEST = 100 if QUICK else 1_000          # test digits scored


class SqueezedContext(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, context):
        return self.net(torch.cat([x, F.pixel_unshuffle(context, 2)], 1))


def squeezed_noise(layers):
    shape = (4, 14, 14)
    masks = ([channel_mask(shape, k % 2) for k in range(layers)] if layers > 1
             else [torch.zeros(shape, dtype=torch.bool)])
    couplings = [Coupling(m, SqueezedContext(ConvNet(8, 8, 32, 1, bf16=True)))
                 for m in masks]
    bijector = Compose(Sigmoid().inv, Squeeze(), *couplings, Squeeze().inv)
    return Variational(Flow(bijector, StandardLogistic(1, 28, 28)))


def full_resolution_noise():
    shape = (1, 28, 28)
    couplings = [Coupling(checkerboard(shape, k % 2),
                          WithContext(ConvNet(2, 2, 32, 1, bf16=True)))
                 for k in range(4)]
    return Variational(Flow(Compose(Sigmoid().inv, *couplings),
                            StandardLogistic(*shape)))


ROWS = {"uniform": lambda: None,
        "learned, squeezed, 4 couplings (chapter 5)": lambda: squeezed_noise(4),
        "learned, full resolution, 4 couplings": full_resolution_noise,
        "learned, squeezed, 1 layer (independent pixels)": lambda: squeezed_noise(1)}


def make(noise):
    return Dequantized(glow("contracting affine"), ROWS[noise]())


def bits(model, x, samples):
    for module in model.modules():
        if isinstance(module, ConvNet):
            module.bf16 = False
    flowlib.seed(1)
    with torch.no_grad():
        return torch.cat([flowlib.bits_per_dim(model.flow, b, per_sample=True,
                                               samples=samples, noise=model.noise)
                          for b in x.split(250)]).mean().item()


def row(noise, x_train, x_test):
    flowlib.seed(0)
    model = make(noise)
    history = flowlib.fit(model, x_train, steps=10**7, batch_size=16, lr=3e-3,
                          seconds=SECONDS, progress=False)
    steps = history["step"][-1]
    return {"step_ms": 1000 * history["seconds"] / steps, "steps": steps,
            "train_s": round(history["seconds"]),
            "bpd_m1": bits(model, x_test, 1), "bpd_m8": bits(model, x_test, 8)}


def main():
    digits = flowlib.mnist()
    x_train = digits.x_train[:, None].float()
    x_test = digits.x_test[:TEST, None].float()
    record = {**machine(QUICK), "seconds": SECONDS, "rows": {}}
    for noise in ROWS:
        record["rows"][noise] = row(noise, x_train, x_test)
        print(noise, record["rows"][noise], flush=True)
    lines = [f"MNIST, chapter 4's two-scale Glow, {SECONDS} s of training each, "
             f"seed 0; test bits/dim on the first {TEST:,} test digits; "
             f"{record['processor']}, {record['threads']} threads, "
             f"torch {record['torch']}, {record['device']}, {record['date']}"
             + (", QUICK" if QUICK else ""), "",
             ("| dequantization noise | ms per step | steps | seconds "
              "| bits/dim, M = 1 | bits/dim, M = 8 |"), "|---|---|---|---|---|---|"]
    lines += [f"| {k} | {r['step_ms']:.0f} | {r['steps']} | {r['train_s']} | "
              f"{r['bpd_m1']:.3f} | {r['bpd_m8']:.3f} |"
              for k, r in record["rows"].items()]
    save("dequantization_noise_cpu" + ("-quick" if QUICK else ""), record,
         "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
