"""Why the time-to-quality race trains without a schedule: three flows, three ways each.

    python benchmarks/anytime.py            # about 12 minutes on two CPU cores
    python benchmarks/anytime.py --quick    # a smoke run: short budgets, one seed

A time to a level read off a run whose learning rate decays over the whole budget
measures the flow in mid-schedule. This script trains three of the zoo's flows
(``flowlib.zoo``: chapter 2's mixture AR, the fastest per step, and chapter 7's
planar flow and Residual Flow, which ``zoo.ScheduleFreeAdam``'s average could hold
back) through ``zoo.Race`` on the moons, from three seeds, and grades KL(truth ||
flow) on 20 000 test points at a few times t:

* cosine, long: Adam with a cosine decay over the whole long budget, graded at t;
* schedule-free: ``zoo.ScheduleFreeAdam`` for the long budget, graded at t;
* cosine, fitted: Adam with a cosine decay over a budget of exactly t, graded at its
  end, what stopping at t with a schedule made for t gives.

Besides the schedule, schedule-free Adam warms its learning rate up over 100 steps and
the cosine (as ``flowlib.fit``'s) decays to 1% of it, not to 0. Each run is a process
on one thread, ``--jobs`` at once. Writes every seed's KL to ``results/anytime.json``
and their mean and standard deviation to ``results/anytime.md`` (``-quick`` for
``--quick``, or into ``--out``).
"""

import statistics
from concurrent.futures import ProcessPoolExecutor

import common
from flowlib import zoo

DENSITY = "moons"
STUDIED = "mixture AR (ch. 2)", "planar-32 (ch. 7)", "Residual Flow (ch. 7)"


def run(job):
    """Train one flow one way; returns (job, {t: KL})."""
    name, seed, protocol, seconds, times = job
    entry = zoo.FLOWS[name]
    curve = common.graded(DENSITY, entry.build, lr=entry.lr, batch=entry.batch,
                          seed=seed, marks=times, schedule=protocol)
    return job, {t: kl for t, (_, _, kl) in zip(times, curve)}


def main(argv=None):
    args = common.parser(__doc__).parse_args(argv)
    long, times = (2.0, (0.5, 1.0)) if args.quick else (60.0, (6.0, 12.0))
    seeds = (0,) if args.quick else (0, 1, 2)
    jobs = [(name, seed, protocol, long, (*times, long)) for name in STUDIED
            for seed in seeds for protocol in ("cosine", "free")]
    jobs += [(name, seed, "cosine", t, (t,)) for name in STUDIED for seed in seeds
             for t in times]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run, jobs))
    way = {("cosine", True): "cosine, long", ("free", True): "schedule-free",
           ("cosine", False): "cosine, fitted"}
    kls = {}       # (set, way, t): [KL per seed]
    for (name, _, protocol, seconds, _), kl in results:
        for t, v in kl.items():
            kls.setdefault((name, way[protocol, seconds == long], t), []).append(v)
    stats = {k: (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0)
             for k, v in kls.items()}
    ways = ("cosine, long", "schedule-free", "cosine, fitted")
    lines = ["| flow | graded at | " + " | ".join(ways) + " |",
             "|---|---|" + "---|" * len(ways)]
    def cell(c):
        if c is None:
            return "–"
        return f"{c[0]:.4f}" + (f" ± {c[1]:.4f}" if len(seeds) > 1 else "")

    for name in STUDIED:
        for t in (*times, long):
            cells = [cell(stats.get((name, w, t))) for w in ways]
            lines.append(f"| {name} | {t:g} s | " + " | ".join(cells) + " |")
    record = {**common.machine(args.quick, threads=1), "density": DENSITY,
              "long_s": long, "seeds": list(seeds), "times": [*times, long],
              "jobs": args.jobs,
              "kl": {" | ".join(map(str, k)): v for k, v in kls.items()}}
    text = ("\n".join(lines) + f"\n\nKL(truth ‖ flow) in nats on 20,000 test points, "
            f"mean ± standard deviation over seeds {', '.join(map(str, seeds))}; "
            f"{DENSITY}, each flow with its chapter's learning rate and batch "
            f"(`zoo.FLOWS`); long budget {long:g} s (at its end the long cosine run is "
            "the fitted one); one thread per run, "
            f"{args.jobs} at a time; {record['processor']}, torch {record['torch']}, "
            f"cpu, {record['date']}.\n")
    common.save("anytime" + ("-quick" if args.quick else ""), record, text, args.out)
    return stats


if __name__ == "__main__":
    main()
