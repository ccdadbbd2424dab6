"""Plots of 2-D densities, samples, latent spaces and conditionals, on a common
grid.

Each helper draws into a matplotlib ``ax`` that you pass, so a chapter lays out its
own figures; ``span`` is the ``(low, high)`` range of both axes.
"""

import re

import torch


def grid(span, n=200):
    """An ``n`` by ``n`` grid of points over ``span`` squared, shape ``(n * n, 2)``,
    rows varying in y."""
    axis = torch.linspace(*span, n)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xx.flatten(), yy.flatten()], 1)


@torch.no_grad()
def density(ax, log_prob, span, n=200, title=None, device=None, vmax=None):
    """Heat map of ``exp(log_prob(x))`` over the grid (colours up to ``vmax``, by
    default the largest value); returns the values, shape ``(n, n)``."""
    points = grid(span, n)
    values = torch.cat([log_prob(p.to(device) if device else p).exp().cpu()
                        for p in points.split(8192)])
    values = torch.nan_to_num(values).view(n, n)
    ax.imshow(values.numpy(), origin="lower", extent=(*span, *span), cmap="viridis",
              aspect="equal", vmin=0 if vmax is not None else None, vmax=vmax)
    ax.set(title=title, xticks=[], yticks=[])
    return values


def points(ax, x, span, title=None, bins=120):
    """A 2-D histogram of the points ``x``: readable for tens of thousands of
    samples."""
    x = x.detach().cpu()
    ax.hist2d(x[:, 0].numpy(), x[:, 1].numpy(), bins=bins, range=[span, span],
              cmap="viridis")
    ax.set(title=title, xticks=[], yticks=[], aspect="equal")


@torch.no_grad()
def conditionals(ax, bijector, span, given=0, values=(-1.5, -0.5, 0.25), n=300,
                 title=None, device=None):
    """The learned map of one coordinate while the other is held at each of
    ``values``.

    For an autoregressive flow with uniform base this is the conditional CDF of the
    second coordinate given the first (``given=0``). The default ``values`` avoid the
    integers, where the checkerboard's cells have their edges (a cut along an edge shows
    no steps), and are not symmetric about 0, so that on data symmetric under
    ``x -> -x`` no two curves coincide.
    """
    other = 1 - given
    axis = torch.linspace(*span, n)
    for v in values:
        x = torch.empty(n, 2)
        x[:, given], x[:, other] = v, axis
        z, _ = bijector(x.to(device) if device else x)
        ax.plot(axis.numpy(), z[:, other].cpu().numpy(), label=f"x{given + 1} = {v:g}")
    ax.set(title=title, xlabel=f"x{other + 1}")
    ax.legend(fontsize=7)


def network(ax, masks, title=None):
    """Draw a masked network: one row of units per layer (inputs at the bottom), and a
    line for every weight that its 0/1 mask keeps. ``masks`` lists the masks, each
    ``(out, in)``."""
    sizes = [masks[0].shape[1]] + [m.shape[0] for m in masks]
    place = lambda layer, k: ((k + 0.5) / sizes[layer], layer)
    for layer, mask in enumerate(masks):
        for o, i in mask.nonzero().tolist():
            (x0, y0), (x1, y1) = place(layer, i), place(layer + 1, o)
            ax.plot([x0, x1], [y0, y1], color="0.6", lw=0.8, zorder=1)
    for layer, size in enumerate(sizes):
        ax.scatter([place(layer, k)[0] for k in range(size)], [layer] * size, s=120,
                   color="C1" if layer in (0, len(sizes) - 1) else "C0", zorder=2)
    ax.set(title=title, xticks=[], yticks=range(len(sizes)),
           yticklabels=["inputs"] + [f"hidden {k}" for k in range(1, len(sizes) - 1)]
                       + ["outputs"])
    ax.set_frame_on(False)


_CONTROLS = {  # matplotlib's Font Awesome icons, as characters common fonts have
    '<i class="fa fa-minus"></i>': "&minus;",
    '<i class="fa fa-fast-backward"></i>': "&#x21E4;",
    '<i class="fa fa-step-backward"></i>': "&#x25C0;&#x2502;",
    '<i class="fa fa-play fa-flip-horizontal"></i>': "&#x25C0;",
    '<i class="fa fa-pause"></i>': "&#x2016;",
    '<i class="fa fa-play"></i>': "&#x25B6;",
    '<i class="fa fa-step-forward"></i>': "&#x2502;&#x25B6;",
    '<i class="fa fa-fast-forward"></i>': "&#x21E5;",
    '<i class="fa fa-plus"></i>': "+",
}


def animation(movie, fps=4):
    """A matplotlib animation as a self-contained HTML player (``to_jshtml``) that
    works offline: the control icons are characters instead of a font fetched from a
    CDN, so the buttons show on a static page without network."""
    from IPython.display import HTML
    html = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]*font-awesome[^"]*">',
                  "", movie.to_jshtml(fps=fps))
    for icon, text in _CONTROLS.items():
        html = html.replace(icon, text)
    if "fa fa-" in html or "https://" in html:
        raise RuntimeError("matplotlib's player changed: update plot._CONTROLS")
    return HTML(html)
