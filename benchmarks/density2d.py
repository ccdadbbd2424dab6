"""Time to quality on a 2-D density: every flow of the book and its peers, on the clock.

    pip install -e ".[bench]"                              # the peers: zuko, nflows
    python benchmarks/density2d.py --density moons          # a data set of the book
    python benchmarks/density2d.py --density mypackage.targets:banana --seconds 120
    python benchmarks/density2d.py --density rings --models "MAF-10 (ch. 3)" "zuko MAF"
    python benchmarks/density2d.py --summary      # one table over the stored full runs

**The density** is one of the book's 2-D data sets by name (``flowlib.datasets``), or
any function given as ``package.module:function`` that takes no arguments and returns
``(sample, log_prob)``: ``sample(n)`` draws an ``(n, 2)`` float tensor and
``log_prob(x)`` returns the *normalized* log-density of an ``(m, 2)`` tensor as an
``(m,)`` tensor. Before training anything the script checks that the two agree: it
integrates ``exp(log_prob)`` on a grid over the box that holds nearly all samples, in
4 x 4 blocks, and refuses the density with a ``ValueError`` when a block's mass differs
from the share of samples that fall in it by more than sampling error allows.

**The race.** Every model trains by maximum likelihood on the same 200 000 points,
drawn once, for the same training wall time (``--seconds``, default 60), with the
learning rate and batch of its chapter (a peer with those of the book's flow of its
kind), with schedule-free Adam (``flowlib.zoo.ScheduleFreeAdam``): no decay is fitted
to the budget, so the model graded at any moment is the one a run stopped there would
have given, and a time to a level is a time one could stop at. Each model lives in
its own process on one thread; the models take turns in slices of the budget
(round-robin), ``--jobs`` of them at once (default: the cores), so that a busy
machine slows them all alike. After each slice (``zoo.MARKS``: evenly spaced in
log-time), off the clock, KL(truth || model) is measured on the same 20 000 test
points, with exact log-dets (residual blocks) and continuous flows solved at 1e-5; the
last grade is the model's final KL, so a peer's final KL is the level its curve ends
at, not a noisier estimate on fewer points.

**The report** (``results/density2d_<density>.json`` and ``.md``, and a plot of KL
against training time in ``.png``; ``-quick`` in the name for ``--quick`` runs): per
model the final KL with its standard error, the training seconds to reach 0.05, 0.01
and 0.005 nats (the first slice at or below; "–" if never), steps per second, seconds
to sample 10 000 points and to score 10 000, parameters, and its inverse; then how much
sooner the book's best flow reached each peer's final KL. Nothing here asserts a time.
"""

import argparse
import importlib
import json
import math
import multiprocessing
import os
import time
import traceback
import warnings
from importlib.metadata import version
from pathlib import Path

import torch

import common
import flowlib
from flowlib import zoo

LEVELS = (0.05, 0.01, 0.005)
MARKS = zoo.MARKS
N_TRAIN, N_TEST, N_TIMED = 200_000, 20_000, 10_000


def zuko_flow(kind):
    import zuko
    flow = (zuko.flows.NSF(2, transforms=5, bins=32, hidden_features=(64, 64))
            if kind == "spline" else
            zuko.flows.MAF(2, transforms=10, hidden_features=(64, 64)))
    return flow, lambda x: flow().log_prob(x), lambda n: flow().sample((n,))


def nflows_flow(kind):
    from nflows import distributions, flows, transforms
    layers = []
    for i in range(5 if kind == "spline" else 10):
        layers += [transforms.ReversePermutation(2)] if i else []
        layers.append(
            transforms.MaskedPiecewiseRationalQuadraticAutoregressiveTransform(
                2, 64, num_bins=32, tails="linear", tail_bound=4.0, num_blocks=1,
                use_residual_blocks=False) if kind == "spline" else
            transforms.MaskedAffineAutoregressiveTransform(
                2, 64, num_blocks=1, use_residual_blocks=False))
    flow = flows.Flow(transforms.CompositeTransform(layers),
                      distributions.StandardNormal([2]))
    return flow, flow.log_prob, flow.sample


def book_flow(name):
    flow = zoo.FLOWS[name].build()
    return flow, flow.log_prob, flow.sample


# a peer: its builder, and the book's flow whose training settings it takes
PEERS = {
    "zuko NSF": (lambda: zuko_flow("spline"), "spline AR (ch. 6)"),
    "zuko MAF": (lambda: zuko_flow("affine"), "MAF-10 (ch. 3)"),
    "nflows spline AR": (lambda: nflows_flow("spline"), "spline AR (ch. 6)"),
    "nflows MAF": (lambda: nflows_flow("affine"), "MAF-10 (ch. 3)"),
}
# name: (builder, learning rate, batch, inverse)
MODELS = {**{name: (lambda n=name: book_flow(n), entry.lr, entry.batch, entry.inverse)
             for name, entry in zoo.FLOWS.items()},
          **{name: (build, zoo.FLOWS[like].lr, zoo.FLOWS[like].batch,
                    zoo.FLOWS[like].inverse) for name, (build, like) in PEERS.items()}}


def load_density(spec):
    """``(sample, log_prob)`` of a book data set (by name) or of
    ``package.module:function``."""
    if ":" not in spec:
        truth = flowlib.dataset(spec)
        if truth.dim != 2:
            raise ValueError(f"{spec!r} is a {truth.dim}-D data set; this benchmark "
                             "needs a 2-D one")
        return truth.sample, truth.log_prob
    module, _, function = spec.partition(":")
    made = getattr(importlib.import_module(module), function)()
    if not (isinstance(made, tuple) and len(made) == 2 and all(map(callable, made))):
        raise ValueError(f"{spec} must return (sample, log_prob), two functions; got "
                         f"{type(made).__name__}")
    return made


def check_density(sample, log_prob, n=40_000, points=400, blocks=4):
    """Refuse a density whose ``log_prob`` is not the normalized density of what
    ``sample`` draws: compare, block by block, the mass of ``exp(log_prob)`` on a grid
    with the share of samples. Returns the largest difference."""
    x = sample(n)
    if not (torch.is_tensor(x) and x.shape == (n, 2) and x.is_floating_point()):
        raise ValueError(f"sample({n}) must return a float tensor of shape ({n}, 2), "
                         f"got {getattr(x, 'shape', type(x).__name__)}")
    x = x.double()
    lp = log_prob(x.float())
    if not (torch.is_tensor(lp) and lp.shape == (n,)):
        raise ValueError(f"log_prob of a ({n}, 2) tensor must have shape ({n},), got "
                         f"{getattr(lp, 'shape', type(lp).__name__)}")
    if not torch.isfinite(lp).all():
        raise ValueError(f"log_prob is not finite at {(~torch.isfinite(lp)).sum()} of "
                         f"{n} points drawn by sample: they must lie in its support")
    lo, hi = x.quantile(0.0005, 0), x.quantile(0.9995, 0)
    lo, hi = lo - 0.25 * (hi - lo), hi + 0.25 * (hi - lo)
    h = (hi - lo) / points
    axes = [lo[i] + h[i] * (torch.arange(points, dtype=torch.float64) + 0.5)
            for i in range(2)]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    mass = torch.cat([log_prob(g.float()).double().exp()
                      for g in grid.split(40_000)]) * h.prod()
    k = points // blocks
    mass = mass.reshape(blocks, k, blocks, k).sum((1, 3))
    cell = ((x - lo) / (hi - lo) * blocks).floor().long()
    inside = ((cell >= 0) & (cell < blocks)).all(1)
    share = torch.zeros(blocks, blocks, dtype=torch.float64)
    ones = torch.ones(int(inside.sum()), dtype=torch.float64)
    share.index_put_((cell[inside, 0], cell[inside, 1]), ones, accumulate=True)
    share /= n
    allowed = 0.01 + 4 * (share * (1 - share) / n).sqrt()
    worst = ((mass - share).abs() - allowed).argmax()
    i, j = divmod(int(worst), blocks)
    if (mass - share).abs()[i, j] > allowed[i, j]:
        box = " × ".join(f"[{a:.2f}, {b:.2f}]" for a, b in zip(lo, hi))
        raise ValueError(
            "the density's samples and log_prob disagree: exp(log_prob) integrates to "
            f"{mass.sum():.3f} over the box {box} that holds "
            f"{share.sum():.3f} of the samples, and to {mass[i, j]:.3f} over its block "
            f"({i}, {j}), which holds {share[i, j]:.3f} of them. log_prob must be the "
            "normalized log-density of the distribution sample draws.")
    return (mass - share).abs().max().item()


def _worker(name, seconds, seed, data, conn):
    """One model in its own process on one thread: train on request, report."""
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")    # e.g. an inverse's NotConverged, at sampling
    try:
        torch.manual_seed(seed)
        build, lr, batch, inverse = MODELS[name]
        model, log_prob, sample = build()
        race = zoo.Race(model, data["train"], lr=lr, batch=batch, seconds=seconds,
                        log_prob=log_prob)
        while (until := conn.recv()) is not None:
            race.run(until - race.trained)
            conn.send(race.grade(lambda x: data["test_lp"], data["test"]))
        with zoo.evaluating(model):
            terms = data["test_lp"] - log_prob(data["test"])
            x = data["test"][:N_TIMED]
            density = flowlib.seconds(lambda: log_prob(x), repeat=1)
            sampling = flowlib.seconds(lambda: sample(N_TIMED), repeat=1)
        conn.send({"curve": race.curve, "KL": terms.mean().item(),
                   "se": terms.std().item() / math.sqrt(len(terms)),
                   "steps": race.steps, "steps_per_s": race.steps / race.trained,
                   "sample_s": sampling, "density_s": density, "inverse": inverse,
                   "parameters": sum(p.numel() for p in model.parameters()),
                   "lr": lr, "batch": batch})
    except Exception:
        conn.send({"error": traceback.format_exc()})


def race(spec, models, seconds, jobs, seed=0):
    """Train ``models`` on the density ``spec`` in turns; their results by name."""
    sample, log_prob = load_density(spec)
    check_density(sample, log_prob)
    torch.manual_seed(seed)
    data = {"train": sample(N_TRAIN).float(), "test": sample(N_TEST).float()}
    data["test_lp"] = log_prob(data["test"])
    spawn = multiprocessing.get_context("spawn")
    links, procs = {}, []
    for name in models:
        mine, theirs = spawn.Pipe()
        procs.append(spawn.Process(target=_worker, daemon=True,
                                   args=(name, seconds, seed, data, theirs)))
        procs[-1].start()
        links[name] = mine

    def in_turn(message):
        replies = {}
        for start in range(0, len(models), jobs):
            group = models[start:start + jobs]
            for name in group:
                links[name].send(message)
            for name in group:
                replies[name] = links[name].recv()
                if isinstance(replies[name], dict) and "error" in replies[name]:
                    raise RuntimeError(f"{name} failed:\n{replies[name]['error']}")
        return replies

    for mark in MARKS:
        in_turn(mark * seconds)
    results = in_turn(None)
    for proc in procs:
        proc.join()
    return results


def speedups(results):
    """How much sooner the book's best flow (lowest final KL) reached each peer's
    final KL than that peer did: (best flow, {peer: ratio or None})."""
    book = [m for m in results if m in zoo.FLOWS]
    best = min(book, key=lambda m: results[m]["KL"])
    ratios = {}
    for peer in (m for m in results if m in PEERS):
        final = results[peer]["curve"][-1][2]
        theirs = zoo.time_to(results[peer]["curve"], final)
        ours = zoo.time_to(results[best]["curve"], final)
        ratios[peer] = None if ours is None else theirs / max(ours, 1e-9)
    return best, ratios


def report(spec, results, record):
    def seconds_to(r, v):
        t = zoo.time_to(r["curve"], v)
        return "–" if t is None else f"{t:.1f}"
    lines = ["| model | KL ± s.e. (nats) | "
             + " | ".join(f"s to {v:g}" for v in LEVELS)
             + " | steps/s | sample 10k, s | density 10k, s | parameters | inverse |",
             "|---|---|" + "---|" * len(LEVELS) + "---|---|---|---|---|"]
    for name, r in sorted(results.items(), key=lambda item: item[1]["KL"]):
        lines.append(f"| {name} | {r['KL']:.4f} ± {r['se']:.4f} | "
                     + " | ".join(seconds_to(r, v) for v in LEVELS)
                     + f" | {r['steps_per_s']:.0f} | {r['sample_s']:.3f} | "
                     f"{r['density_s']:.3f} | {r['parameters']:,} | {r['inverse']} |")
    text = "\n".join(lines) + (
        f"\n\nDensity {spec}; {record['seconds']:g} s of training per model, one "
        f"thread each, {record['jobs']} at a time, seed {record['seed']}; KL(truth ‖ "
        f"model) on {N_TEST:,} test points; times to a level are the first of "
        f"{len(MARKS)} grades at or below it; {record['processor']}, torch "
        f"{record['torch']}, {record['device']}, {record['date']}.\n")
    if record.get("best"):
        text += (f"\nThe book's best flow here, {record['best']}, reached each peer's "
                 "final KL sooner than that peer by a factor of: " + "; ".join(
                     f"{p} {'never' if v is None else f'{v:.1f}×'}"
                     for p, v in record["speedups"].items()) + ".\n")
    return text


def summarize(folder=None):
    """Write ``density2d_summary.md`` from every stored full run in ``folder``: per
    density the book's best flow, its KL, its time to 0.005 nats and how much sooner
    it reached each peer's final KL than that peer did."""
    folder = folder or common.RESULTS
    paths = sorted(folder.glob("density2d_*.json"))
    records = [json.loads(p.read_text()) for p in paths]
    records = [r for r in records if not r["quick"] and r.get("best")]
    if not records:
        raise ValueError(f"no full runs of density2d.py with peers in {folder}")
    peers = sorted({p for r in records for p in r["speedups"]})
    lines = ["| density | book's best flow | its KL | its s to 0.005 | "
             + " | ".join(f"sooner than {p}" for p in peers) + " |",
             "|---|---|---|---|" + "---|" * len(peers)]
    reached, sooner = 0, 0
    for r in records:
        best = r["models"][r["best"]]
        t = zoo.time_to(best["curve"], 0.005)
        reached += t is not None
        ratios = [r["speedups"].get(p) for p in peers]
        sooner += all(v is not None and v >= 5 for v in ratios)
        lines.append(f"| {r['density']} | {r['best']} | {best['KL']:.4f} | "
                     + ("–" if t is None else f"{t:.1f}") + " | " + " | ".join(
                         "never" if v is None else f"{v:.1f}×" for v in ratios) + " |")
    budgets = sorted({r["seconds"] for r in records})
    text = "\n".join(lines) + (
        f"\n\nOver {len(records)} densities, {', '.join(f'{b:g}' for b in budgets)} s "
        f"of training per model: the book's best flow reached 0.005 nats on "
        f"{reached} of them, and reached every peer's final KL at least 5× sooner "
        f"than that peer did on {sooner}. \"Sooner\" divides the training seconds a "
        "peer took to first reach its own final KL by those the best flow took to "
        "reach it, both read at the grades, which are on the runs' test points. "
        "One seed per density: neither the best flow nor the factors are "
        "established over seeds.\n")
    (folder / "density2d_summary.md").write_text(text)
    return text


def plot(results, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    for i, (name, r) in enumerate(results.items()):
        t, _, kl = zip(*r["curve"])
        ax.plot(t, [max(v, 1e-4) for v in kl], color=f"C{i % 10}",
                ls="-" if name in zoo.FLOWS else "--", marker=".", label=name)
    ax.set(yscale="log", xlabel="training seconds", ylabel="KL(truth ‖ model), nats",
           title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--density", default="moons",
                        help="a 2-D data set of the book, or package.module:function")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="training wall time per model")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: mark the results as such")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the results (default: results/ beside this)")
    parser.add_argument("--summary", action="store_true",
                        help="only write density2d_summary.md from the stored runs")
    args = parser.parse_args(argv)
    if args.summary:
        return summarize(args.out)
    if not args.seconds > 0 or args.jobs < 1:
        parser.error("--seconds must be positive and --jobs at least 1")
    begin = time.perf_counter()
    results = race(args.density, args.models, args.seconds, args.jobs, args.seed)
    record = {**common.machine(args.quick, threads=1), "density": args.density,
              "seconds": args.seconds, "jobs": args.jobs, "seed": args.seed,
              "wall_s": time.perf_counter() - begin,
              "versions": {p: version(p) for p in ("zuko", "nflows")
                           if any(m.startswith(p) for m in args.models)},
              "models": results}
    if any(m in zoo.FLOWS for m in results) and any(m in PEERS for m in results):
        record["best"], record["speedups"] = speedups(results)
    stem = "density2d_" + args.density.replace(":", "-").replace(".", "-")
    stem += "-quick" if args.quick else ""
    common.save(stem, record, report(args.density, results, record), out=args.out)
    plot(results, (args.out or common.RESULTS) / f"{stem}.png", args.density)
    return record


if __name__ == "__main__":
    main()
