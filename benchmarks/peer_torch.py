"""PyTorch peers, built from the same specs: channels-last tensors, the same layers, batch,
loss and optimizer (Adam, lr 1e-3, eps 1e-8) as the JAX side; for the model zoo (nafnet,
shadowformer) the official PyTorch modules with the JAX model's options. Optional:
`available()` is False when torch is not installed, and nothing else here is called then.
"""

import importlib.util

from benchmarks.timing import time_call

DTYPES = {"float32": "float32", "bfloat16": "bfloat16"}


def available():
    return importlib.util.find_spec("torch") is not None


def version():
    import torch
    return torch.__version__


def _cl(t):
    import torch
    return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t


def time_conv_op(spec, direction, dtype, *, repeats, warmup):
    """Median seconds of one direction of `spec` (a benchmarks.specs.ConvSpec) in torch."""
    import torch
    g = torch.Generator().manual_seed(0)
    dt = getattr(torch, DTYPES[dtype])
    x = _cl(torch.randn(spec.input_shape_nchw(), generator=g).to(dt))
    if spec.kind == "dense":
        w = torch.randn(spec.cout, spec.cin, generator=g).to(dt)
        dy = torch.randn(spec.n, spec.cout, generator=g).to(dt)
        ops = {"fwd": lambda: x @ w.T, "dgrad": lambda: dy @ w, "wgrad": lambda: dy.T @ x}
        return time_call(ops[direction], repeats=repeats, warmup=warmup)
    transposed = spec.kind == "conv_transpose"
    wshape = ((spec.cin, spec.cout) if transposed else (spec.cout, spec.cin)) + (spec.kh, spec.kw)
    w = _cl(torch.randn(wshape, generator=g).to(dt))
    stride = [spec.stride, spec.stride]
    pad = [spec.kh // 2, spec.kw // 2] if spec.padding == "SAME" and not transposed else [0, 0]
    if transposed:
        fwd = lambda: torch.nn.functional.conv_transpose2d(x, w, stride=stride)
    else:
        fwd = lambda: torch.nn.functional.conv2d(x, w, stride=stride, padding=pad)
    y = fwd()
    dy = _cl(torch.randn(y.shape, generator=g).to(dt))
    mask = {"dgrad": [True, False, False], "wgrad": [False, True, False]}

    def backward():
        return torch.ops.aten.convolution_backward(dy, x, w, None, stride, pad, [1, 1],
                                                   transposed, [0, 0], 1, mask[direction])
    return time_call(fwd if direction == "fwd" else backward, repeats=repeats, warmup=warmup)


def _cnn_tiny(torch, channels, num_classes, size):
    nn = torch.nn
    s = (size - 2) // 2
    return nn.Sequential(nn.Conv2d(channels, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         _Permute(torch), nn.Flatten(), nn.Linear(32 * s * s, num_classes))


def _cnn_small(torch, channels, num_classes, size):
    nn = torch.nn
    s = ((size - 2) // 2 - 2) // 2 - 2
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(),
        # Flatten in (H, W, C) order as the JAX model does.
        _Permute(torch), nn.Flatten(), nn.Linear(64 * s * s, 64), nn.ReLU(),
        nn.Linear(64, num_classes))


def _Permute(torch):
    class Permute(torch.nn.Module):
        def forward(self, x):
            return x.permute(0, 2, 3, 1)
    return Permute()


def _unet(torch, channels, features):
    nn = torch.nn

    def block(cin, f):
        return nn.Sequential(nn.Conv2d(cin, f, 3, padding=1), nn.GroupNorm(8, f, eps=1e-6),
                             nn.ReLU(), nn.Conv2d(f, f, 3, padding=1),
                             nn.GroupNorm(8, f, eps=1e-6), nn.ReLU())

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            cins = [channels, *features[:-1]]
            self.enc = nn.ModuleList(block(c, f) for c, f in zip(cins, features))
            self.bottleneck = block(features[-1], 2 * features[-1])
            outs = [2 * features[-1], *reversed(features[1:])]
            self.up = nn.ModuleList(nn.ConvTranspose2d(c, f, 2, stride=2)
                                    for c, f in zip(outs, reversed(features)))
            self.dec = nn.ModuleList(block(2 * f, f) for f in reversed(features))
            self.head = nn.Conv2d(features[0], 3, 1)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            y, skips = x, []
            for enc in self.enc:
                y = enc(y)
                skips.append(y)
                y = self.pool(y)
            y = self.bottleneck(y)
            for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
                y = dec(torch.cat([up(y), skip], 1))
            return x[:, :3] + self.head(y)

    return UNet()


# the zoo's JAX options -> the official constructors' keywords
NAFNET_KEYWORDS = {"width": "width", "middle_blocks": "middle_blk_num",
                   "enc_blocks": "enc_blk_nums", "dec_blocks": "dec_blk_nums"}
SHADOWFORMER_KEYWORDS = {"embed_dim": "embed_dim", "win_size": "win_size",
                         "drop_path": "drop_path_rate"}


def _official(model_name, image_size, options):
    """The official PyTorch module of a zoo model, built with the JAX model's `options` (all of
    them, as benchmarks.train.build_step returns them)."""
    from benchmarks import official_models

    cls, reason = getattr(official_models, f"official_{model_name}")()
    if cls is None:
        raise RuntimeError(reason)
    if model_name == "nafnet":
        return cls(img_channel=3, **{NAFNET_KEYWORDS[k]: list(v) if isinstance(v, tuple) else v
                                     for k, v in options.items()})
    return cls(img_size=image_size, token_projection="linear", token_mlp="leff",
               **{SHADOWFORMER_KEYWORDS[k]: v for k, v in options.items()})


def device():
    """'cuda' when torch sees a GPU, else 'cpu'."""
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def time_train_step(model_name, batch_size, image_size, channels, *, repeats, warmup,
                    features=(32, 64, 128, 256), num_classes=10, compile=False,
                    dtype="float32", options=None):
    """(Timing of one Adam training step, parameter count) for the torch twin of `model_name`:
    eager, or with `compile` the model through `torch.compile` (the Timing's compile_s is then
    the first step, which compiles). On a GPU (`device()`): the model and data on CUDA,
    `cudnn.benchmark`, and for dtype bfloat16 `torch.autocast` (parameters and Adam in float32,
    as the JAX step keeps them). `loss.item()` ends each step: it waits for the device.
    nafnet and shadowformer: the official modules with `options` (the JAX model's); the L1
    loss; shadowformer reads the last of the `channels` as its mask, in {0, 1}."""
    import torch
    on = device()
    if on == "cuda":
        torch.backends.cudnn.benchmark = True
    g = torch.Generator().manual_seed(0)
    x = _cl(torch.rand(batch_size, channels, image_size, image_size, generator=g))
    inputs = (x,)
    if model_name in ("cnn_tiny", "cnn_small"):
        build = _cnn_tiny if model_name == "cnn_tiny" else _cnn_small
        model = build(torch, channels, num_classes, image_size)
        target = torch.randint(0, num_classes, (batch_size,), generator=g)
        loss_fn = torch.nn.functional.cross_entropy
    elif model_name == "unet":
        model = _unet(torch, channels, features)
        target = _cl(torch.rand(batch_size, 3, image_size, image_size, generator=g))
        loss_fn = lambda y, t: torch.mean(torch.abs(y - t))
    elif model_name in ("nafnet", "shadowformer"):
        model = _official(model_name, image_size, options or {})
        target = _cl(torch.rand(batch_size, 3, image_size, image_size, generator=g))
        loss_fn = lambda y, t: torch.mean(torch.abs(y - t))
        if model_name == "shadowformer":
            inputs = (_cl(x[:, :3]), _cl((x[:, 3:] > 0.5).float()))
    else:
        raise ValueError(f"no torch twin of model '{model_name}'")
    model = model.to(on, memory_format=torch.channels_last)
    inputs, target = tuple(t.to(on) for t in inputs), target.to(on)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    count = sum(p.numel() for p in model.parameters())
    if compile:
        model = torch.compile(model)
    autocast = torch.autocast(on, dtype=torch.bfloat16, enabled=dtype == "bfloat16")

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast:
            out = model(*inputs)
        loss = loss_fn(out.float(), target)
        loss.backward()
        opt.step()
        return loss.item()

    return time_call(step, repeats=repeats, warmup=warmup), count
