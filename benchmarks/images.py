"""The MNIST flows of chapters 4-6 and normflows' Glow, trained for equal wall time.

    pip install -e ".[bench]"                     # normflows, the peer
    python benchmarks/images.py                    # 3 minutes of training per model
    python benchmarks/images.py --seconds 60 --models "Glow, affine (ch. 4)"

Every model trains through the same loop (``flowlib.zoo.Race``: Adam, a cosine decay
that follows the clock, gradients clipped at 10) on the 60 000 training digits with
uniform noise or its own learned noise, batch 16, for the same training wall time, in
slices taken in turn (round-robin) so that a busy machine slows them alike. The
book's flows use their chapters' learning rate, 3e-3, and bfloat16 conditioners where
the CPU has bfloat16 instructions (evaluated in float32); normflows' Glow (two levels
of eight steps with 256-channel conditioners, as in its examples) uses 1e-3, the rate
of its examples. After each slice, off the clock, each model is scored on the first
``--curve`` test digits (the dequantization bound in bits/dim, one noise draw); at the
end on ``--test`` digits. Writes ``results/images.json`` and ``.md`` (``-quick`` for
``--quick``) and a plot of bits/dim against training time. Nothing here asserts a
time.
"""

import argparse
import math
import time
from importlib.metadata import version
from pathlib import Path

import torch
from torch import nn

import common
import flowlib
from flowlib import zoo

MARKS = (0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)
BATCH = 16


class NormflowsGlow(nn.Module):
    """normflows' Glow as in its examples, as a model of integer images whose
    ``log_prob`` is the uniform-dequantization bound, like the book's."""

    def __init__(self, L=2, K=8, hidden=256):
        super().__init__()
        import normflows as nf
        flows, merges, bases = [], [], []
        for i in range(L):
            flows.append([nf.flows.GlowBlock(2 ** (L + 1 - i), hidden,
                                             split_mode="channel", scale=True)
                          for _ in range(K)] + [nf.flows.Squeeze()])
            side = 28 // 2 ** (L - i) if i else 28 // 2 ** L
            channels = 2 ** (L - i) if i else 2 ** (L + 1)
            merges += [nf.flows.Merge()] if i else []
            bases.append(nf.distributions.GlowBase((channels, side, side)))
        self.glow = nf.MultiscaleFlow(bases, flows, merges,
                                      nf.transforms.Logit(alpha=0.05), class_cond=False)

    def log_prob(self, x):
        y = (x.float() + torch.rand_like(x.float())) / 256
        return self.glow.log_prob(y, None) - x[0].numel() * math.log(256)

    def sample(self, n):
        return (self.glow.sample(n)[0] * 256).floor().clamp(0, 255)


def build(name, bf16):
    """(model, learning rate) for a model's name."""
    if name == "normflows Glow":
        return NormflowsGlow(), 1e-3
    return zoo.IMAGE_FLOWS[name](bf16), 3e-3


def bits(model, x, chunk=250):
    """Mean bits/dim bound over integer images x, one noise draw (seed 1)."""
    flowlib.seed(1)
    with torch.no_grad():
        nats = -torch.cat([model.log_prob(b) for b in x.split(chunk)])
    return (nats.mean() / (x[0].numel() * math.log(2))).item()


def race(names, seconds, n_test, n_curve=1000, seed=0):
    digits = flowlib.mnist()
    x_train = digits.x_train[:, None].float()
    x_curve, x_test = digits.x_test[:n_curve, None], digits.x_test[:n_test, None]
    bf16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    races = {}
    for name in names:
        flowlib.seed(seed)
        model, lr = build(name, bf16)
        races[name] = zoo.Race(model, x_train, lr=lr, batch=BATCH, seconds=seconds,
                               schedule="cosine")
    curves = {name: [] for name in names}
    for mark in MARKS:
        for name, r in races.items():
            r.run(mark * seconds - r.trained)
            zoo.bf16(r.model, False)
            curves[name].append((r.trained, r.steps, bits(r.model, x_curve)))
            zoo.bf16(r.model, bf16)
    results = {}
    for name, r in races.items():
        zoo.bf16(r.model, False)
        flowlib.seed(2)
        with torch.no_grad():
            draw = getattr(r.model, "flow", r.model).sample   # Dequantized: its flow
            sampling = flowlib.seconds(lambda: draw(16), repeat=1)
        results[name] = {
            "curve": curves[name], "bits": bits(r.model, x_test), "steps": r.steps,
            "images_per_s": r.steps * BATCH / r.trained, "sample16_s": sampling,
            "parameters": sum(p.numel() for p in r.model.parameters())}
    return results


def report(results, record):
    lines = ["| model | test bits/dim | " + " | ".join(
                 f"at {m * record['seconds']:.0f} s" for m in MARKS[1:-1])
             + " | images/s | sample 16, s | parameters |",
             "|---|---|" + "---|" * (len(MARKS) - 2) + "---|---|---|"]
    for name, r in sorted(results.items(), key=lambda item: item[1]["bits"]):
        lines.append(f"| {name} | {r['bits']:.3f} | "
                     + " | ".join(f"{b:.3f}" for _, _, b in r["curve"][1:-1])
                     + f" | {r['images_per_s']:.0f} | {r['sample16_s']:.2f} | "
                     f"{r['parameters']:,} |")
    return "\n".join(lines) + (
        f"\n\n{record['seconds']:g} s of training per model, batch {BATCH}, seed "
        f"{record['seed']}; test bits/dim on {record['test']:,} digits, the columns "
        f"between on the first {record['curve']:,} (dequantization bound, one noise "
        "draw, float32); "
        f"{record['threads']} threads, {record['processor']}, torch "
        f"{record['torch']}, {record['device']}, {record['date']}.\n")


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    for name, r in results.items():
        t, _, b = zip(*r["curve"][1:])
        ax.plot(t, b, marker=".", label=name)
    ax.set(xlabel="training seconds", ylabel="bits/dim, test digits")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)


MODELS = [*zoo.IMAGE_FLOWS, "normflows Glow"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    parser.add_argument("--seconds", type=float, default=180.0,
                        help="training wall time per model")
    parser.add_argument("--test", type=int, default=10_000,
                        help="test digits scored at the end")
    parser.add_argument("--curve", type=int, default=1_000,
                        help="test digits scored after each slice")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: mark the results as such")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.seconds > 0 or not 1 <= min(args.test, args.curve) <= max(
            args.test, args.curve) <= 10_000:
        parser.error("--seconds must be positive, --test and --curve in 1..10000")
    begin = time.perf_counter()
    results = race(args.models, args.seconds, args.test, args.curve, args.seed)
    record = {**common.machine(args.quick), "seconds": args.seconds,
              "test": args.test, "curve": args.curve, "seed": args.seed, "batch": BATCH,
              "wall_s": time.perf_counter() - begin, "models": results,
              "versions": {"normflows": version("normflows")}
              if "normflows Glow" in args.models else {}}
    stem = "images" + ("-quick" if args.quick else "")
    common.save(stem, record, report(results, record), out=args.out)
    plot(results, (args.out or common.RESULTS) / f"{stem}.png")
    return record


if __name__ == "__main__":
    main()
