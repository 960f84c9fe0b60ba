"""The ('data', 'fsdp') mesh: the sharding rule, mesh sizes, and 4 data × 2 fsdp = 8-way data."""

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from helpers import digits_config, metrics_records
from jaxshadow.errors import UserError
from jaxshadow.train.loop import train
from jaxshadow.train.mesh import make_mesh, mesh_shape
from jaxshadow.train.setup import build_run
from jaxshadow.train.sharding_rules import bytes_on_device, fsdp_spec


def test_rule_splits_large_leaves_on_their_largest_divisible_dimension():
    assert fsdp_spec((3, 3, 64, 128), 2) == P(None, None, None, "fsdp")
    assert fsdp_spec((576, 64), 2) == P("fsdp", None)
    assert fsdp_spec((576, 64), 4) == P("fsdp", None)
    assert fsdp_spec((576, 63), 5) == P()               # no dimension divides
    assert fsdp_spec((129, 128), 2) == P(None, "fsdp")  # 129 is odd: the next largest
    assert fsdp_spec((64, 64, 8), 2) == P(None, "fsdp", None)  # a tie: the last
    assert fsdp_spec((64,), 2) == P()                    # small: replicated
    assert fsdp_spec((3, 3, 64, 128), 1) == P()          # no fsdp axis
    assert fsdp_spec((), 2) == P()


def test_mesh_sizes_and_their_errors():
    assert mesh_shape(8) == (8, 1)
    assert mesh_shape(8, fsdp=2) == (4, 2)
    assert mesh_shape(8, data=2, fsdp=-1) == (2, 4)
    assert make_mesh(4, fsdp=2).shape == {"data": 2, "fsdp": 2}
    with pytest.raises(UserError, match=r"mesh.data × mesh.fsdp = 3×2 = 6 but 8 devices"):
        mesh_shape(8, data=3, fsdp=2)
    with pytest.raises(UserError, match="mesh.fsdp=3 does not divide the 8 devices"):
        mesh_shape(8, fsdp=3)
    with pytest.raises(UserError, match="batch_size=12 does not divide over 8 devices"):
        build_run(digits_config(batch_size=12, **{"mesh.fsdp": 2}))


def test_a_mesh_that_does_not_fit_leaves_no_workdir_behind(tmp_path):
    workdir = tmp_path / "run"
    with pytest.raises(UserError, match="mesh.fsdp=3 does not divide"):
        train(digits_config(**{"mesh.fsdp": 3}), str(workdir))
    assert not workdir.exists()
    kept = tmp_path / "kept"  # a workdir that was there before is kept, as it was
    kept.mkdir()
    with pytest.raises(UserError):
        train(digits_config(**{"mesh.fsdp": 3}), str(kept))
    assert kept.is_dir() and not any(kept.iterdir())


def _losses(workdir):
    return [r["loss"] for r in metrics_records(workdir) if "loss" in r]


def test_4_data_by_2_fsdp_logs_the_losses_of_8_way_data_parallel_and_resumes_across(tmp_path, capsys):
    base = {"model.name": "cnn_tiny", "steps": 6, "log_every": 1, "eval_every": 6,
            "checkpoint_every": 6, "num_devices": 8}
    fsdp = digits_config(**base, **{"mesh.fsdp": 2})
    data = digits_config(**base)
    train(fsdp, str(tmp_path / "fsdp"))
    train(data, str(tmp_path / "data"))
    np.testing.assert_allclose(_losses(tmp_path / "fsdp"), _losses(tmp_path / "data"),
                               rtol=1e-5)
    # Saved on the 8-way data mesh at step 3, resumed on 4 × 2 (restored onto the fsdp shards).
    switch = str(tmp_path / "switch")
    train(digits_config(**{**base, "steps": 3, "checkpoint_every": 3}), switch)
    train(digits_config(**{**base, "checkpoint_every": 3, "mesh.fsdp": 2}), switch)
    np.testing.assert_allclose(_losses(switch), _losses(tmp_path / "data"), rtol=1e-5)

    device = jax.devices()[0]
    held = {}
    for name, config in (("8 data", data), ("4 data x 2 fsdp", fsdp)):
        run = build_run(config)
        state = run.initial_state()
        held[name] = (bytes_on_device(state.params, device),
                      bytes_on_device(state.opt_state, device))
    total = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state.params))
    with capsys.disabled():
        for name, (params, opt) in held.items():
            print(f"\n{name}: device 0 holds {params} parameter bytes (of {total}), "
                  f"{opt} optimizer-state bytes")
    (p8, o8), (p42, o42) = held["8 data"], held["4 data x 2 fsdp"]
    assert p8 == total
    assert p42 < 0.6 * p8 and o42 < 0.6 * o8  # the logits kernel (99% of cnn_tiny) is split
