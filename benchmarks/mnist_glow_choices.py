"""Two choices of chapter 4's MNIST flow, measured: the coupling's scale and the batch.

Each row trains the chapter's two-scale Glow (K = 4 steps per scale, 64-channel
conditioners with one residual block, bfloat16 conditioners, lr 3e-3, cosine) from
seed 0 for about five and a half minutes of this machine, then reports test bits/dim
(float32 conditioners) on the first 2,000 test digits and on all 10,000, the costliest
digit, and digit 7024, the one test digit with ink where no training digit has any.

- coupling scale: ``scalar.affine`` (may stretch by e^7 per coupling), Glow's sigmoid
  scale normalised to the identity at zero, and ``scalar.contracting_affine``;
- batch 64, 32 and 16 at equal wall time (steps set from a measured step time);
- six more steps at the cheap second scale.

    python benchmarks/mnist_glow_choices.py            # about 40 minutes
    python benchmarks/mnist_glow_choices.py --quick    # a smoke test, git-ignored
"""

import sys
import time

import torch
import torch.nn.functional as F

import flowlib
from common import machine, save
from flowlib import (ActNorm, Compose, Conv1x1, ConvNet, Coupling, Flow, MultiScale,
                     Sigmoid, StandardNormal, channel_mask, scalar)

QUICK = "--quick" in sys.argv
STEPS_64 = 60 if QUICK else 3000   # steps at batch 64; smaller batches get more
ODD_DIGIT = 7024


def sigmoid_affine(x, params):
    """Glow's coupling: scale sigmoid(raw + 2), divided by sigmoid(2)."""
    loc, raw = params.unbind(-1)
    log_scale = F.logsigmoid(raw + 2) - F.logsigmoid(torch.tensor(2.0))
    return (x - loc) * log_scale.exp(), log_scale


def _sigmoid_affine_inverse(y, params):
    log_scale = sigmoid_affine(y, params)[1]     # a function of params alone
    return params[..., 0] + y * torch.exp(-log_scale), -log_scale


sigmoid_affine.inverse = _sigmoid_affine_inverse
TRANSFORMS = {"affine": scalar.affine, "sigmoid (Glow)": sigmoid_affine,
              "contracting affine": scalar.contracting_affine}
ROWS = [dict(transform="affine", batch=64), dict(transform="sigmoid (Glow)", batch=64),
        dict(transform="contracting affine", batch=64),
        dict(transform="contracting affine", batch=32),
        dict(transform="contracting affine", batch=16),
        dict(transform="contracting affine", batch=64, K=(4, 10))]


def model(transform, K=(4, 4), **_):
    def step(c, h, w):
        rotation = torch.linalg.qr(torch.randn(c, c))[0]
        net = ConvNet(c, 2 * c, 64, 1, bf16=True)
        coupling = Coupling(channel_mask((c, h, w), 1), net, TRANSFORMS[transform])
        return Compose(ActNorm(c), Conv1x1(c, rotation), coupling)
    levels = [Compose(*(step(*shape) for _ in range(k)))
              for k, shape in zip(K, ((4, 14, 14), (8, 7, 7)))]
    return Flow(Compose(Sigmoid(0.05).inv, MultiScale((1, 28, 28), levels)),
                StandardNormal(1, 28, 28))


def loss(flow, batch):
    return flow.forward_kl((batch[0] + torch.rand_like(batch[0])) / 256)


def bits(flow, x_test):
    for module in flow.modules():
        if isinstance(module, ConvNet):
            module.bf16 = False
    flowlib.seed(1)
    with torch.no_grad():
        return torch.cat([flowlib.bits_per_dim(flow, b.float(), per_sample=True)
                          for b in x_test.split(500)])


def row(config, x_train, x_test, seconds):
    flowlib.seed(0)
    flow = model(**config)
    probe = flowlib.fit(flow, x_train, loss=loss, steps=20, batch_size=config["batch"],
                        progress=False)
    steps = max(20, round(seconds / (probe["seconds"] / 20)))
    flowlib.seed(0)
    flow = model(**config)
    began = time.perf_counter()
    flowlib.fit(flow, x_train, loss=loss, steps=steps, batch_size=config["batch"],
                lr=3e-3, progress=False)
    trained = time.perf_counter() - began
    b = bits(flow, x_test)
    return {"steps": steps, "train_s": round(trained),
            "bpd_2000": b[:2000].mean().item(), "bpd_10000": b.mean().item(),
            "max": b.max().item(), "odd_digit": b[ODD_DIGIT].item()}


def main():
    digits = flowlib.mnist()
    x_train, x_test = digits.x_train[:, None].float(), digits.x_test[:, None]
    flowlib.seed(0)
    reference = model("affine")
    t = flowlib.fit(reference, x_train, loss=loss, steps=20, batch_size=64,
                    progress=False)["seconds"] / 20
    seconds = STEPS_64 * t               # the wall time of STEPS_64 steps at batch 64
    record = {**machine(QUICK), "seconds": round(seconds), "rows": {}}
    for config in ROWS:
        K = config.get("K", (4, 4))
        name = f"{config['transform']}, batch {config['batch']}, K {K}"
        record["rows"][name] = row(config, x_train, x_test, seconds)
        print(name, record["rows"][name], flush=True)
    lines = [f"MNIST, two-scale Glow, about {seconds:.0f} s of training each; "
             f"{record['processor']}, {record['threads']} threads, "
             f"torch {record['torch']}, {record['device']}, {record['date']}"
             + (", QUICK" if QUICK else ""), "",
             "| coupling scale, batch, steps per scale | steps | test bits/dim, 2,000 "
             f"| all 10,000 | costliest digit | digit {ODD_DIGIT} |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {k} | {r['steps']} | {r['bpd_2000']:.3f} | {r['bpd_10000']:.4g} | "
              f"{r['max']:.4g} | {r['odd_digit']:.4g} |"
              for k, r in record["rows"].items()]
    save("mnist_glow_choices_cpu" + ("-quick" if QUICK else ""), record,
         "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
