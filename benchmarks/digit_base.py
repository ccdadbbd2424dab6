"""Which base for chapter 3's MAF on 8x8 digits: standard normal or standard logistic?

    python benchmarks/digit_base.py            # about 15 minutes on two CPU cores
    python benchmarks/digit_base.py --quick    # a smoke run: 20 steps, one seed

A normal base charges a coordinate at z a cost of z^2/2 nats, a logistic one about |z|:
a test digit that the flow extrapolates far out costs quadratically more under the
first. This script trains chapter 3's digit MAF (5 layers of [512, 512], logit eps 0.05,
lr 1e-3, batch 256) with each base, for the chapter's full-mode (4 000) and quick-mode
(300) steps and several seeds, and writes each run's mean, median and worst
per-digit bits/dim over the 10 000 test digits to ``results/digit_base_cpu.{json,md}``.
Each run is a separate process with one thread; ``--jobs`` of them run at once. The
stored results were measured with the MADEs' exact identity start, which this script
keeps (``zero_last=True``); chapter 3's MAFs now start from a random last layer.
"""

import argparse
from concurrent.futures import ProcessPoolExecutor
from datetime import date

import torch

import common
import flowlib

BASES = {"normal": flowlib.StandardNormal, "logistic": flowlib.StandardLogistic}


def run(job):
    """Train one MAF; returns (base, steps, seed, mean, median, worst) in bits/dim."""
    base, steps, seed = job
    torch.set_num_threads(1)
    x_train, x_test = common.digits()
    flowlib.seed(seed)
    flow = flowlib.Flow(flowlib.Compose(flowlib.Sigmoid(0.05).inv,
                                        flowlib.MAF(64, 5, (512, 512), zero_last=True)),
                        BASES[base](64))
    flowlib.fit(flow, x_train, steps=steps, loss=common.dequantized_nll, lr=1e-3,
                batch_size=256, progress=False)
    flowlib.seed(1)
    bits = flowlib.bits_per_dim(flow, x_test, per_sample=True)
    result = (base, steps, seed, bits.mean().item(), bits.median().item(),
              bits.max().item())
    print("{}, {} steps, seed {}: mean {:.4f}, median {:.4f}, worst {:.1f}".format(
        *result), flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="20 steps and one seed: a smoke run")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="processes at once")
    args = parser.parse_args()
    seeds = range(1 if args.quick else args.seeds)
    budgets = (20,) if args.quick else (4_000, 300)
    jobs = [(base, steps, seed) for steps in budgets for seed in seeds
            for base in BASES]
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(run, jobs))

    device = f"cpu ({args.jobs} single-thread processes)"
    record = {"device": device, "date": date.today().isoformat(), "quick": args.quick,
              "seeds": list(seeds), "torch": torch.__version__,
              "runs": [dict(zip(("base", "steps", "seed", "mean", "median", "worst"),
                                r)) for r in runs]}
    span = lambda values, f: f"{f.format(min(values))} to {f.format(max(values))}"
    lines = [f"Bits/dim of the 10 000 test digits, seeds {seeds[0]}..{seeds[-1]}; "
             f"{device}, {record['date']}, torch {torch.__version__}"
             + (" (quick smoke run)" if args.quick else ""), "",
             "| base | steps | mean | median | worst digit |", "|---|---|---|---|---|"]
    for steps in budgets:
        for base in BASES:
            mine = [r for r in runs if r[:2] == (base, steps)]
            lines.append(f"| {base} | {steps} | " + " | ".join(
                span([r[k] for r in mine], f)
                for k, f in ((3, "{:.3f}"), (4, "{:.3f}"), (5, "{:.1f}"))) + " |")
    common.save("digit_base_cpu" + ("-quick" if args.quick else ""), record,
                "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
