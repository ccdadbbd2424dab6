"""Coupling layers, their masks and conditioners, and the image-flow pieces (Glow)."""

import torch

import flowlib
from flowlib import (ActNorm, Conv1x1, ConvNet, Coupling, MLP, MultiScale, Squeeze,
                     channel_mask, checkerboard, half_mask, scalar)
from flowlib.testing import check_bijector, check_identity, randomize


def test_masks_split_the_coordinates_in_halves():
    assert checkerboard((4,)).tolist() == [False, True, False, True]
    assert checkerboard((4,), 1).tolist() == [True, False, True, False]
    board = checkerboard((2, 4, 4))
    assert board.shape == (2, 4, 4) and board.sum() == 16
    assert torch.equal(board[0], board[1]) and not board[0, 0, 0] and board[0, 0, 1]
    assert (board[:, :, 1:] != board[:, :, :-1]).all()        # neighbours alternate
    channels = channel_mask((4, 3, 3))
    assert channels[:2].all() and not channels[2:].any()
    assert torch.equal(channel_mask((4, 3, 3), 1), ~channels)
    top = half_mask((1, 4, 4))
    assert top[:, :2].all() and not top[:, 2:].any()


def test_coupling_starts_as_the_identity_and_passes_its_half():
    check_identity(Coupling(checkerboard((6,)), MLP(6, 12)), torch.randn(5, 6))
    check_identity(Coupling(checkerboard((1, 4, 4)), ConvNet(1, 2, hidden=8)),
                   torch.randn(3, 1, 4, 4))
    layer = randomize(Coupling(channel_mask((2, 4, 4)), ConvNet(2, 4, hidden=8)), 0.3)
    x = torch.randn(3, 2, 4, 4)
    z, _ = layer(x)
    assert torch.equal(z[:, 0], x[:, 0]) and not torch.allclose(z[:, 1], x[:, 1])


def test_the_passed_half_sets_the_transform_of_the_other():
    """Changing x_B leaves z_A and the parameters of z_B alone: the Jacobian is
    block triangular, and the inverse is one pass (no bisection for affine maps)."""
    layer = randomize(Coupling(checkerboard((4,)), MLP(4, 8, (16,))), 0.5)
    x = torch.randn(5, 4)
    moved = x.clone()
    moved[:, ::2] += 1.0                      # the mask passes 1 and 3: move 0 and 2
    (z, _), (z_moved, _) = layer(x), layer(moved)
    assert torch.equal(z[:, 1::2], z_moved[:, 1::2])
    params = layer._params(x * layer.mask, None)
    assert torch.equal(params, layer._params(moved * layer.mask, None))
    calls = []
    real = scalar.bisect
    scalar.bisect = lambda *a, **k: calls.append(1) or real(*a, **k)
    try:
        x_back, _ = layer.inverse(z)
    finally:
        scalar.bisect = real
    assert not calls and torch.allclose(x_back, x, atol=1e-5)


def test_nice_coupling_preserves_volume():
    layer = randomize(Coupling(checkerboard((4,)), MLP(4, 4, (8,)), scalar.additive, 1))
    _, ladj = layer(torch.randn(7, 4))
    assert torch.equal(ladj, torch.zeros(7))


def test_actnorm_initializes_from_its_first_batch_and_keeps_it():
    x = 3 + 2 * torch.randn(64, 3, 5, 5) * torch.tensor([1.0, 0.5, 4.0])[:, None, None]
    norm = ActNorm(3)
    z, ladj = norm(x)
    torch.testing.assert_close(z.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std((0, 2, 3)), torch.ones(3), atol=1e-5, rtol=0)
    assert bool(norm.initialized)
    saved = norm.state_dict()
    z2, _ = norm(10 * x)                       # a later batch does not re-initialize
    torch.testing.assert_close(z2, 10 * z + 9 * norm.loc * torch.exp(-norm.log_scale),
                               atol=1e-4, rtol=1e-5)
    restored = ActNorm(3)
    restored.load_state_dict(saved)
    torch.testing.assert_close(restored(x)[0], z)  # the loaded model is initialized


def test_conv1x1_log_det_is_pixels_times_log_det_w():
    conv = randomize(Conv1x1(4), 0.4)
    x = torch.randn(2, 4, 3, 5)
    _, ladj = conv(x)
    want = 15 * torch.linalg.slogdet(conv.weight()).logabsdet
    torch.testing.assert_close(ladj, want.expand(2))


def test_squeeze_moves_each_two_by_two_patch_into_channels():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    z, _ = Squeeze()(x)
    assert z[0, :, 0, 0].tolist() == [0.0, 1.0, 4.0, 5.0]   # the top-left patch
    assert torch.equal(Squeeze().inverse(z)[0], x)


def test_multiscale_factors_out_latents_that_later_scales_do_not_touch():
    def level(c, h, w):
        return flowlib.Compose(Conv1x1(c), Coupling(channel_mask((c, h, w)),
                                                    ConvNet(c, 2 * c, hidden=8)))
    flow = randomize(MultiScale((1, 8, 8), [level(4, 4, 4), level(8, 2, 2)]), 0.3)
    x = torch.randn(3, 1, 8, 8)
    z, _ = flow(x)
    assert z.shape == x.shape
    with torch.no_grad():                      # change the last scale only
        for p in flow.levels[1].parameters():
            p.add_(0.1)
    z_after, _ = flow(x)
    factored = 2 * 4 * 4                        # half of the first scale's 4x4x4
    assert torch.equal(z.flatten(1)[:, :factored], z_after.flatten(1)[:, :factored])
    assert not torch.allclose(z.flatten(1)[:, factored:], z_after.flatten(1)[:, factored:])
    check_bijector(flow, x)


def test_multiscale_split_gives_each_scales_latents_and_merge_undoes_it():
    flow = MultiScale((1, 8, 8), [ConvNet(4, 4, hidden=4), ConvNet(8, 8, hidden=4)])
    z = torch.randn(3, 1, 8, 8)
    parts = flow.split(z)
    assert [tuple(p.shape[1:]) for p in parts] == [(2, 4, 4), (8, 2, 2)]
    assert torch.equal(parts[0].flatten(1), z.flatten(1)[:, :32])
    assert torch.equal(flow.merge(parts), z)


def test_a_bf16_conditioner_returns_float32_close_to_the_float32_one():
    net = randomize(ConvNet(4, 8, hidden=16, bf16=True), 0.3)
    x = torch.randn(2, 4, 6, 6)
    out = net(x)
    net.bf16 = False
    exact = net(x)
    assert out.dtype == torch.float32
    assert not torch.equal(out, exact)                   # it did compute in bfloat16
    assert (out - exact).abs().max() < 0.05 * exact.abs().max()


def test_a_coupling_with_a_bf16_conditioner_inverts_to_float32_precision():
    layer = randomize(Coupling(channel_mask((4, 6, 6), 1), ConvNet(4, 8, 16, bf16=True)), 0.3)
    x = torch.randn(3, 4, 6, 6)
    z, ladj = layer(x)
    x_back, ladj_back = layer.inverse(z)
    assert (x_back - x).abs().max() < 1e-5 and (ladj + ladj_back).abs().max() < 1e-4
