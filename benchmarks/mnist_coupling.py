"""Sizing chapter 4's MNIST flow for 2 CPU cores, and what makes it fast.

1. Speed: the time of one training step of the chapter's model (a two-scale Glow,
   K = 4 steps per scale, 64-channel conditioners with one residual block, batch 64)
   in float32, with channels_last memory, with bfloat16 conditioners, compiled, and on
   one thread. Each is the mean step time from step 10 to step 40 of one run, so the
   compiled rows exclude compiling.
2. Sizing: test bits/dim (2,000 test images) after equal wall time for a few sizes and
   learning rates, bfloat16 conditioners throughout.
3. Peers: normflows' Glow (L = 2, K = 8, 256 hidden channels, as in its examples) and
   the chapter's model, each trained for the same wall time on the same cores.

    python benchmarks/mnist_coupling.py            # about 20 minutes
    python benchmarks/mnist_coupling.py --quick    # a smoke test (results git-ignored)
"""

import datetime
import math
import sys
import time

import torch

import flowlib
from common import save
from flowlib import (ActNorm, Compose, Conv1x1, ConvNet, Coupling, Flow, MultiScale,
                     Sigmoid, StandardNormal, channel_mask)

QUICK = "--quick" in sys.argv
MINUTES = 0.2 if QUICK else 2
CHAPTER = dict(K=4, hidden=64, blocks=1, lr=3e-3)
SIZES = [dict(K=4, hidden=64, blocks=0, lr=1e-3),
         dict(K=4, hidden=64, blocks=0, lr=3e-3),
         dict(K=4, hidden=64, blocks=1, lr=1e-3), CHAPTER,
         dict(K=4, hidden=96, blocks=1, lr=3e-3),
         dict(K=8, hidden=64, blocks=1, lr=3e-3)]


def glow_step(c, h, w, hidden, blocks, bf16):
    """ActNorm, a 1x1 convolution from a random rotation, and an affine coupling that
    transforms the channels the scale factors out (the chapter's step)."""
    net = ConvNet(c, 2 * c, hidden, blocks, bf16=bf16)
    rotation = torch.linalg.qr(torch.randn(c, c))[0]
    coupling = Coupling(channel_mask((c, h, w), 1), net)
    return Compose(ActNorm(c), Conv1x1(c, rotation), coupling)


def model(K, hidden, blocks, bf16=True, **_):
    levels = [Compose(*(glow_step(c, h, w, hidden, blocks, bf16) for _ in range(K)))
              for c, h, w in ((4, 14, 14), (8, 7, 7))]
    return Flow(Compose(Sigmoid(0.05).inv, MultiScale((1, 28, 28), levels)),
                StandardNormal(1, 28, 28))


def loss(flow, batch):
    return flow.forward_kl((batch[0] + torch.rand_like(batch[0])) / 256)


@torch.no_grad()
def test_bpd(log_prob, x):
    """Bits/dim of uint8 images x under a log-density on [0, 1)^D, in chunks."""
    y = (x.float() + torch.rand(x.shape)) / 256
    nll = -torch.cat([log_prob(b) for b in y.split(500)])
    return (nll.mean() / (x[0].numel() * math.log(2)) + 8).item()


def step_ms(flow, x, memory=torch.contiguous_format, compile=False):
    flow = flow.to(memory_format=memory)
    data = x[:6400].contiguous(memory_format=memory)
    marks = {}
    flowlib.fit(flow, data, loss=loss, steps=40, batch_size=64, progress=False,
                compile=compile, eval_every=[10, 40],
                evaluate=lambda m: marks.setdefault(len(marks), time.perf_counter()))
    return 1000 * (marks[1] - marks[0]) / 30


def speed(x):
    rows = {}
    for name, bf16, memory, compile in (
            ("float32", False, torch.contiguous_format, False),
            ("float32, channels_last", False, torch.channels_last, False),
            ("bfloat16 conditioners", True, torch.contiguous_format, False),
            ("float32, compiled", False, torch.contiguous_format, True),
            ("bfloat16 conditioners, compiled", True, torch.contiguous_format, True)):
        flowlib.seed(0)
        rows[name] = step_ms(model(**CHAPTER, bf16=bf16), x, memory, compile)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    flowlib.seed(0)
    rows["bfloat16 conditioners, 1 thread"] = step_ms(model(**CHAPTER), x)
    torch.set_num_threads(threads)
    return rows


def ours_for(minutes, config, x_train, x_test, ms):
    flowlib.seed(0)
    flow = model(**config)
    steps = max(20, int(minutes * 60_000 / ms))
    start = time.perf_counter()
    flowlib.fit(flow, x_train, loss=loss, steps=steps, batch_size=64, lr=config["lr"],
                progress=False)
    seconds = time.perf_counter() - start
    for module in flow.modules():        # evaluated in float32, as in the chapter
        if isinstance(module, ConvNet):
            module.bf16 = False
    return dict(steps=steps, seconds=round(seconds), params=_params(flow),
                bpd=round(test_bpd(flow.log_prob, x_test), 4))


def normflows_for(minutes, x_train, x_test):
    """normflows' Glow as in its examples (unconditional), trained for ``minutes``."""
    import normflows as nf
    L, K, hidden = 2, 8, 256
    flows, merges, bases = [], [], []
    for i in range(L):
        flows.append([nf.flows.GlowBlock(2 ** (L + 1 - i), hidden, split_mode="channel",
                                         scale=True) for _ in range(K)]
                     + [nf.flows.Squeeze()])
        if i > 0:
            merges.append(nf.flows.Merge())
            shape = (2 ** (L - i), 28 // 2 ** (L - i), 28 // 2 ** (L - i))
        else:
            shape = (2 ** (L + 1), 28 // 2 ** L, 28 // 2 ** L)
        bases.append(nf.distributions.GlowBase(shape))
    flow = nf.MultiscaleFlow(bases, flows, merges, nf.transforms.Logit(alpha=0.05),
                             class_cond=False)
    opt = torch.optim.Adamax(flow.parameters(), lr=1e-3, weight_decay=1e-5)
    flowlib.seed(0)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < minutes * 60:
        batch = x_train[torch.randint(len(x_train), (64,))]
        opt.zero_grad()
        flow.forward_kld((batch + torch.rand_like(batch)) / 256).backward()
        opt.step()
        steps += 1
    seconds = time.perf_counter() - start
    return dict(steps=steps, seconds=round(seconds), params=_params(flow),
                bpd=round(test_bpd(lambda y: flow.log_prob(y, None), x_test), 4))


def _params(flow):
    return sum(p.numel() for p in flow.parameters())


def _name(config):
    return (f"K={config['K']}, hidden {config['hidden']}, {config['blocks']} "
            f"residual block(s), lr {config['lr']:g}")


def main():
    data = flowlib.mnist()
    x_train = data.x_train[:, None].float()
    x_test = data.x_test[:2000, None]
    record = {"device": "cpu", "date": datetime.date.today().isoformat(),
              "threads": torch.get_num_threads(), "torch": torch.__version__,
              "processor": flowlib.run_record()["processor"], "quick": QUICK,
              "minutes": MINUTES}
    record["speed_ms"] = {k: round(v, 1) for k, v in speed(x_train).items()}
    print(record["speed_ms"], flush=True)
    ms = {}
    for config in SIZES:
        flowlib.seed(0)
        ms[_name(config)] = step_ms(model(**config), x_train)
    record["sizes"] = {name: ours_for(MINUTES, config, x_train, x_test, ms[name])
                       for name, config in zip(ms, SIZES)}
    print(record["sizes"], flush=True)
    record["peers"] = {
        "flowlib, the chapter's model": record["sizes"][_name(CHAPTER)],
        "normflows Glow (L=2, K=8, 256 hidden)":
            normflows_for(MINUTES, x_train, x_test)}
    lines = [f"MNIST, two-scale Glow; {record['processor']}, "
             f"{record['threads']} threads, torch {record['torch']}, {record['date']}"
             + (", QUICK" if QUICK else ""), "",
             "| training step of the chapter's model (batch 64) | ms |", "|---|---|"]
    lines += [f"| {k} | {v:.0f} |" for k, v in record["speed_ms"].items()]
    for title, rows in (("size and learning rate (bfloat16 conditioners)", "sizes"),
                        ("library, at equal wall time", "peers")):
        lines += ["", f"| {title} | parameters | steps in {MINUTES:g} min | "
                  "test bits/dim (2,000 images) |", "|---|---|---|---|"]
        lines += [f"| {k} | {r['params']:,} | {r['steps']} | {r['bpd']:.3f} |"
                  for k, r in record[rows].items()]
    save("mnist_coupling_cpu" + ("-quick" if QUICK else ""), record,
         "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
