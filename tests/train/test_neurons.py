"""The float CUBA LIF against hand-computed steps and against snntorch's own neurons."""

import pytest
import snntorch as snn
import torch

from snnx.train import kernel
from snnx.train.neurons import cuba_sequence, cuba_step, make_spike_fn


def test_hand_computed_steps() -> None:
    spike = make_spike_fn("atan")
    i = v = torch.zeros(1)
    trace = []
    for x in [0.6, 0.6, 0.0, 0.9]:
        s, i, v = cuba_step(torch.tensor([x]), i, v, 0.5, 0.9, 1.0, 0.1, spike)
        trace.append((round(i.item(), 6), round(v.item(), 6), s.item()))
    # i = 0.5 i + x ; v = 0.9 v + i + 0.1 ; spike when v > 1, then v = 0 (i kept)
    assert trace == [(0.6, 0.7, 0.0), (0.9, 0.0, 1.0), (0.45, 0.55, 0.0), (1.125, 0.0, 1.0)]


def test_threshold_is_strict() -> None:
    s, _, v = cuba_step(torch.tensor([1.0]), torch.zeros(1), torch.zeros(1), 0.0, 0.9, 1.0, 0.0, make_spike_fn())
    assert s.item() == 0.0 and v.item() == 1.0


@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_equals_snntorch_with_zero_reset(alpha: float) -> None:
    torch.manual_seed(0)
    x = torch.randn(30, 8, 16) * 0.8
    spikes, _ = cuba_sequence(x, alpha, 0.9, 1.0, 0.0, make_spike_fn())
    if alpha == 0.0:
        ref_neuron = snn.Leaky(beta=0.9, threshold=1.0, reset_mechanism="zero", reset_delay=False)
        mem = ref_neuron.init_leaky()
        ref = []
        for t in range(x.shape[0]):
            s, mem = ref_neuron(x[t], mem)
            ref.append(s)
    else:
        ref_neuron = snn.Synaptic(alpha=alpha, beta=0.9, threshold=1.0, reset_mechanism="zero", reset_delay=False)
        syn, mem = ref_neuron.init_synaptic()
        ref = []
        for t in range(x.shape[0]):
            s, syn, mem = ref_neuron(x[t], syn, mem)
            ref.append(s)
    ref = torch.stack(ref)
    assert spikes.sum() > 10
    assert torch.equal(spikes, ref)


def test_surrogate_gives_gradients() -> None:
    w = torch.tensor(0.5, requires_grad=True)
    spikes, _ = cuba_sequence(torch.ones(10, 1, 1) * w, 0.0, 0.95, 1.0, 0.0, make_spike_fn("fast_sigmoid"))
    spikes.sum().backward()
    assert w.grad is not None and w.grad.item() > 0


@pytest.mark.parametrize("alpha", [0.0, 0.6])
@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 4)])
@pytest.mark.parametrize("surrogate", ["atan", "fast_sigmoid"])
def test_fused_bptt_equals_autograd_loop(alpha: float, shape: tuple, surrogate: str) -> None:
    """The hand-written backward of CubaBPTT gives autograd's spikes and gradients."""
    torch.manual_seed(1)
    x0 = torch.randn(20, 6, *shape) * 0.9 + 0.3
    b0 = torch.randn(shape[0], *([1] * (len(shape) - 1))) * 0.1
    grad_out = torch.randn(20, 6, *shape)
    results = []
    for fused in (True, False):
        x = x0.clone().requires_grad_()
        b = b0.clone().requires_grad_()
        th = torch.tensor(0.8, requires_grad=True)
        s, _ = cuba_sequence(x, alpha, 0.9, th, b, make_spike_fn(surrogate), fused=fused)
        (s * grad_out).sum().backward()
        results.append((s, x.grad, b.grad, th.grad))
    (s1, gx1, gb1, gt1), (s2, gx2, gb2, gt2) = results
    assert 0.05 < s1.mean() < 0.6
    assert torch.equal(s1, s2)
    torch.testing.assert_close(gx1, gx2, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gb1, gb2, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gt1, gt2, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("repeat", [0, 6])
def test_kernel_threads_and_eager_agree(monkeypatch, repeat: int) -> None:
    """The compiled kernel on 1 and 2 threads (a state big enough to be split) gives the same spikes
    and per-element gradients bit for bit, and the eager CubaBPTT (the reference) the same spikes and gradients
    up to float rounding; ``repeat`` is the direct-input path (one step of current, summed gradient)."""
    if kernel.library() is None:
        pytest.skip("no C compiler: the kernel is not built here (the eager path is tested above)")
    torch.manual_seed(2)
    n_in = 1 if repeat else 9
    x0 = torch.randn(n_in, 40, 2000) * 0.5 + 0.2
    b0 = torch.randn(2000) * 0.05
    grad_out = torch.randn(10, 40, 2000)
    threads = torch.get_num_threads()

    def run(n_threads: int, compiled: bool):
        torch.set_num_threads(n_threads)
        with monkeypatch.context() as m:
            if not compiled:
                m.setattr(kernel, "applies", lambda *a: False)
            x = x0.clone().requires_grad_()
            b = b0.clone().requires_grad_()
            th = torch.tensor(0.9, requires_grad=True)
            s, _ = cuba_sequence(x, 0.5, 0.9, th, b, make_spike_fn("atan"), steps=9, hold=1, repeat=repeat)
            (s * grad_out).sum().backward()
        return s, x.grad, b.grad, th.grad

    try:
        one, two, eager = run(1, True), run(2, True), run(2, False)
    finally:
        torch.set_num_threads(threads)
    assert 0.05 < one[0].mean() < 0.6
    for a, b in zip(one[:3], two[:3], strict=True):  # per element: the same arithmetic on any thread
        assert torch.equal(a, b)
    torch.testing.assert_close(one[3], two[3])  # a sum over all elements: torch's reduction, per thread count
    assert torch.equal(one[0], eager[0])
    for a, b in zip(one[1:], eager[1:], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(("alpha", "surrogate", "direct"), [(0.0, "atan", True), (0.5, "fast_sigmoid", False)])
def test_kernel_fed_readout_equals_layer_then_matmul(monkeypatch, alpha: float, surrogate: str, direct: bool) -> None:
    """A hidden layer whose kernel forms the readout's current itself (CubaDense) gives the same hidden
    and output spikes as the layer followed by the readout's matmul, the same gradients up to float
    rounding (also through the hidden spikes, as an energy term takes them), the same bit for bit on 1
    and 2 threads, and the same output and gradients when the hidden spikes are not kept."""
    if kernel.library() is None:
        pytest.skip("no C compiler: the kernel is not built here")
    from snnx.train import models

    torch.manual_seed(3)
    spec = models.ModelSpec("fc", (100,), [models.LayerSpec("dense", 1000, flatten_before=True),
                                           models.LayerSpec("dense", 10)], alpha=alpha, surrogate=surrogate)
    net = models.SNN(spec)
    with torch.no_grad():
        net.layers[0].synapse.weight.mul_(4.0)
        net.layers[1].synapse.weight.mul_(2.0)
    img = torch.rand(1, 40, 100) * (torch.rand(1, 40, 100) < 0.5)  # 40 x 1000 neurons: split over 2 threads
    x = img.expand(12, 40, 100) if direct else (torch.rand(12, 40, 100) < img).float()
    y = torch.arange(40) % 10
    w_hidden = torch.randn(14, 40, 1000) * 0.01
    threads = torch.get_num_threads()

    def run(fed: bool, n_threads: int = 1, keep: bool = True):
        torch.set_num_threads(n_threads)
        with monkeypatch.context() as m:
            if not fed:
                m.setattr(models.SpikingLayer, "fed_by_kernel", lambda self: False)
            net.zero_grad()
            out = net(x, hidden_spikes=keep)
            loss = torch.nn.functional.cross_entropy(out.counts, y)
            if keep:
                loss = loss + (out.spikes[0] * w_hidden).sum()
            loss.backward()
        return out.spikes, [p.grad.clone() for p in net.parameters()]

    try:
        fed, fed2, plain = run(True), run(True, 2), run(False)
        lean, lean_plain = run(True, keep=False), run(False, keep=False)
    finally:
        torch.set_num_threads(threads)
    (s_fed, g_fed), (s_plain, g_plain) = fed, plain
    assert 0.02 < s_fed[0].mean() < 0.5 and s_fed[1].sum() > 50
    assert torch.equal(s_fed[0], s_plain[0]) and torch.equal(s_fed[1], s_plain[1])
    for a, b in zip(g_fed, g_plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # per element the same arithmetic on any thread (the readout's weight gradient is the kernel's alone)
    for a, b in zip([*s_fed, g_fed[2]], [*fed2[0], fed2[1][2]], strict=True):
        assert torch.equal(a, b)
    assert lean[0][0] is None and torch.equal(lean[0][1], s_fed[1])
    for a, b in zip(lean[1], lean_plain[1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
