"""The checkerboard at 60 s: can other settings bring the spline AR to 0.005 nats?

    python benchmarks/checkerboard.py            # about 21 minutes on two CPU cores
    python benchmarks/checkerboard.py --quick    # a smoke run: short budgets, one seed

On the checkerboard, ``density2d.py`` leaves the book's best flow there, chapter 6's
spline AR (``zoo.FLOWS``: five layers of 32 bins, MADE conditioners of 64 + 64 units,
learning rate 5e-3, batch 512), above 0.005 nats after 60 s. This script measures
whether that is a matter of settings. It trains the zoo's configuration and variants
that change the learning rate, the batch, the depth, the width or the bins, each
through ``zoo.Race`` (schedule-free Adam, as in the race) for a short budget from
three seeds, and grades KL(truth || flow) on 20 000 test points along the way. Then
it trains the zoo's configuration and the best variant of the short runs (the one
with the lowest mean KL at their end) for a long budget, from seed 0, to measure when
they reach 0.01 and 0.005 nats at all. Each run is a process on one thread,
``--jobs`` at once. Writes every run's grades to ``results/checkerboard.json`` and
the tables to ``results/checkerboard.md``; a ``--quick`` run writes
``checkerboard-quick.*`` instead, and ``--out`` names another folder.
"""

import statistics
from concurrent.futures import ProcessPoolExecutor

import common
from flowlib import scalar, zoo

DENSITY = "checkerboard"
ZOO = dict(layers=5, bins=32, hidden=(64, 64), lr=5e-3, batch=512)
VARIANTS = {             # name: what it changes from the zoo's spline AR
    "the zoo's spline AR": {},
    "lr 1e-2": dict(lr=1e-2),
    "lr 2e-2": dict(lr=2e-2),
    "lr 1e-2, batch 2048": dict(lr=1e-2, batch=2048),
    "lr 1e-2, 3 layers": dict(lr=1e-2, layers=3),
    "lr 1e-2, 2 layers of 128 + 128": dict(lr=1e-2, layers=2, hidden=(128, 128)),
    "lr 1e-2, 64 bins": dict(lr=1e-2, bins=64),
}
LEVELS = (0.01, 0.005)
SHARES = (0.25, 0.5, 1.0)   # the short runs are graded at these shares of the budget


def build(setting):
    """The spline AR flow of ``setting``'s layers, bins and hidden units."""
    return zoo._autoregressive(scalar.rational_quadratic_spline,
                               3 * setting["bins"] - 1, setting["layers"],
                               setting["hidden"])


def run(job):
    """Train one variant from one seed; returns (job, [(seconds, steps, KL)])."""
    name, seed, marks = job
    setting = ZOO | VARIANTS[name]
    return job, common.graded(DENSITY, lambda: build(setting), lr=setting["lr"],
                              batch=setting["batch"], seed=seed, marks=marks)


def mean_sd(values):
    sd = f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.4f}{sd}"


def main(argv=None):
    args = common.parser(__doc__).parse_args(argv)
    short, long = (1.0, 2.0) if args.quick else (60.0, 600.0)
    seeds = (0,) if args.quick else (0, 1, 2)
    times = tuple(share * short for share in SHARES)
    with ProcessPoolExecutor(args.jobs) as pool:
        shorts = dict(pool.map(run, [(name, seed, times) for name in VARIANTS
                                     for seed in seeds]))
        final = {name: statistics.mean(shorts[name, seed, times][-1][2]
                                       for seed in seeds) for name in VARIANTS}
        best = min(final, key=final.get)
        marks = tuple(sorted({short, *(m * long for m in zoo.MARKS)}))
        longs = dict(pool.map(run, [(name, 0, marks) for name in
                                    dict.fromkeys(("the zoo's spline AR", best))]))
    record = {**common.machine(args.quick, threads=1), "density": DENSITY,
              "short_s": short, "long_s": long, "seeds": list(seeds),
              "jobs": args.jobs, "zoo": ZOO,
              "variants": {name: ZOO | change for name, change in VARIANTS.items()},
              "best": best,
              "short": {f"{name} | {seed}": curve
                        for (name, seed, *_), curve in shorts.items()},
              "long": {name: curve for (name, *_), curve in longs.items()}}
    common.save("checkerboard" + ("-quick" if args.quick else ""), record,
                markdown(record), args.out)
    return record


def markdown(record):
    """The two tables and their caption, from a results record."""
    short, long, seeds = record["short_s"], record["long_s"], record["seeds"]
    times = tuple(share * short for share in SHARES)
    lines = ["| variant | steps/s | " + " | ".join(f"KL at {t:g} s" for t in times)
             + " |", "|---|---|" + "---|" * len(times)]
    for name in record["variants"]:
        curves = [record["short"][f"{name} | {seed}"] for seed in seeds]
        rate = statistics.mean(c[-1][1] / c[-1][0] for c in curves)
        cells = [mean_sd([c[i][2] for c in curves]) for i in range(len(times))]
        lines.append(f"| {name} | {rate:.0f} | " + " | ".join(cells) + " |")
    lines += ["", "| long run | KL at " + f"{short:g} s | KL at {long:g} s | "
              + " | ".join(f"s to {level}" for level in LEVELS) + " |",
              "|---|---|---|" + "---|" * len(LEVELS)]
    for name, curve in record["long"].items():
        at_short = next(kl for t, _, kl in curve if t >= short)
        reached = [zoo.time_to(curve, level) for level in LEVELS]
        lines.append(f"| {name} | {at_short:.4f} | {curve[-1][2]:.4f} | " + " | ".join(
            "–" if t is None else f"{t:.0f}" for t in reached) + " |")
    return ("\n".join(lines) + "\n\nKL(truth ‖ flow) in nats on 20,000 test points "
            f"of the {record['density']}. First table: mean (± standard deviation) "
            f"over seeds {', '.join(map(str, seeds))}, {short:g} s of training each; "
            f"steps/s of training, the grades left out. Second table: seed 0, "
            f"{long:g} s, graded before training, at {len(zoo.MARKS) - 1} times spaced "
            f"evenly in log-time and at {short:g} s; the seconds to a level are those "
            "of the first grade at or below it (\"–\" if never). Schedule-free Adam, "
            "spline AR as in `zoo.FLOWS` but for the changes named; one thread per "
            f"run, {record['jobs']} at a time; {record['processor']}, torch "
            f"{record['torch']}, cpu, {record['date']}.\n")


if __name__ == "__main__":
    main()
