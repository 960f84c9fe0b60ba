"""U-Net, shadow detector and joint remover: parameter counts, any-size inputs, residual, bf16."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxshadow import models
from jaxshadow.train.state import INIT_COMPILER_OPTIONS, count_params


def _count(name, channels=3, **overrides):
    model = models.get(name, **overrides)
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 32, 32, channels))))
    return count_params(shapes["params"])


@pytest.mark.parametrize("name,channels,count", [
    ("unet", 3, 7_766_051),
    ("unet", 4, 7_766_339),  # RGB + mask: only the first conv grows, by 9 * 32
    ("shadow_detector", 3, 1_944_049),
    ("joint", 3, 9_710_487),  # detector + 4-channel remover with a 6-channel (affine) head
])
def test_parameter_counts(name, channels, count):
    assert _count(name, channels) == count


def test_joint_residual_output_has_the_documented_count():
    assert _count("joint", 3, output="residual") == 9_710_388


def test_optional_parts_have_the_documented_counts():
    assert _count("unet", 3, global_context=True) == 7_766_051 + 512 * 512 + 512
    assert _count("shadow_detector", 3, illumination_features=True) == 1_944_049 + 4 * 9 * 16
    assert _count("joint", 3, shadow_params=True) == 9_710_487 + 16_326
    assert _count("joint", 3, shadow_params=True, global_context=True,
                  illumination_features=True) == 9_990_045
    # 12 moment features into the 64-wide hidden layer, and 6 estimate scales
    assert _count("joint", 3, shadow_params=True, boundary_moments=True) == \
        9_710_487 + 16_326 + 12 * 64 + 6


def test_boundary_moments_recover_an_affine_shadow():
    """A shadow s = a x + c over the left half of a uniform texture: matching the moments of
    the two sides recovers the inverse map x = s / a - c / a, channel by channel."""
    from jaxshadow.models.joint import boundary_moments
    x = np.asarray(jax.random.uniform(jax.random.key(3), (1, 128, 128, 3)))
    a, c = np.array([0.3, 0.4, 0.6]), np.array([0.05, 0.0, -0.02])
    mask = np.zeros((1, 128, 128, 1), np.float32)
    mask[:, :, :64] = 1.0
    shadowed = np.where(mask > 0, a * x + c, x)
    mean_s, std_s, mean_l, std_l = boundary_moments(jnp.asarray(shadowed), jnp.asarray(mask))
    gain = np.asarray(std_l / std_s)[0]
    offset = np.asarray(mean_l - gain * mean_s)[0]
    np.testing.assert_allclose(gain, 1 / a, rtol=0.05)
    np.testing.assert_allclose(offset, -c / a, atol=0.03)
    # the weights follow the boundary: a far lit corner painted over does not move mean_l
    far = shadowed.copy()
    far[:, :20, 108:] = 1.0
    np.testing.assert_allclose(boundary_moments(jnp.asarray(far), jnp.asarray(mask))[2], mean_l,
                               atol=0.02)


def test_box_mean_counts_only_pixels_inside_the_image():
    """Against a direct NumPy loop over each window clipped to the image."""
    from jaxshadow.models.joint import box_mean
    x = np.asarray(jax.random.uniform(jax.random.key(5), (2, 9, 13, 2)))
    got = np.asarray(box_mean(jnp.asarray(x), 5))
    expected = np.zeros_like(x)
    for i in range(9):
        for j in range(13):
            expected[:, i, j] = x[:, max(i - 2, 0):i + 3, max(j - 2, 0):j + 3].mean(axis=(1, 2))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(box_mean(jnp.ones((1, 4, 4, 1)), 15), 1.0)


def _jit_init(model, x):
    """model.init, jitted as runs initialise (eager init compiles its ops one by one)."""
    return jax.jit(model.init, compiler_options=INIT_COMPILER_OPTIONS)(jax.random.key(0), x)


def test_joint_with_every_option_starts_as_identity_and_trains_them_all():
    model = models.get("joint", detector_features=(8,), remover_features=(8,),
                       shadow_params=True, global_context=True, illumination_features=True,
                       boundary_moments=True)
    x = _image((2, 12, 16, 3))
    variables = _jit_init(model, x)
    np.testing.assert_array_equal(jax.jit(model.apply)(variables, x)["shadow_free"], x)

    target = jnp.clip(1.5 * x, 0.0, 1.0)
    loss = lambda p: jnp.mean(jnp.abs(model.apply({"params": p}, x)["shadow_free"] - target))
    grads = jax.jit(jax.grad(loss))(variables["params"])
    assert float(jnp.abs(grads["shadow_params"]["out"]["kernel"]).sum()) > 0
    assert float(jnp.abs(grads["shadow_params"]["estimate_scale"]).sum()) > 0
    assert float(jnp.abs(grads["remover"]["context"]["kernel"]).sum()) == 0  # behind a zero head
    assert float(jnp.abs(grads["remover"]["head"]["kernel"]).sum()) > 0


def _init(model, x, seed=0):
    """Variables of `model` for input like `x`, drawn with NumPy: kernels N(0, 1/fan_in), biases
    N(0, 0.1^2), GroupNorm scales 1. Same tree as `model.init` (taken from `jax.eval_shape` of it),
    without compiling ~50 threefry draws, which takes ~30 s on a small shared CPU.
    """
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(model.init, jax.random.key(0), x)

    def draw(path, leaf):
        name = path[-1].key
        if name == "kernel":
            return jnp.asarray(rng.normal(size=leaf.shape) / np.sqrt(np.prod(leaf.shape[:-1])),
                               leaf.dtype)
        if name == "scale":
            return jnp.ones(leaf.shape, leaf.dtype)
        return jnp.asarray(0.1 * rng.normal(size=leaf.shape), leaf.dtype)

    return jax.tree_util.tree_map_with_path(draw, shapes)


@pytest.fixture(scope="module")
def unet():
    model = models.UNet()
    return model, _init(model, jnp.zeros((1, 32, 32, 3)))


def _image(shape, seed=1):
    return jax.random.uniform(jax.random.key(seed), shape)


def test_odd_sizes_are_reflect_padded_then_cropped(unet):
    """37×50 runs as the 48×64 reflect-padded image (bottom/right), cropped back to 37×50."""
    model, variables = unet
    x = _image((2, 37, 50, 3))
    padded = jnp.pad(x, ((0, 0), (0, 11), (0, 14), (0, 0)), mode="reflect")
    apply = jax.jit(model.apply)
    y = apply(variables, x)
    assert y.shape == x.shape and y.dtype == jnp.float32
    np.testing.assert_allclose(y, apply(variables, padded)[:, :37, :50], atol=1e-5)


def test_tiny_image_runs(unet):
    model, variables = unet
    y = jax.jit(model.apply)(variables, _image((1, 5, 3, 3)))  # reflected up to 16×16
    assert y.shape == (1, 5, 3, 3) and np.all(np.isfinite(y))


def _zero_head(variables, path=()):
    params = flax.core.unfreeze(variables["params"])
    node = params
    for key in path:
        node = node[key]
    node["head"] = jax.tree.map(jnp.zeros_like, node["head"])
    return {"params": params}


@pytest.fixture(scope="module")
def small_unet():
    """Narrow and shallow: the properties below do not depend on width or depth."""
    model = models.UNet(features=(8, 16))
    return model, _init(model, jnp.zeros((1, 16, 16, 3)))


def test_residual_output_is_input_plus_head(small_unet):
    model, variables = small_unet
    x = _image((2, 13, 20, 3))
    both = jax.jit(lambda v, x: (model.apply(v, x), model.apply(_zero_head(v), x),
                                 model.clone(residual=False).apply(v, x)))
    y, zeroed, raw = both(variables, x)
    np.testing.assert_array_equal(zeroed, x)
    np.testing.assert_allclose(y - x, raw, atol=1e-6)
    assert np.abs(raw).max() > 0.01


def test_four_channel_input_adds_rgb_only():
    model = models.UNet(features=(8, 16))
    x = _image((2, 16, 16, 4))
    variables = _zero_head(_init(model, x))
    np.testing.assert_array_equal(jax.jit(model.apply)(variables, x), x[..., :3])


def test_bfloat16_compute_keeps_float32_params_and_output(small_unet):
    model, variables = small_unet
    x = _image((2, 16, 16, 3))
    both = jax.jit(lambda v, x: (model.clone(dtype=jnp.bfloat16).apply(v, x), model.apply(v, x)))
    y, f32 = both(variables, x)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables["params"]))
    assert y.dtype == jnp.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, f32, atol=0.1)
    assert not np.array_equal(np.asarray(y), np.asarray(f32))  # really computed in bf16


def test_detector_outputs_mask_logits():
    model = models.get("shadow_detector")
    x = _image((2, 37, 50, 3))
    logits = jax.jit(model.apply)(_init(model, x), x)
    assert logits.shape == (2, 37, 50, 1) and logits.dtype == jnp.float32


def test_joint_outputs_and_gradients_reach_both_parts():
    model = models.get("joint", detector_features=(8,), remover_features=(8,))
    x = _image((2, 13, 20, 3))
    target = _image((2, 13, 20, 3), seed=2)
    params = _init(model, x)["params"]

    def loss(p):  # the removal loss only: it reaches the detector through the soft mask
        out = model.apply({"params": p}, x)
        return jnp.mean(jnp.abs(out["shadow_free"] - target)), out

    (_, out), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
    assert set(out) == {"shadow_free", "mask_logits", "gain", "offset"}
    assert out["shadow_free"].shape == (2, 13, 20, 3) and out["shadow_free"].dtype == jnp.float32
    # the correction as gain and offset maps: shadow_free = x * gain + offset
    np.testing.assert_allclose(out["shadow_free"], x * out["gain"] + out["offset"], atol=1e-6)
    assert out["mask_logits"].shape == (2, 13, 20, 1) and out["mask_logits"].dtype == jnp.float32
    assert set(grads) == {"detector", "remover"}
    assert float(optax.global_norm(grads["detector"])) > 0
    assert float(optax.global_norm(grads["remover"])) > 0
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


def test_registry_has_the_new_models():
    assert {"unet", "shadow_detector", "joint"} <= set(models.names())
    assert models.get("unet", features=(8, 16)).features == (8, 16)


def test_joint_affine_output_starts_as_identity_and_leaves_lit_pixels_alone():
    model = models.get("joint", detector_features=(8,), remover_features=(8,))
    x = _image((1, 12, 16, 3))
    apply = jax.jit(model.apply)
    variables = _jit_init(model, x)  # zero-initialised remover head
    out = apply(variables, x)
    np.testing.assert_array_equal(out["shadow_free"], x)

    params = _init(model, x)["params"]  # a remover that changes colours...
    changed = apply({"params": params}, x)["shadow_free"]
    assert float(jnp.max(jnp.abs(changed - x))) > 1e-3
    head = params["detector"]["unet"]["head"]  # ...but a detector that sees no shadow
    params["detector"]["unet"]["head"] = {"kernel": jnp.zeros_like(head["kernel"]),
                                          "bias": jnp.full_like(head["bias"], -40.0)}
    unchanged = apply({"params": params}, x)["shadow_free"]
    np.testing.assert_allclose(unchanged, x, atol=1e-6)


def test_joint_affine_gain_is_bounded():
    model = models.get("joint", detector_features=(8,), remover_features=(8,), max_log_gain=1.0)
    x = _image((1, 8, 8, 3))
    params = _init(model, x)["params"]
    head = params["remover"]["head"]
    params["remover"]["head"] = {"kernel": jnp.zeros_like(head["kernel"]),
                                 "bias": jnp.array([1e3, 1e3, 1e3, 0.0, 0.0, 0.0])}
    head = params["detector"]["unet"]["head"]
    params["detector"]["unet"]["head"] = {"kernel": jnp.zeros_like(head["kernel"]),
                                          "bias": jnp.full_like(head["bias"], 40.0)}
    out = model.apply({"params": params}, x)["shadow_free"]  # m = 1, gain = e^1
    np.testing.assert_allclose(out, x * np.e, rtol=1e-5)


def test_registry_unet_is_a_removal_model_returning_a_dict(small_unet):
    plain, variables = small_unet
    removal = models.get("unet", features=(8, 16))
    x = _image((2, 16, 16, 3))
    assert jax.tree.structure(jax.eval_shape(removal.init, jax.random.key(0), x)) == \
        jax.tree.structure(variables)
    out = jax.jit(removal.apply)(variables, x)
    assert set(out) == {"shadow_free"}
    np.testing.assert_array_equal(out["shadow_free"], jax.jit(plain.apply)(variables, x))
