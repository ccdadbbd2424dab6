"""Softmax over a short last dimension on the CPU: PyTorch's kernel against the same
normalisation written out in elementwise operations.

The scalar transforms of chapter 6 normalise a few logits per coordinate (the bins of
a spline, the components of a mixture) for every coordinate of a batch: many rows of
a handful of entries. This times, for rows of K entries, ``F.softmax`` and
``F.log_softmax`` against ``x - x.logsumexp(-1, keepdim=True)`` (what
``flowlib.scalar`` uses for rows of fewer than 16 entries) and its exponential,
forward only, median of repeats.

    python benchmarks/small_softmax.py            # about half a minute
    python benchmarks/small_softmax.py --quick    # a smoke test, git-ignored
"""

import statistics
import sys
import time

import torch
import torch.nn.functional as F

from common import machine, save

QUICK = "--quick" in sys.argv
ROWS = 2_000 if QUICK else 40_000
REPEAT = 5 if QUICK else 50
WAYS = {
    "F.softmax": lambda x: F.softmax(x, -1),
    "F.log_softmax": lambda x: F.log_softmax(x, -1),
    "written out: x - logsumexp": lambda x: x - x.logsumexp(-1, keepdim=True),
    "written out, then exp": lambda x: (x - x.logsumexp(-1, keepdim=True)).exp(),
}


def milliseconds(fn, x):
    for _ in range(3):
        fn(x)
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main():
    torch.manual_seed(0)
    record = machine(QUICK) | {"rows": ROWS, "results": {}}
    sizes = (4, 8, 16, 64)
    for k in sizes:
        x = torch.randn(ROWS, k)
        record["results"][k] = {name: milliseconds(fn, x) for name, fn in WAYS.items()}
    head = "| K | " + " | ".join(WAYS) + " |\n|---|" + "---|" * len(WAYS) + "\n"
    rows = "\n".join(f"| {k} | " + " | ".join(f"{record['results'][k][n]:.2f}"
                                             for n in WAYS) + " |" for k in sizes)
    markdown = (head + rows + f"\n\nmilliseconds per call (median of {REPEAT}) on "
                f"{ROWS:,} rows of K entries; {record['processor']}, "
                f"{record['threads']} threads, torch {record['torch']}; "
                f"{record['device']}, {record['date']}\n")
    save("small_softmax_cpu" + "-quick" * QUICK, record, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
