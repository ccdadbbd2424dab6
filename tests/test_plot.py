import inspect

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt
import torch

import flowlib
from flowlib import plot


def test_grid_rows_vary_in_y_so_images_are_not_transposed():
    g = plot.grid((-1.0, 1.0), n=3)
    assert g.shape == (9, 2)
    assert g[:3, 1].tolist() == [-1.0, -1.0, -1.0] and g[:3, 0].tolist() == [-1.0, 0.0, 1.0]
    fig, ax = plt.subplots()
    # a density that grows with x only: each image row must grow from left to right
    values = plot.density(ax, lambda x: x[:, 0], (-1.0, 1.0), n=5)
    assert values.shape == (5, 5) and (values[:, 1:] > values[:, :-1]).all()
    plt.close(fig)


def test_points_and_conditionals_draw():
    fig, axes = plt.subplots(1, 2)
    plot.points(axes[0], torch.randn(500, 2), (-3, 3), title="t")
    ar = flowlib.Autoregressive(2, n_params=6, hidden=(8,))
    plot.conditionals(axes[1], ar, (-9, 9), values=(-1.0, 1.0))
    assert len(axes[1].lines) == 2
    for line in axes[1].lines:  # conditional CDFs of a uniform-base flow increase from 0 to 1
        y = torch.tensor(line.get_ydata())
        assert (y[1:] >= y[:-1]).all() and y[0] < 0.01 and y[-1] > 0.99
    plt.close(fig)


def test_default_conditionals_cut_through_checkerboard_cells():
    values = inspect.signature(plot.conditionals).parameters["values"].default
    assert all(v != round(v) for v in values)     # the checkerboard's cell edges are integers
    assert all(-v not in values for v in values)  # symmetric data: no two curves coincide
    fig, ax = plt.subplots()
    plot.conditionals(ax, flowlib.Autoregressive(2, n_params=6, hidden=(8,)), (-3, 3))
    assert [line.get_label() for line in ax.lines] == [f"x1 = {v:g}" for v in values]
    plt.close(fig)


def test_network_draws_one_line_per_kept_weight():
    made = flowlib.MADE(3, 1, hidden=(4,))
    masks = [m.mask for m in made.net if isinstance(m, flowlib.MaskedLinear)]
    fig, ax = plt.subplots()
    plot.network(ax, masks)
    assert len(ax.lines) == sum(int(m.sum()) for m in masks)
    plt.close(fig)


def test_animation_player_needs_no_network():
    import matplotlib
    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    from matplotlib import animation
    fig, ax = plt.subplots()
    line, = ax.plot([0, 1], [0, 1])
    movie = animation.FuncAnimation(fig, lambda k: line.set_ydata([0, k]), frames=3)
    html = flowlib.plot.animation(movie, fps=2).data
    plt.close(fig)
    assert "http" not in html and "fa fa-" not in html and "<link" not in html
    assert html.count("<button") == 9 and 'class="animation"' in html
