"""The benchmark suite: FLOP counters against hand counts, and one tiny record of each kind."""

import types

import jax
import jax.numpy as jnp
import pytest
from jax import lax

from benchmarks import flops, report, suite
from benchmarks.__main__ import main as bench_main
from benchmarks.specs import ConvSpec
from benchmarks.timing import Timing


def test_conv_and_dense_flops_by_hand():
    # 2 · N · H · W · Cin · Cout · kh · kw
    assert flops.conv_flops(2, 8, 8, 3, 5, 3, 3) == 2 * 2 * 64 * 3 * 5 * 9 == 34_560
    assert flops.dense_flops(4, 10, 3) == 240
    assert ConvSpec("c", "conv", 2, 10, 10, 3, 5, padding="VALID").flops() == 2 * 2 * 64 * 15 * 9
    # transposed: counted at the input positions, 4 taps each
    assert ConvSpec("t", "conv_transpose", 1, 4, 4, 6, 2, 2, 2, 2).flops() == 2 * 16 * 12 * 4


def test_jaxpr_flops_counts_convs_dots_and_gradients():
    conv = lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    x, w = jnp.ones((2, 8, 8, 3)), jnp.ones((3, 3, 3, 5))
    assert flops.jaxpr_flops(conv, x, w) == 34_560
    grads = jax.grad(lambda x, w: conv(x, w).sum(), argnums=(0, 1))
    assert flops.jaxpr_flops(grads, x, w) == 3 * 34_560   # forward, dgrad, wgrad
    a, b = jnp.ones((4, 10)), jnp.ones((10, 3))
    assert flops.jaxpr_flops(lambda a, b: jax.jit(jnp.dot)(a, b), a, b) == 240


PEAK = {"float32": 1e10, "bfloat16": 1e10}


def _check(record, fields):
    for name, kind in fields.items():
        assert isinstance(record[name], kind), (name, record[name])


def test_conv_record():
    spec = ConvSpec("tiny", "conv", 2, 8, 8, 3, 4)
    records = suite.run_conv(PEAK, quick=True, peers=False, specs=[spec], dtypes=("float32",),
                             log=lambda _: None)
    assert [r["direction"] for r in records] == ["fwd", "dgrad", "wgrad"]
    for r in records:
        _check(r, {"name": str, "shape": str, "dtype": str, "direction": str, "median_s": float,
                   "gflop_per_s": float, "pct_of_peak": float, "backend": str, "device": str})
        assert r["flops"] == spec.flops() and r["vs_torch"] is None


def test_train_record():
    records = suite.run_train(PEAK, quick=True, peers=False, models=[("cnn_small", 8, 28)],
                              dtypes=("float32", "bfloat16"), log=lambda _: None)
    assert [r["dtype"] for r in records] == ["float32", "bfloat16"]
    for r in records:
        _check(r, {"images_per_sec": float, "median_s": float, "compile_s": float,
                   "model_flops": int, "mfu_pct": float, "params": int})
        assert r["params"] == 93_322 and r["model_flops"] > 0


def test_train_rounds_alternate_jax_and_the_peers_and_take_median_ratios(monkeypatch):
    calls = []
    fake_peer = types.SimpleNamespace(available=lambda: True)
    monkeypatch.setattr(suite, "TRAIN_PEERS", (("slow", "slow", fake_peer, ("cnn_small",)),))

    def run(peer, model, *args, **kwargs):
        calls.append(peer)
        return {"median_s": 0.5 * len(calls), "compile_s": 1.0, "params": 93_322,
                "setup": "fake"}

    monkeypatch.setattr(suite.peer_process, "run", run)
    monkeypatch.setattr(suite.train.JaxStep, "time", lambda self, **kw: _rounds.pop(0))
    _rounds = [Timing(t, 0.0, 2, [t, t]) for t in (0.1, 0.4, 0.2)]
    [r] = suite.run_train(PEAK, quick=True, peers=True, models=[("cnn_small", 8, 28)],
                          rounds=3, log=lambda _: None)
    assert calls == ["slow"] * 3 and r["rounds"] == 3
    assert r["round_s"] == [0.1, 0.4, 0.2] and r["median_s"] == 0.2
    assert r["slow_round_s"] == [0.5, 1.0, 1.5] and r["slow_s"] == 1.0
    assert r["vs_slow"] == pytest.approx(5.0)  # per-round ratios 5.0, 2.5, 7.5
    _rounds[:] = [Timing(t, 0.0, 2, [t, t]) for t in (0.1, 0.1, 1.0)]
    calls.clear()
    [r] = suite.run_train(PEAK, quick=True, peers=True, models=[("cnn_small", 8, 28)],
                          rounds=3, log=lambda _: None)
    # ratios 5.0, 10.0, 1.5 -> median 5.0; ratio of medians would be 1.0 / 0.1 = 10.0
    assert r["median_s"] == 0.1 and r["slow_s"] == 1.0 and r["vs_slow"] == pytest.approx(5.0)


def test_rounds_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench_main(["train", "--rounds", "0"])
    assert exit_info.value.code == 2
    assert "--rounds must be at least 1, got 0" in capsys.readouterr().err


def test_input_records_and_report(tmp_path):
    records = suite.run_input(quick=True, log=lambda _: None)
    assert {r["reader"] for r in records} >= {"numpy"}
    assert all(r["images_per_sec"] > 0 for r in records)
    table = report.markdown(records)
    assert "| synthetic 96x96 | numpy |" in table
    streamed = [r for r in records if r["name"].startswith("prepared")]
    assert {(r["reader"], r["workers"]) for r in streamed} >= {("grain", 0), ("grain", 2)}
    assert all(r["rss_mb"] > 0 for r in streamed)
    chart = tmp_path / "chart.png"
    conv = {"kind": "conv", "name": "c", "dtype": "float32", "direction": "fwd", "impl": "jax",
            "pct_of_peak": 50.0, "vs_torch": 1.2}
    report.write_chart(str(chart), [conv])
    assert chart.stat().st_size > 0


@pytest.mark.parametrize("peer", ["torch", "keras"])
def test_missing_peer_is_reported_not_fatal(monkeypatch, peer):
    module = getattr(suite, f"peer_{peer}")
    monkeypatch.setattr(module, "available", lambda: False)
    assert suite.peers_status(True)[peer] == "not installed"


@pytest.mark.skipif(not suite.peer_keras.available(),
                    reason="the Keras peer needs TensorFlow and Keras (pip install -e '.[tf]')")
@pytest.mark.parametrize("model, params", [("cnn_small", 93_322), ("cnn_tiny", 54_410)])
def test_keras_fit_peer_runs_in_its_own_process_with_the_same_model(model, params):
    from benchmarks import peer_process

    t = peer_process.run("keras-fit", model, 8, 28, 1, threads=1, repeats=2, warmup=1)
    assert "error" not in t, t
    assert t["params"] == params  # the JAX model's count (test_train_record, the README)
    # 2 timed epochs of 64 // 8 = 8 steps: 7 step-to-step intervals each
    assert t["median_s"] > 0 and t["repeats"] == 14
    assert "model.fit" in t["setup"] and "1 intra-op threads" in t["setup"]
    assert "step to step inside epochs of 8" in t["setup"]


def test_a_failing_peer_comes_back_as_one_line_not_an_exception():
    from benchmarks import peer_process

    t = peer_process.run("torch", "no_such_model", 8, 28, 1, threads=1, repeats=1, warmup=1)
    assert set(t) == {"error"} and "torch failed (exit 2)" in t["error"]
    assert "\n" not in t["error"]


@pytest.mark.skipif(not suite.peer_torch.available(),
                    reason="the PyTorch peer needs torch (pip install -e '.[peers]')")
@pytest.mark.parametrize("model, params, dtype", [("cnn_small", 93_322, "float32"),
                                                  ("cnn_small", 93_322, "bfloat16"),
                                                  ("cnn_tiny", 54_410, "float32")])
def test_torch_peer_runs_in_its_own_process_with_the_same_model(model, params, dtype):
    from benchmarks import peer_process

    t = peer_process.run("torch", model, 8, 28, 1, threads=1, repeats=2, warmup=1,
                         dtype=dtype)
    assert "error" not in t, t
    assert t["params"] == params and t["median_s"] > 0
    assert "1 threads" in t["setup"] and ("bf16 autocast" in t["setup"]) == (dtype == "bfloat16")


TINY_ZOO = [("nafnet", 1, 16, {"width": 8, "enc_blocks": [1, 1], "middle_blocks": 1,
                               "dec_blocks": [1, 1]}),
            ("shadowformer", 1, 32, {"embed_dim": 8, "win_size": 4})]


def test_zoo_train_records_carry_all_the_models_options():
    records = suite.run_train(PEAK, quick=True, peers=False, models=TINY_ZOO,
                              log=lambda _: None)
    assert [r["model"] for r in records] == ["nafnet", "shadowformer"]
    assert records[0]["options"] == TINY_ZOO[0][3]
    assert records[1]["options"] == {"embed_dim": 8, "win_size": 4, "drop_path": 0.1}
    assert records[1]["params"] == 730_969 and all(r["model_flops"] > 0 for r in records)


@pytest.mark.parametrize("model, size, options", [(m, s, o) for m, _, s, o in TINY_ZOO])
def test_zoo_torch_peer_is_the_official_module_with_the_jax_parameter_count(model, size,
                                                                            options):
    from benchmarks import official_models, peer_process, train

    cls, reason = getattr(official_models, f"official_{model}")()
    if cls is None:
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    record = suite.run_train(PEAK, quick=True, peers=False, models=[(model, 1, size, options)],
                             log=lambda _: None)[0]  # the JAX step, with all its options
    t = peer_process.run("torch", model, 1, size, train.channels(model), threads=1, repeats=1,
                         warmup=1, options=record["options"])
    assert "error" not in t, t
    assert t["params"] == record["params"] and t["median_s"] > 0


def test_a_zoo_peer_without_the_official_code_says_where_it_looked(monkeypatch, tmp_path):
    from benchmarks import peer_process

    if not suite.peer_torch.available():
        reason = "the PyTorch peer needs torch (pip install -e '.[peers]')"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    monkeypatch.setenv("JAXSHADOW_REFERENCE_CODE", str(tmp_path))
    t = peer_process.run("torch", "nafnet", 1, 16, 3, threads=1, repeats=1, warmup=1,
                         options=TINY_ZOO[0][3])
    assert set(t) == {"error"} and "\n" not in t["error"]
    assert str(tmp_path / "NAFNet") in t["error"]
