"""Checkers for chapter 10's exercises."""

import math

from ._base import _checker, _number, _verdict


def _crossing(curve, level):
    """The reference: the first time a curve of (seconds, KL) reaches ``level``, with
    log KL interpolated linearly in time between grades; None if never."""
    if curve[0][1] <= level:
        return curve[0][0]
    for (t0, k0), (t1, k1) in zip(curve, curve[1:]):
        if k1 <= 0:
            return t1
        if k1 <= level:
            a, b, c = math.log(k0), math.log(k1), math.log(level)
            return t0 + (t1 - t0) * (a - c) / (a - b)
    return None


@_checker
def check_time_to_level(time_to_level):
    """Chapter 10: ``time_to_level(curve, level)`` takes grades ``[(seconds, KL),
    ...]`` in time order and returns when the KL first reached ``level``,
    interpolating log KL linearly between grades; ``None`` if it never did."""
    curve = [(0.0, 2.0), (1.0, 0.5), (3.0, 0.02), (6.0, 0.03), (10.0, 0.004)]
    negative = [(0.0, 1.0), (2.0, 0.1), (4.0, -0.001)]   # an estimate below zero
    cases = [(curve, v) for v in (5.0, 0.5, 0.1, 0.02, 0.01, 0.004, 0.001)]
    for curve_, level in cases + [(negative, 0.01)]:
        want = _crossing(curve_, level)
        try:
            got = time_to_level(curve_, level)
        except ValueError as error:      # math.log of an estimate at or below zero
            raise AssertionError(f"on the curve {curve_} at level {level}: {error}. "
                                 "A grade at or below zero reached the level at its "
                                 "own time; take no logarithm of it.") from None
        if want is None:
            _verdict(got is None, f"at level {level} the curve never gets that low, "
                     f"so the answer is None; got {got}")
            continue
        _verdict(got is not None, f"at level {level}: got None, but the curve reaches "
                 f"it at {want:.4f} s")
        got = _number(got, f"time_to_level(curve, {level})")
        hint = (" Interpolate log KL, not KL: between (1, 0.5) and (3, 0.02) the KL "
                "falls by the same factor in each equal stretch of time."
                if level == 0.1 else "")
        _verdict(abs(got - want) < 1e-9, f"at level {level}: got {got:.4f} s, "
                 f"expected {want:.4f} s.{hint}")
    print("Correct. A grade-by-grade reading would say 3 s for 0.1 nats; the curve "
          f"crossed it at {_crossing(curve, 0.1):.2f} s. A KL that rises again, as "
          "from 3 s to 6 s here, does not undo a level already reached.")


@_checker
def check_break_even(break_even):
    """Chapter 10: ``break_even(train_a, per_sample_a, train_b, per_sample_b)`` is the
    number of samples n from which flow A's total time, train_a + n * per_sample_a,
    is at most flow B's; 0 if A is never dearer, ``math.inf`` if A never catches up."""
    cases = [((60.0, 1e-5, 10.0, 1e-4), math.ceil(50.0 / 9e-5)),
             ((10.0, 1e-5, 60.0, 1e-4), 0),
             ((60.0, 2e-4, 10.0, 1e-4), math.inf),
             ((30.0, 1e-4, 30.0, 1e-4), 0),
             ((20.0, 1e-3, 12.0, 4e-3), 2667)]
    for args, want in cases:
        got = _number(break_even(*args), f"break_even{args}")
        if math.isinf(want):
            _verdict(math.isinf(got), f"break_even{args}: A is dearer to train and to "
                     f"sample, so it never catches up: expected math.inf, got {got}")
            continue
        _verdict(got == want, f"break_even{args}: expected {want}, got {got}. Solve "
                 "train_a + n a <= train_b + n b for the smallest whole n >= 0.")
    print("Correct. At 10 microseconds a sample against 100, a flow that trains 50 s "
          f"longer pays for itself after {math.ceil(50 / 9e-5):,} samples.")
