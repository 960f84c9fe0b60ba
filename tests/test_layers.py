"""The fast layers compute the same function as their lax / flax references: values and
gradients, including through the models' parameter trees."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxshadow import models
from jaxshadow.models import layers
from jaxshadow.train.state import INIT_COMPILER_OPTIONS

DN = ("NHWC", "HWIO", "NHWC")


def _vjp_both(f, ref, args, seed=7):
    y, f_vjp = jax.vjp(f, *args)
    y_ref, ref_vjp = jax.vjp(ref, *args)
    dy = jax.random.normal(jax.random.key(seed), y.shape)
    return (y, y_ref), (f_vjp(dy), ref_vjp(dy))


@pytest.mark.parametrize("shape,cout,padding", [
    ((2, 28, 28, 1), 32, "VALID"), ((2, 5, 7, 1), 4, "SAME"),  # one channel: shifted products
    ((3, 13, 13, 32), 64, "VALID"), ((2, 5, 7, 3), 5, "SAME"),
    ((2, 16, 16, 8), 16, "SAME"), ((1, 9, 6, 4), 3, ((2, 0), (1, 1))),
    # larger than SMALL_IMAGE_PIXELS: lax forward and input gradient, shifted kernel gradient
    ((1, 40, 40, 2), 3, "SAME"), ((2, 33, 30, 5), 4, ((2, 0), (1, 1))), ((1, 31, 29, 3), 6, "VALID"),
    # more than EIGEN_MIN_FEATURES channels: forward and input gradient widened and cropped
    ((1, 30, 31, 20), 24, "SAME"), ((2, 29, 33, 24), 20, ((2, 0), (1, 1))),
    ((1, 31, 30, 18), 17, "VALID"),
])
def test_conv_values_and_gradients_equal_lax(shape, cout, padding):
    kx, kk = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, shape)
    kernel = jax.random.normal(kk, (3, 3, shape[-1], cout)) / np.sqrt(9 * shape[-1])
    f = lambda x, k: layers.conv_general_dilated(x, k, (1, 1), padding, dimension_numbers=DN)
    ref = lambda x, k: lax.conv_general_dilated(x, k, (1, 1), padding, dimension_numbers=DN)
    (y, y_ref), (grads, grads_ref) = _vjp_both(jax.jit(f), ref, (x, kernel))
    np.testing.assert_allclose(y, y_ref, atol=1e-5)
    for g, g_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(g, g_ref, atol=1e-4 * float(jnp.abs(g_ref).max()))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("shape,cout,pads", [
    ((2, 17, 19, 20), 24, ((1, 1), (1, 1))), ((1, 16, 15, 32), 17, ((0, 0), (0, 0))),
    ((1, 18, 20, 24), 32, ((2, 0), (0, 3))), ((1, 16, 16, 24), 8, ((1, 1), (1, 1))),
])
def test_eigen_convolution_equals_lax(dtype, shape, cout, pads):
    kx, kk = jax.random.split(jax.random.key(2))
    x = jax.random.normal(kx, shape, dtype)
    kernel = (jax.random.normal(kk, (3, 3, shape[-1], cout)) / np.sqrt(9 * shape[-1])).astype(dtype)
    y = jax.jit(layers._conv_eigen, static_argnums=2)(x, kernel, pads)
    y_ref = lax.conv_general_dilated(x, kernel, (1, 1), pads, dimension_numbers=DN)
    assert y.shape == y_ref.shape and y.dtype == y_ref.dtype
    tol = 1e-5 if dtype == jnp.float32 else 3e-2
    np.testing.assert_allclose(np.float32(y), np.float32(y_ref), atol=tol, rtol=tol)


def test_eigen_convolution_compiles_outside_ynnpack():
    """The widened convolution is not given to YNNPACK where XLA:CPU gives it the plain one."""
    if jax.default_backend() != "cpu":
        pytest.skip("XLA:CPU only: other backends compute the plain lax convolution")
    x = jnp.ones((2, 32, 32, 32))
    kernel = jnp.ones((3, 3, 32, 32))
    pads = ((1, 1), (1, 1))
    plain = jax.jit(layers._lax_conv, static_argnums=2).lower(x, kernel, pads).compile()
    if "__ynn_fusion" not in plain.as_text():
        pytest.skip("this jaxlib does not give float32 convolutions to YNNPACK")
    wide = jax.jit(layers._conv_eigen, static_argnums=2).lower(x, kernel, pads).compile()
    assert "__ynn_fusion" not in wide.as_text()
    assert " convolution(" in wide.as_text()


@pytest.mark.parametrize("chunk_pixels", [1, 64, 200])
@pytest.mark.parametrize("shape,kernel_hw,padding", [
    ((2, 33, 30, 5), (3, 3), ((2, 0), (1, 1))), ((1, 29, 31, 3), (5, 3), "SAME"),
    ((3, 31, 30, 4), (3, 3), "VALID"),
])
def test_large_image_kernel_gradient_in_chunks_equals_lax(monkeypatch, chunk_pixels, shape,
                                                          kernel_hw, padding):
    # chunks of 1 row up to several rows, with zero rows padding the last chunk
    monkeypatch.setattr(layers, "WGRAD_CHUNK_PIXELS", chunk_pixels)
    kx, kk = jax.random.split(jax.random.key(1))
    x = jax.random.normal(kx, shape)
    kernel = jax.random.normal(kk, (*kernel_hw, shape[-1], 6)) / np.sqrt(9 * shape[-1])
    f = lambda x, k: layers.conv_general_dilated(x, k, (1, 1), padding, dimension_numbers=DN)
    ref = lambda x, k: lax.conv_general_dilated(x, k, (1, 1), padding, dimension_numbers=DN)
    assert "scan" in str(jax.make_jaxpr(jax.grad(lambda k: f(x, k).sum()))(kernel))
    _, (grads, grads_ref) = _vjp_both(jax.jit(f), ref, (x, kernel))
    for g, g_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(g, g_ref, atol=1e-4 * float(jnp.abs(g_ref).max()))


# shifted-view kernel gradient; im2col; the plain convolution (small, same size)
@pytest.mark.parametrize("size,padding", [(48, "SAME"), (12, "VALID"), (12, "SAME")])
def test_gradients_in_bfloat16_accumulate_in_float32(size, padding):
    kx, kk, kd = jax.random.split(jax.random.key(2), 3)
    x = jax.random.normal(kx, (2, size, size, 16))
    kernel = jax.random.normal(kk, (3, 3, 16, 8)) / 12.0
    out = size if padding == "SAME" else size - 2
    dy = jax.random.normal(kd, (2, out, out, 8))
    grads = lambda conv, dtype: jax.vjp(
        lambda x, k: conv(x, k, (1, 1), padding, dimension_numbers=DN),
        x.astype(dtype), kernel.astype(dtype))[1](dy.astype(dtype))
    g = jax.jit(lambda: grads(layers.conv_general_dilated, jnp.bfloat16))()
    g_ref = grads(lax.conv_general_dilated, jnp.float32)
    # sums of 72 to 4,608 products: float32 accumulation keeps them within bfloat16's rounding
    for g_bf16, g_f32 in zip(g, g_ref):
        assert g_bf16.dtype == jnp.bfloat16
        np.testing.assert_allclose(np.float32(g_bf16), g_f32, rtol=2e-2,
                                   atol=2e-2 * float(jnp.abs(g_f32).max()))


def test_one_channel_small_images_compute_the_forward_pass_without_a_product():
    """The forward pass of a one-channel small-image convolution is broadcast products (no
    dot_general, so XLA fuses it with what follows); with 2 channels it is the im2col product."""
    def forward_products(channels):
        x = jnp.zeros((2, 28, 28, channels))
        k = jnp.zeros((3, 3, channels, 8))
        jaxpr = jax.make_jaxpr(lambda x, k: layers.conv_general_dilated(
            x, k, (1, 1), "VALID", dimension_numbers=DN, form="matmul"))(x, k)
        return str(jaxpr).count("dot_general")

    assert forward_products(1) == 0 and forward_products(2) >= 1


def test_small_same_size_convolutions_stay_lax_and_smaller_outputs_take_im2col():
    """A small image whose output keeps the input's size is the plain lax convolution (no
    custom gradient); a VALID one of the same shape is the im2col form."""
    x = jnp.zeros((2, 16, 16, 8))
    k = jnp.zeros((3, 3, 8, 4))
    jaxpr = lambda padding: str(jax.make_jaxpr(lambda x, k: layers.conv_general_dilated(
        x, k, (1, 1), padding, dimension_numbers=DN, form="matmul"))(x, k))
    assert "custom_vjp" not in jaxpr("SAME") and "conv_general_dilated" in jaxpr("SAME")
    assert "custom_vjp" in jaxpr("VALID")
    assert "custom_vjp" in jaxpr(((1, 0), (1, 1)))  # 15 × 16 output: smaller than the input


def test_small_same_size_input_gradients_compile_to_ynnpack_and_valid_ones_do_not():
    """Why they stay lax: XLA:CPU gives the input gradient of a same-size convolution to YNNPACK,
    and that of a VALID one (a convolution whose output is larger than its input) elsewhere."""
    if jax.default_backend() != "cpu":
        pytest.skip("XLA:CPU only: other backends compute the plain lax convolution")
    x = jnp.ones((8, 13, 13, 32))
    kernel = jnp.ones((3, 3, 32, 64))

    def input_gradient_hlo(pads):
        dx = jax.grad(lambda x: jnp.sum(layers._lax_conv(x, kernel, pads) ** 2))
        return jax.jit(dx).lower(x).compile().as_text()

    forward = jax.jit(layers._lax_conv, static_argnums=2).lower(x, kernel, ((1, 1), (1, 1)))
    if "__ynn_fusion" not in forward.compile().as_text():
        pytest.skip("this jaxlib does not give float32 convolutions to YNNPACK")
    same, valid = input_gradient_hlo(((1, 1), (1, 1))), input_gradient_hlo(((0, 0), (0, 0)))
    ynn_inputs = lambda hlo: [line for line in hlo.splitlines() if "__ynn_fusion" in line
                              and "transpose(jvp" in line]
    assert ynn_inputs(same) and not ynn_inputs(valid)


def test_conv_other_cases_go_to_lax():
    x = jax.random.normal(jax.random.key(0), (2, 9, 9, 3))
    k = jax.random.normal(jax.random.key(1), (3, 3, 3, 4))
    for kw in ({"window_strides": (2, 2)}, {"window_strides": (1, 1), "rhs_dilation": (2, 2)}):
        f = lambda x, k: layers.conv_general_dilated(x, k, padding="SAME", dimension_numbers=DN,
                                                     **kw)
        ref = lambda x, k: lax.conv_general_dilated(x, k, padding="SAME", dimension_numbers=DN,
                                                    **kw)
        np.testing.assert_allclose(f(x, k), ref(x, k), atol=1e-5)
        assert "custom_vjp" not in str(jax.make_jaxpr(f)(x, k))


@pytest.mark.parametrize("shape,cout", [((2, 4, 6, 3), 5), ((1, 5, 3, 8), 4), ((2, 8, 8, 16), 8)])
def test_conv_transpose_2x2_equals_flax(shape, cout):
    kx, kk, kb = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, shape)
    params = {"kernel": jax.random.normal(kk, (2, 2, shape[-1], cout)),
              "bias": jax.random.normal(kb, (cout,))}
    fast = lambda p, x: layers.ConvTranspose2x2(cout).apply({"params": p}, x)
    ref = lambda p, x: nn.ConvTranspose(cout, (2, 2), strides=(2, 2)).apply({"params": p}, x)
    (y, y_ref), (grads, grads_ref) = _vjp_both(fast, ref, (params, x))
    assert y.shape == (shape[0], 2 * shape[1], 2 * shape[2], cout)
    np.testing.assert_allclose(y, y_ref, atol=1e-5)
    for g, g_ref in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_ref)):
        np.testing.assert_allclose(g, g_ref, atol=1e-4)


def test_conv_transpose_2x2_same_parameters_and_init_as_flax():
    x = jnp.zeros((1, 4, 4, 6))
    fast = layers.ConvTranspose2x2(3).init(jax.random.key(0), x)
    ref = nn.ConvTranspose(3, (2, 2), strides=(2, 2)).init(jax.random.key(0), x)
    assert jax.tree.map(jnp.shape, fast) == jax.tree.map(jnp.shape, ref)
    for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(ref)):
        np.testing.assert_array_equal(a, b)


def test_unet_gradients_equal_the_plain_flax_unet(monkeypatch):
    """The U-Net's loss gradients, fast layers vs lax convs, nn.ConvTranspose and nn.GroupNorm."""
    model = models.UNet(features=(8, 16))
    x = jax.random.uniform(jax.random.key(1), (2, 16, 16, 3))
    perturbed = lambda v: v + 0.05 * jax.random.normal(jax.random.key(3), v.shape)
    # jitted as runs initialise (eager init and draws compile op by op: ~30 s on 2 cores)
    variables = jax.jit(lambda: jax.tree.map(perturbed, model.init(jax.random.key(0), x)),
                        compiler_options=INIT_COMPILER_OPTIONS)()
    loss = lambda v: jnp.mean(jnp.abs(model.apply(v, x) - 0.5))
    fast = jax.jit(jax.value_and_grad(loss))(variables)
    from jaxshadow.models import unet as unet_module
    monkeypatch.setattr(unet_module, "conv_general_dilated", lax.conv_general_dilated)
    monkeypatch.setattr(unet_module, "ConvTranspose2x2",
                        lambda f, **kw: nn.ConvTranspose(f, (2, 2), strides=(2, 2), **kw))
    monkeypatch.setattr(unet_module, "GroupNorm", nn.GroupNorm)
    ref = jax.jit(jax.value_and_grad(loss))(variables)
    np.testing.assert_allclose(fast[0], ref[0], rtol=1e-5)
    for g, g_ref in zip(jax.tree.leaves(fast[1]), jax.tree.leaves(ref[1])):
        np.testing.assert_allclose(g, g_ref, atol=2e-5 + 1e-4 * float(jnp.abs(g_ref).max()))


@pytest.mark.parametrize("shape", [(2, 6, 8, 3), (1, 7, 5, 4)])
def test_max_pool_gradient_splits_ties_as_jnp_max_does(shape):
    # ReLU'd integers: many windows hold tied maxima (zeros and equal values); odd edges dropped
    x = jax.nn.relu(jnp.round(jax.random.normal(jax.random.key(0), shape)))
    plain = lambda x: jnp.max(layers._windows(x), axis=(2, 4))
    (y, y_ref), (grads, grads_ref) = _vjp_both(layers._max_pool_windows, plain, (x,))
    np.testing.assert_array_equal(y, y_ref)
    assert float(jnp.sum(layers._windows(x) == y[:, :, None, :, None, :])) > y.size  # ties
    np.testing.assert_allclose(grads[0], grads_ref[0], rtol=1e-6)


def test_each_backend_gets_its_measured_forms_and_the_environment_can_force_one(monkeypatch):
    monkeypatch.delenv(layers.FORMS_ENV, raising=False)
    assert layers.forms("cpu") == layers.MATMUL_FORMS  # XLA:CPU: im2col grads, matmul, reshape
    assert layers.forms("gpu") == layers.LAX_FORMS     # cuDNN runs lax's own ops
    assert layers.forms("cuda") == layers.LAX_FORMS and layers.forms("tpu") == layers.LAX_FORMS
    assert layers.forms() == layers.forms(jax.default_backend())
    monkeypatch.setenv(layers.FORMS_ENV, "lax")
    assert layers.forms("cpu") == layers.LAX_FORMS
    monkeypatch.setenv(layers.FORMS_ENV, "matmul")
    assert layers.forms("gpu") == layers.MATMUL_FORMS
    monkeypatch.setenv(layers.FORMS_ENV, "cudnn")
    with pytest.raises(ValueError, match="must be 'matmul' or 'lax', got 'cudnn'"):
        layers.forms()


def test_the_two_forms_of_each_layer_agree_in_values_and_gradients():
    x = jax.random.normal(jax.random.key(1), (2, 9, 11, 8))
    k3 = jax.random.normal(jax.random.key(2), (3, 3, 8, 16)) / 8
    k2 = jax.random.normal(jax.random.key(3), (2, 2, 8, 4)) / 4
    pairs = [
        (lambda x: layers.max_pool_2x2(x, form="matmul"),
         lambda x: layers.max_pool_2x2(x, form="lax")),
        (lambda x: layers.conv_transpose_2x2(x, k2, form="matmul"),
         lambda x: layers.conv_transpose_2x2(x, k2, form="lax")),
        (lambda x: layers.conv_general_dilated(x, k3, (1, 1), "SAME", dimension_numbers=DN,
                                               form="matmul"),
         lambda x: layers.conv_general_dilated(x, k3, (1, 1), "SAME", dimension_numbers=DN,
                                               form="lax")),
    ]
    for matmul_form, lax_form in pairs:
        (y, y_ref), (g, g_ref) = _vjp_both(matmul_form, lax_form, (x,))
        np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(g[0], g_ref[0], rtol=1e-4, atol=1e-5)


def test_a_model_under_lax_forms_has_the_same_parameters_and_outputs(monkeypatch):
    model = models.get("unet", features=(8, 16))
    x = jax.random.uniform(jax.random.key(0), (2, 16, 16, 3))
    monkeypatch.setenv(layers.FORMS_ENV, "matmul")
    variables = model.init(jax.random.key(1), x)
    # away from the zero-initialised head, where the output is the input whatever the forms
    leaves, tree = jax.tree.flatten(variables)
    keys = jax.random.split(jax.random.key(2), len(leaves))
    variables = jax.tree.unflatten(tree, [p + 0.1 * jax.random.normal(k, p.shape)
                                          for p, k in zip(leaves, keys)])
    y_matmul = model.apply(variables, x)["shadow_free"]
    monkeypatch.setenv(layers.FORMS_ENV, "lax")
    assert (jax.tree.map(jnp.shape, model.init(jax.random.key(1), x))
            == jax.tree.map(jnp.shape, variables))
    y_lax = model.apply(variables, x)["shadow_free"]
    assert float(jnp.abs(y_matmul - x).mean()) > 1e-2  # the network computed something
    np.testing.assert_allclose(y_lax, y_matmul, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape,kernel_hw,padding", [
    ((2, 9, 11, 8), (3, 3), 1), ((1, 40, 40, 6), (3, 3), "SAME"), ((2, 7, 5, 4), (5, 3), "VALID"),
    ((1, 6, 6, 3), (3, 3), ((2, 0), (1, 1))),
])
def test_depthwise_conv_values_and_gradients_equal_lax(shape, kernel_hw, padding):
    c = shape[-1]
    x = jax.random.normal(jax.random.key(0), shape)
    kernel = jax.random.normal(jax.random.key(1), (*kernel_hw, 1, c)) / 3
    pad = [(padding, padding)] * 2 if isinstance(padding, int) else padding
    args = dict(window_strides=(1, 1), padding=pad, dimension_numbers=DN, feature_group_count=c)
    f = lambda x, k: layers.conv_general_dilated(x, k, **args)
    ref = lambda x, k: lax.conv_general_dilated(x, k, **args)
    assert "conv_general_dilated" not in str(jax.make_jaxpr(f)(x, kernel))
    (y, y_ref), (grads, grads_ref) = _vjp_both(jax.jit(f), ref, (x, kernel))
    np.testing.assert_allclose(y, y_ref, atol=1e-5)
    for g, g_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(g, g_ref, atol=1e-4 * float(jnp.abs(g_ref).max()))
    # bfloat16 inputs: accumulated in float32, as close to the float32 result as lax's
    bf = lambda t: t.astype(jnp.bfloat16)
    y_bf = f(bf(x), bf(kernel))
    assert y_bf.dtype == jnp.bfloat16
    err = float(jnp.abs(y_bf.astype(jnp.float32) - y_ref).max())
    assert err <= 2 * float(jnp.abs(ref(bf(x), bf(kernel)).astype(jnp.float32) - y_ref).max())


def test_pointwise_conv_is_a_matmul_with_laxs_values_and_gradients():
    x = jax.random.normal(jax.random.key(0), (2, 30, 31, 12))
    kernel = jax.random.normal(jax.random.key(1), (1, 1, 12, 5)) / 4
    f = lambda x, k: layers.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=DN)
    ref = lambda x, k: lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=DN)
    assert "conv_general_dilated" not in str(jax.make_jaxpr(f)(x, kernel))
    (y, y_ref), (grads, grads_ref) = _vjp_both(jax.jit(f), ref, (x, kernel))
    np.testing.assert_allclose(y, y_ref, atol=1e-5)
    for g, g_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(g, g_ref, atol=1e-4 * float(jnp.abs(g_ref).max()))
    # padded 1×1 and grouped-but-not-depthwise convolutions stay lax convolutions
    padded = lambda x, k: layers.conv_general_dilated(x, k, (1, 1), ((1, 1), (0, 0)),
                                                      dimension_numbers=DN)
    assert "conv_general_dilated" in str(jax.make_jaxpr(padded)(x, kernel))
    grouped = lambda x, k: layers.conv_general_dilated(x, k, (1, 1), "SAME",
                                                       dimension_numbers=DN,
                                                       feature_group_count=4)
    k_grouped = jax.random.normal(jax.random.key(2), (3, 3, 3, 8))
    assert "conv_general_dilated" in str(jax.make_jaxpr(grouped)(x, k_grouped))
    np.testing.assert_allclose(
        grouped(x, k_grouped), lax.conv_general_dilated(x, k_grouped, (1, 1), "SAME",
                                                        dimension_numbers=DN,
                                                        feature_group_count=4), atol=1e-5)
