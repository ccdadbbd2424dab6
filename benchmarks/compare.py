"""flowlib side by side with zuko and nflows: the same MAF, timed and graded in one run.

    pip install -e ".[bench]"                   # zuko and nflows, for this script only
    python benchmarks/compare.py                 # on the GPU if there is one, else the CPU
    python benchmarks/compare.py --quick         # a smoke run: fewer steps and repeats

Every library builds the same architecture: a MAF of 5 affine autoregressive layers,
MADE conditioners with two hidden layers of 128 units, the order reversed between
layers, a standard-normal base. The script measures, in one process:

* training-step time (Adam, forward + backward + update), 2-D with batch 512 and
  64-D with batch 4096;
* sampling time, 4096 samples in 64-D (D sequential passes per layer);
* quality: KL(truth || model) on the 2-D moons after the same number of steps.

It writes ``results/<device>.json`` and ``results/<device>.md`` beside itself (with
``-quick`` in the name for smoke runs). Timings
are medians over repeats, with the GPU synchronized; nothing here asserts a time.
"""

import argparse
import json
import platform
import statistics
import time
from datetime import date
from importlib.metadata import version
from pathlib import Path

import torch

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
        layers += [transforms.MaskedAffineAutoregressiveTransform(d, HIDDEN[0], num_blocks=len(HIDDEN) - 1,
                                                                 use_residual_blocks=False),
                   transforms.ReversePermutation(d)]
    flow = flows.Flow(transforms.CompositeTransform(layers[:-1]), distributions.StandardNormal([d]))
    return flow, flow.log_prob, flow.sample


LIBRARIES = {"flowlib": build_flowlib, "zuko": build_zuko, "nflows": build_nflows}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def median_seconds(fn, device, repeat, warmup=3):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def trainer(build, d, device, lr=1e-3):
    module, log_prob, sample = build(d)
    module.to(device)
    opt = torch.optim.Adam(module.parameters(), lr=lr)

    def step(x):
        opt.zero_grad(set_to_none=True)
        loss = -log_prob(x).mean()
        loss.backward()
        opt.step()
        return loss

    return module, log_prob, sample, step


def measure(name, device, args):
    build = LIBRARIES[name]
    row = {}
    for d, batch in ((2, 512), (64, 4096)):
        _, _, _, step = trainer(build, d, device)
        x = torch.randn(batch, d, device=device)
        row[f"step {d}-D, batch {batch} (ms)"] = 1e3 * median_seconds(lambda: step(x), device, args.repeat)
    module, _, sample, _ = trainer(build, 64, device)
    with torch.no_grad():
        row["sample 4096 x 64-D (ms)"] = 1e3 * median_seconds(lambda: sample(4096), device, max(3, args.repeat // 5), 1)

    flowlib.seed(0)
    truth = flowlib.dataset("moons")
    data, test = truth.sample(100_000).to(device), truth.sample(20_000)
    module, log_prob, _, step = trainer(build, 2, device)
    for _ in range(args.steps):
        step(data[torch.randint(len(data), (512,), device=device)])
    module.eval()
    model = lambda x: log_prob(x.to(device)).cpu()
    row[f"KL on moons after {args.steps} steps (nats)"] = flowlib.kl_divergence(truth, model, test)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats: a smoke run")
    parser.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=list(LIBRARIES))
    args = parser.parse_args()
    args.steps, args.repeat = (200, 5) if args.quick else (5_000, 50)
    device = flowlib.device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"

    results = {lib: measure(lib, device, args) for lib in args.libraries}
    versions = {"torch": torch.__version__, "python": platform.python_version(), "flowlib": flowlib.__version__}
    versions.update({lib: version(lib) for lib in args.libraries if lib != "flowlib"})
    record = {"device": name, "date": date.today().isoformat(), "quick": args.quick, "versions": versions,
              "architecture": f"MAF, {LAYERS} affine layers, MADE hidden {list(HIDDEN)}, reversals", "results": results}

    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stem = name.replace(" ", "_").replace("(", "").replace(")", "") + ("-quick" if args.quick else "")
    (out / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / f"{stem}.md").write_text(table(record))
    print(table(record))


def table(record):
    libs = list(record["results"])
    metrics = list(record["results"][libs[0]])
    lines = [f"{record['architecture']}; {record['device']}, {record['date']}"
             + (" (quick smoke run)" if record["quick"] else ""),
             "", "| measurement | " + " | ".join(libs) + " |", "|---" * (len(libs) + 1) + "|"]
    for m in metrics:
        lines.append(f"| {m} | " + " | ".join(f"{record['results'][lib][m]:.4g}" for lib in libs) + " |")
    lines += ["", "versions: " + ", ".join(f"{k} {v}" for k, v in record["versions"].items()), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
