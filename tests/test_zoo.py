"""The model zoo: NAFNet and ShadowFormer against the official PyTorch code (random weights
through `jaxshadow import-weights`), parameter counts against the papers, any input size,
bf16, training mode, the importer's errors and mask-free prediction on real photos."""

import pickle
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from benchmarks import official_models
from jaxshadow import models
from jaxshadow.cli import main
from jaxshadow.export import read_export
from jaxshadow.models.nafnet import PAPER_CONFIGS
from jaxshadow.models.shadowformer import shift_region_mask, relative_position_index
from jaxshadow.weights_import import convert, torch_key

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def _num_params(model, shape):
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros(shape)))
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(shapes["params"]))


@pytest.mark.parametrize("name", sorted(PAPER_CONFIGS))
def test_nafnet_parameter_counts_are_the_papers(name):
    options = {k: v for k, v in PAPER_CONFIGS[name].items() if k != "params"}
    assert _num_params(models.get("nafnet", **options), (1, 32, 32, 3)) == \
        PAPER_CONFIGS[name]["params"]


def test_shadowformer_has_the_papers_11_4_million_parameters():
    count = _num_params(models.get("shadowformer"), (1, 80, 80, 4))
    assert count == 11_372_617
    assert round(count / 1e6, 1) == 11.4
    assert _num_params(models.get("shadowformer", win_size=8), (1, 64, 64, 4)) == 11_365_001


def _official(which):
    cls, reason = getattr(official_models, f"official_{which}")()
    if cls is None:
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    return cls


def _perturbed(net, scale):
    """The official module with every parameter moved off its initial value (zero-initialised
    ones such as NAFNet's β, γ included), in eval mode."""
    import torch

    torch.manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * scale)
    return net.eval()


def _saved(net, path, wrapper=None):
    import torch

    state = {f"module.{k}": v for k, v in net.state_dict().items()}
    torch.save({wrapper: state} if wrapper else state, path)
    return path


def test_nafnet_imported_weights_give_the_official_output(tmp_path):
    official = _official("nafnet")
    import torch

    net = _perturbed(official(img_channel=3, width=8, middle_blk_num=1, enc_blk_nums=[1, 2],
                              dec_blk_nums=[2, 1]), 0.05)
    path = _saved(net, tmp_path / "nafnet.pth", wrapper="params")
    assert main(["import-weights", "--arch", "nafnet", "--torch", str(path),
                 "--out", str(tmp_path / "nafnet.msgpack")]) == 0
    trained = read_export(tmp_path / "nafnet.msgpack")
    assert dict(trained.config.model) == {"name": "nafnet", "width": 8, "enc_blocks": [1, 2],
                                          "middle_blocks": 1, "dec_blocks": [2, 1]}
    # 19 × 23 is not a multiple of 4: both pad with zeros and crop back.
    x = np.random.RandomState(0).rand(2, 3, 19, 23).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy().transpose(0, 2, 3, 1)
    got = trained.model.apply(trained.variables, x.transpose(0, 2, 3, 1))["shadow_free"]
    assert np.abs(np.asarray(got) - expected).max() < 1e-4
    assert np.abs(expected - x.transpose(0, 2, 3, 1)).max() > 0.1  # not the identity


def _shadowformer_parity(official, img_size, embed_dim, win, shape, scale):
    import torch

    net = _perturbed(official(img_size=img_size, embed_dim=embed_dim, win_size=win,
                              token_projection="linear", token_mlp="leff"), scale)
    rng = np.random.RandomState(1)
    n, h, w = shape
    x = rng.rand(n, 3, h, w).astype(np.float32)
    mask = np.zeros((n, 1, h, w), np.float32)
    mask[0, :, h // 8: h // 2, w // 10: w // 2] = 1
    mask[-1, :, h // 3:, w // 4:] = 1
    with torch.no_grad():
        expected = net(torch.from_numpy(x), torch.from_numpy(mask)).numpy().transpose(0, 2, 3, 1)
    options, channels, variables = convert("shadowformer", net.state_dict())
    assert options == {"embed_dim": embed_dim, "win_size": win} and channels == 4
    inputs = np.concatenate([x, mask], 1).transpose(0, 2, 3, 1)
    got = models.get("shadowformer", **options).apply(variables, inputs)["shadow_free"]
    assert np.abs(np.asarray(got) - expected).max() < 1e-4
    assert np.abs(expected - inputs[..., :3]).max() > 0.1
    return net


def test_shadowformer_small_imported_weights_give_the_official_output():
    # Window 4 on 64²: shifted windows at every level, the bottleneck's 8² in four windows.
    _shadowformer_parity(_official("shadowformer"), 64, 8, 4, (2, 64, 64), 0.05)


def test_shadowformer_istd_configuration_gives_the_official_output():
    # The paper's ISTD model (embed 32, window 10) on 80 × 160, the smallest multiple of 80.
    _shadowformer_parity(_official("shadowformer"), 320, 32, 10, (1, 80, 160), 0.02)


def test_torch_keys_of_both_models():
    assert torch_key("nafnet", ("encoders_0_1", "sca", "kernel")) == "encoders.0.1.sca.1.weight"
    assert torch_key("nafnet", ("ups_2", "kernel")) == "ups.2.0.weight"
    assert torch_key("nafnet", ("middle_blks_3", "norm1", "scale")) == \
        "middle_blks.3.norm1.weight"
    assert torch_key("shadowformer", ("encoderlayer_2", "blocks_1", "attn", "qkv_to_kv",
                                      "bias")) == "encoderlayer_2.blocks.1.attn.qkv.to_kv.bias"
    assert torch_key("shadowformer", ("conv", "blocks_0", "CAB", "body_1")) == \
        "conv.blocks.0.CAB.body.1.weight"
    assert torch_key("shadowformer", ("decoderlayer_0", "blocks_0", "CAB", "CA_conv_du_2",
                                      "kernel")) == \
        "decoderlayer_0.blocks.0.CAB.CA.conv_du.2.weight"
    assert torch_key("shadowformer", ("upsample_1", "kernel")) == "upsample_1.deconv.0.weight"
    assert torch_key("shadowformer", ("decoderlayer_2", "blocks_1", "mlp", "dwconv",
                                      "bias")) == "decoderlayer_2.blocks.1.mlp.dwconv.0.bias"


def test_relative_position_index_and_shift_regions():
    index = relative_position_index(3)
    assert index.shape == (9, 9) and index.min() == 0 and index.max() == 24
    assert np.all(np.diag(index) == 12)  # offset (0, 0) is the table's centre
    assert index[0, 8] == 0 and index[8, 0] == 24  # (-2, -2) and (+2, +2)
    regions = shift_region_mask(8, 8, 4, 2)
    assert regions.shape == (4, 16, 16)
    assert np.all(regions[0] == 0)  # the top-left window holds one region
    assert set(np.unique(regions[3])) == {0.0, -100.0}


def _init(model, shape):
    """model's variables from key 0 on zeros of `shape`, jitted: the tests initialise their
    small ShadowFormer at one shape, so its init (about 25 s of compilation) is compiled once
    and then comes from the suite's compilation cache."""
    return jax.jit(model.init)(jax.random.key(0), jnp.zeros(shape, jnp.float32))


@pytest.mark.parametrize("size", [(37, 50), (5, 3)])
def test_shadowformer_runs_on_any_size(size):
    model = models.get("shadowformer", embed_dim=8, win_size=4)
    x = jnp.asarray(np.random.RandomState(0).rand(1, *size, 4), jnp.float32)
    variables = _init(model, (1, 32, 32, 4))  # the parameters do not depend on the size
    out = jax.jit(model.apply)(variables, x)["shadow_free"]
    assert out.shape == (1, *size, 3) and bool(jnp.all(jnp.isfinite(out)))


def test_shadowformer_needs_the_mask_channel():
    model = models.get("shadowformer", embed_dim=8, win_size=4)
    with pytest.raises(ValueError, match="mask_input"):
        model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))


@pytest.mark.parametrize("name,options,channels", [
    ("nafnet", dict(width=8, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1)), 3),
    ("shadowformer", dict(embed_dim=8, win_size=4), 4),
])
def test_bf16_is_close_to_float32_and_training_mode_differs_with_its_rng(name, options,
                                                                         channels):
    rng = np.random.RandomState(0)
    x = jnp.asarray(rng.rand(2, 32, 32, channels) > 0.5, jnp.float32) * 0.5 + 0.25
    f32 = models.get(name, **options)
    variables = _init(f32, (1, 32, 32, channels))
    variables = jax.tree.map(lambda p: p + 0.05 * jax.random.normal(jax.random.key(1), p.shape),
                             variables)
    ref = jax.jit(f32.apply)(variables, x)["shadow_free"]
    bf16 = models.get(name, dtype=jnp.bfloat16, **options)
    low = jax.jit(bf16.apply)(variables, x)["shadow_free"]
    assert low.dtype == jnp.float32
    scale = float(jnp.abs(ref - x[..., :3]).max())
    assert float(jnp.abs(low - ref).max()) < 0.1 * scale

    @jax.jit
    def loss(v, key):
        out = f32.apply(v, x, train=True, rngs={"dropout": key})["shadow_free"]
        return jnp.mean(jnp.abs(out - x[..., :3] * 0.9))

    grads = jax.jit(jax.grad(loss))(variables, jax.random.key(2))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    assert float(loss(variables, jax.random.key(3))) > 0
    if name == "shadowformer":  # stochastic depth: two keys, two different outputs
        assert float(loss(variables, jax.random.key(3))) != float(loss(variables,
                                                                       jax.random.key(4)))


def _small_shadowformer_state():
    model = models.get("shadowformer", embed_dim=8, win_size=4)
    params = _init(model, (1, 32, 32, 4))["params"]
    state = {}

    def put(path, leaf):
        names = tuple(p.key for p in path)
        leaf = np.asarray(leaf)
        key = torch_key("shadowformer", names)
        if names[-1] == "kernel" and leaf.ndim == 4 and "deconv" in key:
            leaf = leaf[::-1, ::-1].transpose(2, 3, 0, 1)
        elif names[-1] == "kernel" and leaf.ndim == 4:
            leaf = leaf.transpose(3, 2, 0, 1)
        elif names[-1] == "kernel":
            leaf = leaf.T
        state[key] = np.ascontiguousarray(leaf)

    jax.tree_util.tree_map_with_path(put, params)
    return state


def test_importer_round_trips_its_own_layout():
    state = _small_shadowformer_state()
    options, channels, variables = convert("shadowformer", state)
    assert options == {"embed_dim": 8, "win_size": 4} and channels == 4
    model = models.get("shadowformer", **options)
    reference = _init(model, (1, 32, 32, 4))
    x = jnp.asarray(np.random.RandomState(0).rand(1, 32, 32, 4), jnp.float32)
    apply = jax.jit(model.apply)
    np.testing.assert_array_equal(apply(variables, x)["shadow_free"],
                                  apply(reference, x)["shadow_free"])


def _import(tmp_path, capsys, arch, path):
    code = main(["import-weights", "--arch", arch, "--torch", str(path),
                 "--out", str(tmp_path / "out.msgpack")])
    err = capsys.readouterr().err.strip()
    return code, err


def test_importer_errors_are_one_line_and_write_nothing(tmp_path, capsys):
    torch = pytest.importorskip("torch", reason="torch reads the .pth checkpoints")
    state = {k: torch.from_numpy(v) for k, v in _small_shadowformer_state().items()}

    missing = dict(state)
    del missing["conv.blocks.1.mlp.linear2.0.bias"]
    torch.save(missing, tmp_path / "missing.pth")
    code, err = _import(tmp_path, capsys, "shadowformer", tmp_path / "missing.pth")
    assert code == 2 and "'conv.blocks.1.mlp.linear2.0.bias'" in err and "\n" not in err

    extra = dict(state, **{"head.weight": torch.zeros(3)})
    torch.save(extra, tmp_path / "extra.pth")
    code, err = _import(tmp_path, capsys, "shadowformer", tmp_path / "extra.pth")
    assert code == 2 and "'head.weight'" in err

    torch.save(state, tmp_path / "ok.pth")
    code, err = _import(tmp_path, capsys, "nafnet", tmp_path / "ok.pth")
    assert code == 2 and "not a nafnet state dict" in err

    bad_shape = dict(state, **{"output_proj.proj.0.bias": torch.zeros(4)})
    torch.save(bad_shape, tmp_path / "shape.pth")
    code, err = _import(tmp_path, capsys, "shadowformer", tmp_path / "shape.pth")
    assert code == 2 and "output_proj.proj.0.bias" in err and "(3,)" in err

    # A pickle that would run code when unpickled is refused, not executed.
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump(_Evil(), f)
    code, err = _import(tmp_path, capsys, "shadowformer", tmp_path / "evil.pth")
    assert code == 2 and "not a weights-only PyTorch checkpoint" in err
    assert not (tmp_path / "pwned").exists()

    code, err = _import(tmp_path, capsys, "shadowformer", tmp_path / "absent.pth")
    assert code == 2 and "no such file" in err
    assert not (tmp_path / "out.msgpack").exists()


class _Evil:
    def __reduce__(self):
        return (Path.touch, (Path(__file__).parent / "pwned",))


def test_predict_runs_an_imported_shadowformer_mask_free_on_real_photos(tmp_path, capsys):
    torch = pytest.importorskip("torch", reason="torch writes the .pth checkpoint")
    state = {k: torch.from_numpy(v) for k, v in _small_shadowformer_state().items()}
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "sf.pth")
    model_file = tmp_path / "sf.msgpack"
    assert main(["import-weights", "--arch", "shadowformer", "--torch", str(tmp_path / "sf.pth"),
                 "--out", str(model_file)]) == 0
    trained = read_export(model_file)
    assert trained.config.data.mask_input and trained.config.predict_size == 0
    photo = REAL / "istd" / "114-5_shadow.png"
    if not photo.is_file():
        pytest.fail(f"real test data missing: {photo}")
    out = tmp_path / "out"
    assert main(["predict", "--model", str(model_file), "--size", "256", "--out", str(out),
                 str(photo)]) == 0
    result = np.asarray(Image.open(out / "114-5_shadow.png"))
    mask = np.asarray(Image.open(out / "114-5_shadow_mask.png"))
    assert result.shape == np.asarray(Image.open(photo)).shape
    # The mask is the shipped detector's, thresholded (binary but for the upsampled edges),
    # with the photo's shadow in it.
    assert np.isin(mask, (0, 255)).mean() > 0.9 and 0.01 < (mask == 255).mean() < 0.9
