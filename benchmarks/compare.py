"""flowlib side by side with zuko and nflows: the same MAF, timed and graded in one run.

    pip install -e ".[bench]"                   # zuko and nflows, for this script only
    python benchmarks/compare.py                 # on the GPU if there is one, else CPU
    python benchmarks/compare.py --quick         # a smoke run: fewer steps and seeds

Every library builds the same architecture: a MAF of 5 affine autoregressive layers,
MADE conditioners with two hidden layers of 128 units, the order reversed between
layers, a standard-normal base. Every model trains through the same loop,
``flowlib.fit`` (Adam, cosine-decayed learning rate, gradient clipping), so only the
model code differs; "compiled" runs the step through ``torch.compile``
(``fit(compile=True)``), "captured" replays sampling as a CUDA graph
(``flowlib.capture``, GPU only). The script measures, in one process:

* training-step time, 2-D with batch 512 and 64-D with batch 4096 (and the one-off
  compile time, for the compiled rows);
* sampling time, 4096 samples in 64-D (D sequential passes per layer);
* quality: KL(truth || model) on the 2-D moons after the same number of steps, the
  mean over seeds.

Timings are medians over repeats taken round-robin (each library in turn, so that a
noisy machine slows them alike), with the GPU synchronized. It writes
``results/<device>.json`` and ``results/<device>.md`` beside itself (``-quick`` in
the name for smoke runs). Nothing here asserts a time.
"""

import argparse
import platform
import statistics
import time
from datetime import date
from importlib.metadata import version

import torch

import common
import flowlib

LAYERS, HIDDEN = 5, (128, 128)


def build_flowlib(d):
    flow = flowlib.Flow(flowlib.MAF(d, LAYERS, HIDDEN), flowlib.StandardNormal(d))
    return flow, flow.log_prob, flow.sample


def build_zuko(d):
    import zuko
    flow = zuko.flows.MAF(d, transforms=LAYERS, hidden_features=HIDDEN)
    return flow, lambda x: flow().log_prob(x), lambda n: flow().sample((n,))


def build_nflows(d):
    from nflows import distributions, flows, transforms
    layers = []
    for _ in range(LAYERS):
        layers += [transforms.MaskedAffineAutoregressiveTransform(
                       d, HIDDEN[0], num_blocks=len(HIDDEN) - 1,
                       use_residual_blocks=False),
                   transforms.ReversePermutation(d)]
    flow = flows.Flow(transforms.CompositeTransform(layers[:-1]),
                      distributions.StandardNormal([d]))
    return flow, flow.log_prob, flow.sample


LIBRARIES = {"flowlib": build_flowlib, "zuko": build_zuko, "nflows": build_nflows}
# (column, library, compiled training step, captured sampling)
VARIANTS = [("flowlib", "flowlib", False, False),
            ("flowlib compiled/captured", "flowlib", True, True),
            ("zuko", "zuko", False, False), ("zuko compiled", "zuko", True, False),
            ("nflows", "nflows", False, False)]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def round_robin(calls, device, repeat):
    """Median seconds of each call, timed in turn so that drift hits all of them
    alike."""
    times = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            sync(device)
            start = time.perf_counter()
            call()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def trainer(library, d, device, data, batch_size, compile):
    """A function that trains a fresh model for k steps, and the model's log-density."""
    module, log_prob, sample = LIBRARIES[library](d)
    module.to(device)
    loss = lambda m, batch: -log_prob(batch[0]).mean()

    def train(k):
        return flowlib.fit(module, data, steps=k, loss=loss, batch_size=batch_size,
                           log_every=k, progress=False, compile=compile)
    return train, module, log_prob, sample


def step_times(variants, device, args):
    rows = {}
    for d, batch in ((2, 512), (64, 4096)):
        x = torch.randn(batch, d, device=device)
        trains, setup = {}, {}
        for column, library, compiled, _ in variants:
            train = trainer(library, d, device, x, batch, compiled)[0]
            start = time.perf_counter()
            train(2)  # warm up; compiles the compiled ones
            setup[column] = time.perf_counter() - start
            trains[column] = lambda train=train: train(args.chunk)
        times = round_robin(trains, device, args.repeat)
        rows[f"step {d}-D, batch {batch} (ms)"] = {c: 1e3 * t / args.chunk
                                                   for c, t in times.items()}
        rows[f"first call {d}-D, compile included (s)"] = {
            c: setup[c] for c, _, compiled, _ in variants if compiled}
    return rows


def sample_times(variants, device, args):
    calls = {}
    for column, library, compiled, captured in variants:
        if (compiled and not captured) or (captured and device.type != "cuda"):
            continue  # sampling is not compiled; on the CPU there is nothing to capture
        module, _, sample, = LIBRARIES[library](64)
        module.to(device).eval()
        fn = lambda sample=sample: sample(4096)
        calls[column] = flowlib.capture(fn) if captured else torch.no_grad()(fn)
        calls[column]()  # warm up
    times = round_robin(calls, device, max(3, args.repeat // 5))
    return {"sample 4096 x 64-D (ms)": {c: 1e3 * t for c, t in times.items()}}


def quality(libraries, device, args):
    """KL on the moons after the same training, averaged over seeds. The GPU trains
    compiled, the CPU eagerly, for speed; both give the same results
    (tests/test_train.py)."""
    kl = {lib: [] for lib in libraries}
    for seed in range(args.seeds):
        flowlib.seed(seed)
        truth = flowlib.dataset("moons")
        data, test = truth.sample(100_000).to(device), truth.sample(20_000)
        for lib in libraries:
            flowlib.seed(seed)
            train, module, log_prob, _ = trainer(lib, 2, device, data, 512,
                                                 compile=device.type == "cuda")
            train(args.steps)
            with torch.no_grad():
                kl[lib].append(flowlib.kl_divergence(
                    truth, lambda x: log_prob(x.to(device)).cpu(), test))
    mean = (f"KL on moons after {args.steps} steps, mean over seeds "
            f"0..{args.seeds - 1} (nats)")
    return {mean: {lib: statistics.mean(v) for lib, v in kl.items()},
            "KL, lowest to highest seed (nats)": {lib: f"{min(v):.3g} to {max(v):.3g}"
                                                  for lib, v in kl.items()}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer steps, repeats and seeds: a smoke run")
    parser.add_argument("--libraries", nargs="+", default=list(LIBRARIES),
                        choices=list(LIBRARIES))
    args = parser.parse_args()
    args.steps, args.repeat, args.chunk, args.seeds = ((200, 5, 5, 1) if args.quick
                                                       else (5_000, 30, 20, 3))
    device = flowlib.device()
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"cpu ({torch.get_num_threads()} threads)")
    variants = [v for v in VARIANTS if v[1] in args.libraries]

    results = {**step_times(variants, device, args),
               **sample_times(variants, device, args),
               **quality(args.libraries, device, args)}
    versions = {"torch": torch.__version__, "python": platform.python_version(),
                "flowlib": flowlib.__version__}
    versions.update({lib: version(lib) for lib in args.libraries if lib != "flowlib"})
    record = {"device": name, "date": date.today().isoformat(), "quick": args.quick,
              "versions": versions,
              "architecture": f"MAF, {LAYERS} affine layers, MADE hidden "
                              f"{list(HIDDEN)}, reversals",
              "columns": [v[0] for v in variants], "results": results}

    stem = (name.replace(" ", "_").replace("(", "").replace(")", "")
            + ("-quick" if args.quick else ""))
    common.save(stem, record, table(record))
    print(table(record))


def table(record):
    """The record as a Markdown table: a row per measurement, a column per variant."""
    columns = record["columns"]
    cell = lambda v: "–" if v is None else v if isinstance(v, str) else f"{v:.3g}"
    lines = [f"{record['architecture']}; {record['device']}, {record['date']}"
             + (" (quick smoke run)" if record["quick"] else ""),
             "", "| measurement | " + " | ".join(columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for measurement, row in record["results"].items():
        lines.append(f"| {measurement} | "
                     + " | ".join(cell(row.get(c)) for c in columns) + " |")
    lines += ["", "versions: " + ", ".join(f"{k} {v}"
                                           for k, v in record["versions"].items()), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
