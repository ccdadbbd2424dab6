"""What the benchmark scripts share: chapter 3's 8x8 digits, and writing a results
pair."""

import argparse
import datetime
import json
from pathlib import Path

import torch
import torch.nn.functional as F

import flowlib
from flowlib import zoo


def digits():
    """MNIST as in chapter 3: padded to 32x32, 4x4 blocks averaged, rounded to 0..255;
    (train, test)."""
    def shrink(im):
        padded = F.pad(im.float()[:, None], (2, 2, 2, 2))
        return F.avg_pool2d(padded, 4).round().flatten(1)
    data = flowlib.mnist()
    return shrink(data.x_train), shrink(data.x_test)


def dequantized_nll(model, batch):
    """Chapter 3's training loss: uniform noise on the pixels, scaled to [0, 1)."""
    return model.forward_kl((batch[0] + torch.rand_like(batch[0])) / 256)


def machine(quick, threads=None):
    """The fields every results record starts with: where, when, and in which mode;
    ``threads`` is each run's, by default this process's."""
    return {"device": "cpu", "date": datetime.date.today().isoformat(),
            "threads": threads or torch.get_num_threads(), "torch": torch.__version__,
            "processor": flowlib.run_record()["processor"], "quick": quick}


RESULTS = Path(__file__).parent / "results"


def graded(density, build, *, lr, batch, seed, marks, schedule="free"):
    """On one thread, a model from ``build()`` (seeded with ``seed``) trained through
    ``flowlib.zoo.Race`` on 200 000 points of the named 2-D ``density`` (drawn from
    seed 0, the same for every run) until the last of ``marks`` seconds, with
    KL(truth || model) graded on 20 000 test points at each mark; ``race.curve``."""
    torch.set_num_threads(1)
    truth = flowlib.dataset(density)
    flowlib.seed(0)
    train, test = truth.sample(200_000), truth.sample(20_000)
    test_lp = truth.log_prob(test)
    flowlib.seed(seed)
    race = zoo.Race(build(), train, lr=lr, batch=batch, seconds=marks[-1],
                    schedule=schedule)
    for t in marks:
        race.run(t - race.trained)
        race.grade(lambda x: test_lp, test)
    return race.curve


def parser(doc):
    """A command line with the options most scripts share: ``--quick``, ``--jobs`` and
    ``--out``; ``doc``'s first line describes it."""
    line = argparse.ArgumentParser(description=doc.split("\n")[0])
    line.add_argument("--quick", action="store_true")
    line.add_argument("--jobs", type=int, default=2)
    line.add_argument("--out", type=Path, default=None,
                      help="folder for the results (default: results/ beside this)")
    return line


def save(stem, record, markdown, out=None):
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out``, by default ``results/``
    (a ``-quick`` stem is git-ignored)."""
    out = out or RESULTS
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / f"{stem}.md").write_text(markdown)
