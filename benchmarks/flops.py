"""FLOP counts, analytical: a multiply-add is 2 FLOPs.

    conv:            2 · N · H · W · Cin · Cout · kh · kw    (H, W: output positions)
    transposed conv: 2 · N · H · W · Cin · Cout · kh · kw    (H, W: input positions)
    dense:           2 · N · Cin · Cout

Each of forward, input gradient (dgrad) and weight gradient (wgrad) costs the same count.
`jaxpr_flops` adds these up over every convolution and matrix product in a traced function,
sub-computations included (scan bodies times their length), so a training step's count
includes its backward pass.
"""

import math

import jax
from jax.extend import core


def conv_flops(n, h, w, cin, cout, kh, kw):
    """2·N·H·W·Cin·Cout·kh·kw."""
    return 2 * n * h * w * cin * cout * kh * kw


def dense_flops(n, cin, cout):
    """2·N·Cin·Cout."""
    return 2 * n * cin * cout


def _eqn_flops(eqn):
    name = eqn.primitive.name
    if name == "dot_general":
        (lhs_contract, _), _ = eqn.params["dimension_numbers"]
        lhs = eqn.invars[0].aval.shape
        out = eqn.outvars[0].aval.shape
        return 2 * math.prod(out) * math.prod(lhs[d] for d in lhs_contract)
    if name == "conv_general_dilated":
        rhs = eqn.invars[1].aval.shape
        out = eqn.outvars[0].aval.shape
        rhs_spec = eqn.params["dimension_numbers"].rhs_spec  # (out, in, *spatial)
        taps_x_cin = math.prod(rhs) // rhs[rhs_spec[0]]
        # An lhs-dilated convolution (transposed conv, strided dgrad) multiplies the inserted
        # zeros too; only 1 / prod(dilation) of its products are real.
        return 2 * math.prod(out) * taps_x_cin // math.prod(eqn.params["lhs_dilation"])
    return 0


def _jaxpr_flops(jaxpr):
    total = 0
    for eqn in jaxpr.eqns:
        total += _eqn_flops(eqn)
        times = eqn.params.get("length", 1) if eqn.primitive.name == "scan" else 1
        subs = []
        for value in eqn.params.values():
            for v in (value if isinstance(value, (tuple, list)) else (value,)):
                if isinstance(v, core.ClosedJaxpr):
                    subs.append(v.jaxpr)
                elif isinstance(v, core.Jaxpr):
                    subs.append(v)
        if eqn.primitive.name == "cond":
            total += max((_jaxpr_flops(s) for s in subs), default=0)
        else:
            total += times * sum(_jaxpr_flops(s) for s in subs)
    return total


def jaxpr_flops(fn, *args):
    """FLOPs of the convolutions and dot products `fn(*args)` traces (analytical, from shapes)."""
    return _jaxpr_flops(jax.make_jaxpr(fn)(*args).jaxpr)
