"""Core map, energy arithmetic, profiles and manifests on hand-built networks and hand-computed numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from snnx.deploy.energy import (
    ann_energy,
    bias_adds_per_inference,
    estimate_energy,
    macs_per_inference,
)
from snnx.deploy.hw import lava_loihi_available, require_lava_loihi
from snnx.deploy.manifest import Manifest, next_power_of_two, verify_bundle
from snnx.deploy.mapping import core_map
from snnx.errors import SnnxError
from snnx.loihi.energy_profile import load_profile
from snnx.loihi.limits import Loihi2Limits
from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet


def tiny_net() -> LoihiNet:
    """conv 1->2 (3x3, stride 2, pad 1) on 1x4x4, flatten, dense 8->3."""
    conv_w = np.zeros((2, 1, 3, 3), dtype=int)
    conv_w[0, 0, 1, 1] = 2  # channel 0: centre tap only
    conv_w[1] = 4  # channel 1: all 9 taps
    dense_w = np.arange(24).reshape(3, 8) % 3 * 2  # zeros where index % 3 == 0
    return LoihiNet(
        InputSpec((1, 4, 4), timesteps=3),
        [
            LoihiLayer(
                "conv",
                (2, 2, 2),
                weight=conv_w,
                stride=(2, 2),
                padding=(1, 1),
                bias=np.ones((2, 2, 2)),
            ),
            LoihiLayer("flatten", (8,)),
            LoihiLayer("dense", (3,), weight=dense_w),
        ],
    )


def test_core_map_by_hand():
    cmap = core_map(tiny_net())
    conv, dense = cmap["layers"]
    # output row oy reads input rows 2*oy - 1 + a. Channel 0 (centre tap a = 1): rows 0 and 2 -> 2 x 2 = 4 synapses.
    # Channel 1 (all taps): oy = 0 reads rows -1, 0, 1 (2 valid), oy = 1 reads 1, 2, 3 (3 valid): (2 + 3)^2 = 25.
    assert conv["synapses"] == 4 + 25
    assert conv["connections"] == 2 * 25
    assert conv["neurons"] == 8 and conv["fan_in_max"] == 9
    nonzero_dense = int(np.count_nonzero(np.arange(24) % 3))
    assert dense["synapses"] == nonzero_dense == 16 and dense["connections"] == 24
    assert dense["bits_per_weight"] <= 8
    # weights 0, 2, 4 take 2 bits; 8 input axons, each one row of 3 neurons: ceil((3 x (2 + 12) + 8) / 64) = 1 word
    assert dense["bits_per_weight"] == 2 and dense["synaptic_memory_words"] == 8 * math.ceil((3 * 14 + 8) / 64) == 8
    assert cmap["total_cores"] == 2 and cmap["chips"] == 1


def test_cores_follow_neuron_and_memory_limits():
    weight = (np.arange(5000).reshape(50, 100) % 255 - 127) * 2  # all 8 bits used, no zeros
    weight[weight == 0] = 2
    net = LoihiNet(InputSpec((100,)), [LoihiLayer("dense", (50,), weight=weight)])
    small = Loihi2Limits(neurons_per_core_by_type={"CUBA": 20}, synaptic_memory_words_per_core=10**6)
    assert core_map(net, small)["layers"][0]["cores"] == 3  # ceil(50 / 20)
    tight = Loihi2Limits(synaptic_memory_words_per_core=1000, cores_per_chip=4)
    layer = core_map(net, tight)["layers"][0]
    assert layer["bits_per_weight"] == 8
    # k cores hold ceil(50 / k) neurons; 100 rows of ceil((n x 20 + 8) / 64) words must fit 1000 words:
    # n = 13 -> 5 words (500) fits, n = 17 -> 6 words (600) fits, n = 25 -> 8 (800) fits, n = 50 -> 16 no
    assert layer["cores"] == 2 and layer["synaptic_memory_words_fullest_core"] == 100 * 8
    assert layer["limited_by"] == "synaptic memory"
    assert core_map(net, tight)["chips"] == math.ceil(layer["cores"] / 4)


def test_macs_and_ann_energy_by_hand():
    net = tiny_net()
    assert macs_per_inference(net) == 8 * 9 + 3 * 8  # out neurons x fan-in (torch's count)
    assert bias_adds_per_inference(net) == 8
    ann = ann_energy(1_000_000, 1000)
    assert ann["fp32_energy_per_inference_uJ"] == pytest.approx((1e6 * 4.6 + 1000 * 0.9) * 1e-6)
    assert ann["int8_energy_per_inference_uJ"] == pytest.approx((1e6 * 0.23 + 1000 * 0.03) * 1e-6)


def _profile(tmp_path, **over):
    values = {
        "synop_pJ": 2.0,
        "neuron_update_inactive_pJ": 1.0,
        "neuron_update_spiking_pJ": 3.0,
        "spike_within_tile_pJ": 0.5,
        "tile_hop_pJ": 0.25,
        "tile_hops_per_spike": 2.0,
        "static_power_per_core_uW": 4.0,
        "step_time_us": 10.0,
    } | over
    data = {
        "name": "mine",
        "description": "test",
        "constants": {k: {"value": v, "source": "me"} for k, v in values.items()},
    }
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    return path


def test_energy_arithmetic_against_hand_numbers(tmp_path):
    prof = load_profile(str(_profile(tmp_path)))
    activity = [
        {
            "name": "a",
            "kind": "dense",
            "neurons": 10,
            "input_spikes": 20.0,
            "synops": 100.0,
            "spikes": 5.0,
            "neuron_updates": 50.0,
        },
        {
            "name": "b",
            "kind": "dense",
            "neurons": 2,
            "input_spikes": 5.0,
            "synops": 10.0,
            "spikes": 1.0,
            "neuron_updates": 10.0,
        },
    ]
    e = estimate_energy(
        activity, [1, 2], 5, prof, timesteps=3, accuracy=0.5, samples=7, ann=ann_energy(100)
    )
    # layer a: 100*2 + (5*3 + 45*1) + 5*(0.5 + 2*0.25) = 200 + 60 + 5 = 265 pJ; static 4 uW * 1 core * 5 * 10 us = 200 pJ
    # layer b: 10*2 + (1*3 + 9*1) + 1*1 = 33 pJ; static 4 * 2 * 50 = 400 pJ
    assert e["dynamic_energy_per_inference_uJ"] == pytest.approx(298e-6)
    assert e["static_energy_per_inference_uJ"] == pytest.approx(600e-6)
    assert e["energy_per_inference_uJ"] == pytest.approx(898e-6)
    assert e["layers"][0]["energy_uJ"] == pytest.approx(465e-6)
    assert (
        e["synops_per_inference"],
        e["spikes_per_inference"],
        e["neuron_updates_per_inference"],
    ) == (110, 6, 60)
    assert e["latency_us"] == 50 and e["accuracy"] == 0.5 and e["profile"]["name"] == "mine"
    assert e["ann"]["snn_over_fp32"] == pytest.approx(898e-6 / (460e-6))


def test_builtin_profile_has_design_values_with_sources():
    prof = load_profile(None)
    assert prof.name == "loihi1-davies2018"
    assert (
        prof["synop_pJ"],
        prof["neuron_update_inactive_pJ"],
        prof["neuron_update_spiking_pJ"],
    ) == (23.6, 52, 81)
    assert prof["spike_within_tile_pJ"] == 1.7 and 3.0 <= prof["tile_hop_pJ"] <= 4.0
    assert all("Davies" in prof.constants[k]["source"] for k in ("synop_pJ", "tile_hop_pJ"))
    assert "assumption" in prof.constants["step_time_us"]["source"]


def test_bad_profiles_are_one_line_errors(tmp_path):
    with pytest.raises(SnnxError, match="not found; use one of loihi1-davies2018"):
        load_profile("nope")
    with pytest.raises(SnnxError, match="not found"):
        load_profile(str(tmp_path / "missing.json"))
    with pytest.raises(SnnxError, match="synop_pJ must be"):
        load_profile(str(_profile(tmp_path, synop_pJ=-1)))
    path = _profile(tmp_path)
    data = json.loads(path.read_text())
    del data["constants"]["step_time_us"]
    path.write_text(json.dumps(data))
    with pytest.raises(SnnxError, match="missing step_time_us"):
        load_profile(str(path))


def _manifest() -> Manifest:
    return Manifest(
        target="loihi2",
        model="model.net",
        input={"shape": [4]},
        output={"shape": [2]},
        timesteps=3,
        latency_steps=2,
        steps_per_sample=5,
        reset_interval=next_power_of_two(4),
        reset_offset=1,
    )


def test_manifest_checksums_verified_and_modified_bundle_refused(tmp_path):
    (tmp_path / "model.net").write_bytes(b"weights")
    (tmp_path / "energy.json").write_text("{}")
    _manifest().save(tmp_path)
    m = verify_bundle(tmp_path)
    assert set(m.files) == {"model.net", "energy.json"} and m.reset_interval == 4
    assert m.versions["lava-nc"] != "not installed"
    (tmp_path / "model.net").write_bytes(b"weightz")
    with pytest.raises(SnnxError, match="model.net was modified"):
        verify_bundle(tmp_path)
    (tmp_path / "model.net").write_bytes(b"weights")
    verify_bundle(tmp_path)
    (tmp_path / "energy.json").unlink()
    with pytest.raises(SnnxError, match="energy.json is missing"):
        verify_bundle(tmp_path)
    with pytest.raises(SnnxError, match="not a deployment bundle"):
        verify_bundle(tmp_path / "elsewhere")


def test_reset_interval_is_a_power_of_two():
    assert [next_power_of_two(n) for n in (1, 2, 3, 26, 32, 33)] == [1, 2, 4, 32, 32, 64]


@pytest.mark.skipif(lava_loihi_available(), reason="lava-loihi is installed here")
def test_hardware_run_without_lava_loihi_is_one_clear_line():
    with pytest.raises(SnnxError, match="lava-loihi.*snnx sim RUN --backend lava"):
        require_lava_loihi()
