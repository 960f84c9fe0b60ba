"""The layers the project's models run, as shapes: `model_conv_specs(...)` -> [ConvSpec].

U-Net (features 32..256, image S×S, batch N): the first 3×3 conv (3 -> 32), the 3×3 f -> f conv
of every level down to the 512-channel bottleneck, a decoder 3×3 2f -> f conv, the 2×2 stride-2
transposed convs of the top and bottom levels and the 1×1 head. cnn_small (28×28×1, batch 64):
its three 3×3 VALID convs and its dense layer.
"""

import dataclasses

from benchmarks.flops import conv_flops, dense_flops


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    name: str
    kind: str          # conv | conv_transpose | dense
    n: int
    h: int             # input height and width
    w: int
    cin: int
    cout: int
    kh: int = 3
    kw: int = 3
    stride: int = 1
    padding: str = "SAME"

    def input_shape(self):
        return (self.n, self.cin) if self.kind == "dense" else (self.n, self.h, self.w, self.cin)

    def input_shape_nchw(self):
        return (self.n, self.cin) if self.kind == "dense" else (self.n, self.cin, self.h, self.w)

    def kernel_shape(self):
        return (self.cin, self.cout) if self.kind == "dense" else (self.kh, self.kw, self.cin,
                                                                  self.cout)

    def output_hw(self):
        if self.kind == "conv_transpose":
            return self.h * self.stride, self.w * self.stride
        if self.padding == "VALID":
            return (self.h - self.kh) // self.stride + 1, (self.w - self.kw) // self.stride + 1
        return -(-self.h // self.stride), -(-self.w // self.stride)

    def flops(self):
        """FLOPs of one direction (forward, dgrad or wgrad): see benchmarks.flops."""
        if self.kind == "dense":
            return dense_flops(self.n, self.cin, self.cout)
        h, w = (self.h, self.w) if self.kind == "conv_transpose" else self.output_hw()
        return conv_flops(self.n, h, w, self.cin, self.cout, self.kh, self.kw)

    def shape_text(self):
        if self.kind == "dense":
            return f"{self.n}x{self.cin} -> {self.cout}"
        return (f"{self.n}x{self.h}x{self.w}x{self.cin} -> {self.cout} "
                f"{self.kh}x{self.kw}/{self.stride} {self.padding}")


def model_conv_specs(image_size=256, batch_size=8, classifier_batch=64):
    s, n = image_size, batch_size
    specs = [ConvSpec("unet.enc0.conv0", "conv", n, s, s, 3, 32)]
    for level, f in enumerate((32, 64, 128, 256, 512)):
        size = s >> level
        name = "unet.bottleneck.conv1" if f == 512 else f"unet.enc{level}.conv1"
        specs.append(ConvSpec(name, "conv", n, size, size, f, f))
    specs += [
        ConvSpec("unet.dec0.conv0", "conv", n, s, s, 64, 32),
        ConvSpec("unet.up0", "conv_transpose", n, s // 2, s // 2, 64, 32, 2, 2, 2),
        ConvSpec("unet.up3", "conv_transpose", n, s // 16, s // 16, 512, 256, 2, 2, 2),
        ConvSpec("unet.head", "conv", n, s, s, 32, 3, 1, 1),
        ConvSpec("cnn_small.conv1", "conv", classifier_batch, 28, 28, 1, 32, padding="VALID"),
        ConvSpec("cnn_small.conv2", "conv", classifier_batch, 13, 13, 32, 64, padding="VALID"),
        ConvSpec("cnn_small.conv3", "conv", classifier_batch, 5, 5, 64, 64, padding="VALID"),
        ConvSpec("cnn_small.dense1", "dense", classifier_batch, 1, 1, 576, 64),
    ]
    return specs
