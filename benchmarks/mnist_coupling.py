"""Sizing chapter 4's MNIST flow for 2 CPU cores: how fast does a multi-scale coupling
flow (RealNVP's structure with Glow's steps) train, and how far does it get?

For each configuration: the time of one training step (eager; with channels_last
memory; with torch.compile), then a run of fixed wall time with the test bits/dim of
2,000 test images measured along the way.

    python benchmarks/mnist_coupling.py            # about 12 minutes per configuration
    python benchmarks/mnist_coupling.py --quick    # a smoke test (results git-ignored)
"""

import datetime
import sys
import time

import torch

import flowlib
from common import save
from flowlib import (ActNorm, Compose, Conv1x1, ConvNet, Coupling, Flow, MultiScale,
                     Sigmoid, StandardNormal, channel_mask)

QUICK = "--quick" in sys.argv
MINUTES = 0.5 if QUICK else 10
CONFIGS = [dict(K=4, hidden=64, blocks=1, batch=64)]


def glow_step(c, h, w, hidden, blocks, k):
    """ActNorm, a 1x1 convolution, and an affine coupling on half of the channels."""
    net = ConvNet(c, 2 * c, hidden, blocks)
    mask = channel_mask((c, h, w), k % 2)
    return Compose(ActNorm(c), Conv1x1(c), Coupling(mask, net))


def model(K, hidden, blocks, **_):
    levels = [Compose(*(glow_step(c, h, w, hidden, blocks, k) for k in range(K)))
              for c, h, w in ((4, 14, 14), (8, 7, 7))]
    return Flow(Compose(Sigmoid(0.05).inv, MultiScale((1, 28, 28), levels)),
                StandardNormal(1, 28, 28))


def loss(flow, batch):
    return flow.forward_kl((batch[0] + torch.rand_like(batch[0])) / 256)


@torch.no_grad()
def test_bpd(flow, x):
    bits = torch.cat([flowlib.bits_per_dim(flow, b, per_sample=True)
                      for b in x.split(500)])
    return bits.mean().item()


def step_ms(flow, x, batch, memory=torch.contiguous_format, compile=False):
    data = x.contiguous(memory_format=memory)
    flow = flow.to(memory_format=memory)
    for _ in range(2):  # the first run warms up; fit compiles every run afresh, so
        # the compiled time includes compiling, which 30 steps cannot repay
        start = time.perf_counter()
        flowlib.fit(flow, data, loss=loss, steps=30, batch_size=batch, lr=1e-3,
                    progress=False, compile=compile)
    return 1000 * (time.perf_counter() - start) / 30


def main():
    data = flowlib.mnist()
    x_train = data.x_train[:, None].float()
    x_test = data.x_test[:2000, None].float()
    rows, record = [], {"device": "cpu", "date": datetime.date.today().isoformat(),
                        "threads": torch.get_num_threads(),
                        "torch": torch.__version__, "quick": QUICK, "runs": []}
    for config in CONFIGS:
        flowlib.seed(0)
        params = sum(p.numel() for p in model(**config).parameters())
        batch = config["batch"]
        timing = {"eager": step_ms(model(**config), x_train, batch),
                  "channels_last": step_ms(model(**config), x_train, batch,
                                           torch.channels_last)}
        if not QUICK:
            timing["compiled"] = step_ms(model(**config), x_train, batch, compile=True)
        flowlib.seed(0)
        flow = model(**config)
        steps = max(60, int(MINUTES * 60_000 / timing["eager"]))
        marks = [int(steps * f) for f in (0.25, 0.5, 0.75)]
        start = time.perf_counter()
        history = flowlib.fit(flow, x_train, loss=loss, steps=steps, batch_size=batch,
                              lr=1e-3, eval_every=marks, progress=False,
                              evaluate=lambda m: (time.perf_counter() - start,
                                                  test_bpd(m, x_test)))
        curve = [(s, round(t, 1), round(b, 4)) for s, (t, b) in history["eval"]]
        run = dict(config, params=params, steps=steps, curve=curve,
                   ms_per_step={k: round(v, 1) for k, v in timing.items()})
        record["runs"].append(run)
        rows.append(f"| K={config['K']}, hidden {config['hidden']}, "
                    f"{config['blocks']} block(s), batch {batch} | {params:,} | "
                    + " / ".join(f"{v:.0f}" for v in timing.values())
                    + f" | {steps} | "
                    + ", ".join(f"{b} at {t:.0f} s" for _, t, b in curve) + " |")
        print(rows[-1], flush=True)
    header = (f"MNIST multi-scale coupling flow (2 scales, Glow steps); "
              f"{record['device']}, {record['date']} ({record['threads']} threads), "
              f"torch {record['torch']}"
              f"{', QUICK' if QUICK else ''}\n\n| model | parameters | ms per step "
              "(eager / channels_last / compiled, compiling included) | steps | "
              "test bits/dim "
              "(2,000 images) at wall time |\n|---|---|---|---|---|\n")
    save("mnist_coupling_cpu" + ("-quick" if QUICK else ""), record,
         header + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
