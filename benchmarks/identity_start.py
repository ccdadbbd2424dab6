"""Does the identity start cost a MAF quality? Chapter 3's experiments, trained twice.

    python benchmarks/identity_start.py            # about 25 minutes on two CPU cores
    python benchmarks/identity_start.py --quick    # a smoke run: few steps, one seed

``flowlib.MAF(..., zero_last=True)`` zeroes the last layer of every MADE, so each
layer starts as the identity; zuko keeps PyTorch's random weights there, and so does
``flowlib.MAF`` by default since this script measured it better on every 2-D set
(and within the seeds' spread on the digits).
It trains the MAFs of chapter 3 (moons and 8 Gaussians with 5 and 10 layers,
8x8 digits with 5) and the MAF of ``compare.py`` on the moons, from both starts and
several seeds, and writes the mean KL (nats) or bits/dim of each to
``results/identity_start_<device>.{json,md}``. Each run is a separate process with
one thread; ``--jobs`` of them run at once.
"""

import argparse
import statistics
from concurrent.futures import ProcessPoolExecutor
from datetime import date

import torch

import common
import flowlib

# name: (data set, layers, hidden, lr, batch size, steps); chapter 3's settings, and
# compare.py's
EXPERIMENTS = {
    "moons, MAF-5": ("moons", 5, (64, 64), 2e-3, 512, 10_000),
    "moons, MAF-10": ("moons", 10, (64, 64), 2e-3, 512, 10_000),
    "8 Gaussians, MAF-5": ("8gaussians", 5, (64, 64), 2e-3, 512, 10_000),
    "8 Gaussians, MAF-10": ("8gaussians", 10, (64, 64), 2e-3, 512, 10_000),
    "8x8 digits, MAF-5 (bits/dim)": ("digits", 5, (512, 512), 1e-3, 256, 4_000),
    "moons, compare.py's MAF-5": ("moons", 5, (128, 128), 1e-3, 512, 5_000),
}
STARTS = ("identity start", "random last layer")


def maf(features, layers, hidden, start):
    return flowlib.MAF(features, layers, hidden, zero_last=start == "identity start")


def run(job):
    """Train one model; returns (experiment, start, seed, value)."""
    experiment, start, seed, quick = job
    torch.set_num_threads(1)
    name, layers, hidden, lr, batch_size, steps = EXPERIMENTS[experiment]
    steps = 50 if quick else steps
    flowlib.seed(seed)
    if name == "digits":
        x_train, x_test = common.digits()
        flow = flowlib.Flow(flowlib.Compose(flowlib.Sigmoid(0.05).inv,
                                            maf(64, layers, hidden, start)),
                            flowlib.StandardNormal(64))
        flowlib.fit(flow, x_train, steps=steps, loss=common.dequantized_nll, lr=lr,
                    batch_size=batch_size, progress=False)
        flowlib.seed(1)
        value = flowlib.bits_per_dim(flow, x_test)
    else:
        truth = flowlib.dataset(name)
        train, test = truth.sample(100_000), truth.sample(20_000)
        flowlib.seed(seed)
        flow = flowlib.Flow(maf(2, layers, hidden, start), flowlib.StandardNormal(2))
        flowlib.fit(flow, train, steps=steps, lr=lr, batch_size=batch_size,
                    progress=False)
        value = flowlib.kl_divergence(truth, flow, test)
    print(f"{experiment}, {start}, seed {seed}: {value:.4f}", flush=True)
    return experiment, start, seed, value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="50 steps and one seed: a smoke run")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="processes at once")
    args = parser.parse_args()
    seeds = range(1 if args.quick else args.seeds)
    jobs = [(e, s, seed, args.quick) for e in EXPERIMENTS for s in STARTS
            for seed in seeds]
    with ProcessPoolExecutor(args.jobs) as pool:
        values = list(pool.map(run, jobs))

    results = {e: {s: statistics.mean(v for e2, s2, _, v in values
                                      if (e2, s2) == (e, s))
                   for s in STARTS} for e in EXPERIMENTS}
    device = f"cpu ({args.jobs} single-thread processes)"
    record = {"device": device, "date": date.today().isoformat(), "quick": args.quick,
              "seeds": list(seeds), "torch": torch.__version__, "results": results,
              "runs": [list(v) for v in values]}
    lines = [f"Mean over seeds {seeds[0]}..{seeds[-1]}; {device}, {record['date']}, "
             f"torch {torch.__version__}"
             + (" (quick smoke run)" if args.quick else ""), "",
             "| experiment | " + " | ".join(STARTS) + " |", "|---|---|---|"]
    lines += [f"| {e} | " + " | ".join(f"{results[e][s]:.4g}" for s in STARTS) + " |"
              for e in EXPERIMENTS]
    common.save("identity_start_cpu" + ("-quick" if args.quick else ""), record,
                "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
