"""The benchmarks in quick form: tiny budgets, and checks of what they write and that
training lowered the KL (or bits/dim); never of how long anything took."""

import json
import math
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import flowlib
from flowlib import zoo

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import anytime  # noqa: E402
import checkerboard  # noqa: E402
import density2d  # noqa: E402
import images  # noqa: E402

ROW = {"curve", "KL", "se", "steps", "steps_per_s", "sample_s", "density_s", "inverse",
       "parameters", "lr", "batch"}


def _outputs(folder, stem):
    for suffix in (".json", ".md", ".png"):
        assert (folder / f"{stem}{suffix}").stat().st_size > 0, suffix
    return json.loads((folder / f"{stem}.json").read_text())


def test_density2d_races_the_book_and_its_peers(tmp_path):
    models = ["MAF-10 (ch. 3)", "RealNVP-8 (ch. 4)", "zuko MAF", "nflows MAF"]
    density2d.main(["--density", "moons", "--seconds", "1.5", "--jobs", "2",
                    "--quick", "--out", str(tmp_path), "--models", *models])
    record = _outputs(tmp_path, "density2d_moons-quick")
    assert record["quick"] and record["density"] == "moons"
    assert record["threads"] == 1            # each model's, not the parent's
    assert set(record["models"]) == set(models)
    for name, row in record["models"].items():
        assert set(row) == ROW, name
        assert len(row["curve"]) == len(density2d.MARKS)
        times = [t for t, _, _ in row["curve"]]
        assert times == sorted(times) and times[0] == 0
        # every grade is on the test points, so the curve ends at the final KL;
        # trained below its start (at the end: an early MAF can send a rare point
        # far into the tails at a slice)
        assert row["curve"][-1][2] == pytest.approx(row["KL"], rel=1e-5), name
        assert row["KL"] < row["curve"][0][2], (name, row["KL"], row["curve"])
        assert math.isfinite(row["KL"]) and row["steps"] > 0
    assert record["best"] in ("MAF-10 (ch. 3)", "RealNVP-8 (ch. 4)")
    assert set(record["speedups"]) == {"zuko MAF", "nflows MAF"}
    table = (tmp_path / "density2d_moons-quick.md").read_text()
    assert all(f"| {m} |" in table for m in models)
    # the summary reads full runs only: none yet, then this one marked as full
    with pytest.raises(ValueError, match="no full runs"):
        density2d.summarize(tmp_path)
    record["quick"] = False
    (tmp_path / "density2d_moons.json").write_text(json.dumps(record))
    summary = density2d.summarize(tmp_path)
    assert f"| moons | {record['best']} |" in summary
    assert "sooner than zuko MAF" in summary
    assert (tmp_path / "density2d_summary.md").read_text() == summary


USER_DENSITY = """
import math
import torch

def banana():
    def sample(n):
        x1 = torch.randn(n)
        return torch.stack([x1, 0.5 * x1 ** 2 + 0.3 * torch.randn(n)], 1)

    def log_prob(x, shift={shift}):
        normal = lambda v, s: (-0.5 * (v / s) ** 2 - math.log(s)
                               - 0.5 * math.log(2 * math.pi))
        return normal(x[:, 0], 1.0) + normal(x[:, 1] - 0.5 * x[:, 0] ** 2, 0.3) + shift

    return sample, log_prob
"""


def test_density2d_takes_a_user_density_and_refuses_a_wrong_one(tmp_path, monkeypatch):
    for module, shift in (("good_banana", 0.0), ("bad_banana", 0.4)):
        (tmp_path / f"{module}.py").write_text(
            textwrap.dedent(USER_DENSITY).format(shift=shift))
    monkeypatch.syspath_prepend(str(tmp_path))
    density2d.main(["--density", "good_banana:banana", "--seconds", "1", "--jobs", "1",
                    "--quick", "--out", str(tmp_path), "--models", "MAF-10 (ch. 3)"])
    record = _outputs(tmp_path, "density2d_good_banana-banana-quick")
    row = record["models"]["MAF-10 (ch. 3)"]
    assert row["KL"] < row["curve"][0][2]
    with pytest.raises(ValueError, match="samples and log_prob disagree"):
        density2d.main(["--density", "bad_banana:banana", "--seconds", "1",
                        "--out", str(tmp_path), "--models", "MAF-10 (ch. 3)"])


def test_density_check_names_what_is_wrong():
    truth = flowlib.dataset("rings")
    assert density2d.check_density(truth.sample, truth.log_prob) < 0.02
    with pytest.raises(ValueError, match="disagree"):      # the samples spread wider
        density2d.check_density(lambda n: 1.2 * truth.sample(n), truth.log_prob)
    with pytest.raises(ValueError, match=r"shape \(40000, 2\)"):
        density2d.check_density(lambda n: truth.sample(n)[:, :1], truth.log_prob)
    with pytest.raises(ValueError, match="not finite"):   # support smaller than samples
        checker = flowlib.dataset("checkerboard")
        density2d.check_density(lambda n: 2 * checker.sample(n), checker.log_prob)
    with pytest.raises(ValueError, match="2-D one"):
        density2d.load_density("bimodal")
    with pytest.raises(ValueError, match="unknown data set"):
        density2d.load_density("no such set")


def test_images_race_the_mnist_flows_and_normflows(tmp_path):
    models = ["Glow, affine (ch. 4)", "normflows Glow"]
    images.main(["--seconds", "1.5", "--test", "50", "--curve", "50", "--quick",
                 "--out", str(tmp_path), "--models", *models])
    record = _outputs(tmp_path, "images-quick")
    assert set(record["models"]) == set(models)
    for name, row in record["models"].items():
        assert set(row) == {"curve", "bits", "steps", "images_per_s", "sample16_s",
                            "parameters"}, name
        assert len(row["curve"]) == len(images.MARKS)
        assert row["curve"][-1][2] < row["curve"][0][2], (name, row["curve"])
        assert 0 < row["bits"] < 8 and row["steps"] > 0


def test_normflows_glow_scores_integers_as_the_book_does():
    torch.manual_seed(0)
    model = images.NormflowsGlow(L=2, K=1, hidden=8)
    x = torch.randint(0, 256, (3, 1, 28, 28)).float()
    assert model.log_prob(x).shape == (3,)
    samples = model.sample(2)
    assert samples.shape == (2, 1, 28, 28)
    assert 0 <= samples.min() <= samples.max() <= 255


def test_anytime_grades_each_way_at_each_time(tmp_path):
    stats = anytime.main(["--quick", "--out", str(tmp_path)])
    table = (tmp_path / "anytime-quick.md").read_text()
    for name in anytime.STUDIED:
        for t in (0.5, 1.0):
            for way in ("cosine, long", "schedule-free", "cosine, fitted"):
                assert math.isfinite(stats[name, way, t][0]), (name, way, t)
        assert math.isfinite(stats[name, "schedule-free", 2.0][0])
        assert (name, "cosine, fitted", 2.0) not in stats
        assert f"| {name} | 0.5 s |" in table


def test_checkerboard_study_grades_every_variant(tmp_path):
    entry = zoo.FLOWS["spline AR (ch. 6)"]     # the study starts from the zoo's flow
    size = lambda flow: sum(p.numel() for p in flow.parameters())
    setting = checkerboard.ZOO
    assert size(checkerboard.build(setting)) == size(entry.build())
    assert (setting["lr"], setting["batch"]) == (entry.lr, entry.batch)
    for name, change in checkerboard.VARIANTS.items():   # each builds what it names
        sized = {"layers", "hidden", "bins"} & set(change)
        assert (size(checkerboard.build(setting | change)) != size(entry.build())) \
            == bool(sized), name
    record = checkerboard.main(["--quick", "--out", str(tmp_path)])
    table = (tmp_path / "checkerboard-quick.md").read_text()
    assert table == checkerboard.markdown(record)
    assert record["threads"] == 1
    for name in checkerboard.VARIANTS:
        curve = record["short"][f"{name} | 0"]
        assert len(curve) == 3, (name, curve)           # graded at 0.25, 0.5, 1 s
        assert all(math.isfinite(kl) for _, _, kl in curve), (name, curve)
        assert table.count(f"| {name} |") == 1 + (name in record["long"]), name
    finals = {name: record["short"][f"{name} | 0"][-1][2]
              for name in checkerboard.VARIANTS}
    assert record["best"] == min(finals, key=finals.get)
    assert list(record["long"]) == list(dict.fromkeys(("the zoo's spline AR",
                                                        record["best"])))
    for name, curve in record["long"].items():
        assert curve[0][:2] == (0.0, 0) and curve[-1][2] < curve[0][2], (name, curve)
        marks = {1.0, *(2.0 * m for m in zoo.MARKS)}   # the marks, and 1 s
        assert len(curve) == len(marks), (name, curve)
        at_1s = next(kl for t, _, kl in curve if t >= 1.0)
        assert f"| {name} | {at_1s:.4f} | {curve[-1][2]:.4f} |" in table, name
