"""Which axis of each train-state array is split over the mesh's 'fsdp' axis.

A leaf with at least `min_size` elements is split on its largest dimension that the fsdp size
divides (the last such dimension on a tie); every other leaf (biases, small kernels, scalars,
the PRNG key) is replicated. The rule sees only shapes, so the Adam moments `mu` and `nu` get
the sharding of the parameters they track.

    leaf (3, 3, 64, 128), fsdp = 2   ->  P(None, None, None, 'fsdp')   (128 / 2 per device)
    leaf (64,),           fsdp = 2   ->  P()                           (replicated)
"""

import math

import jax
from jax.sharding import NamedSharding, PartitionSpec as P

MIN_SIZE = 2 ** 14


def fsdp_spec(shape, fsdp, min_size=MIN_SIZE):
    """The PartitionSpec of an array of `shape` under the rule above."""
    if fsdp <= 1 or math.prod(shape) < min_size:
        return P()
    candidates = [(d, i) for i, d in enumerate(shape) if d % fsdp == 0]
    if not candidates:
        return P()
    _, axis = max(candidates)
    return P(*[("fsdp" if i == axis else None) for i in range(len(shape))])


def state_shardings(abstract_state, mesh, min_size=MIN_SIZE):
    """A tree like `abstract_state` (arrays or ShapeDtypeStructs) of NamedShardings on `mesh`."""
    fsdp = mesh.shape["fsdp"]
    return jax.tree.map(lambda x: NamedSharding(mesh, fsdp_spec(x.shape, fsdp, min_size)),
                        abstract_state)


def bytes_on_device(tree, device):
    """Bytes of `tree`'s arrays held on `device` (its shards only)."""
    return sum(shard.data.nbytes for x in jax.tree.leaves(tree)
               for shard in x.addressable_shards if shard.device == device)
