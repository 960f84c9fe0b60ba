"""Joining a multi-process run on JAX's own distributed runtime (`jax.distributed`).

    explicit   --coordinator-address HOST:PORT --num-processes N --process-id I (all three):
               process I of N; process 0 serves the coordinator at HOST:PORT
    detected   the environment describes a cluster: a SLURM step of more than one task (srun),
               a multi-host TPU slice (TPU_WORKER_HOSTNAMES lists several hosts, or
               MEGASCALE_COORDINATOR_ADDRESS is set), or JAX_COORDINATOR_ADDRESS is set;
               `jax.distributed.initialize()` then finds the address, count and index itself
    neither    a plain single-process run (nothing is initialised)

It must run before anything touches a JAX backend (jax.devices(), a computation, ...).

A peer that dies is noticed by the coordination service's heartbeats: every other process is
stopped at most `heartbeat_timeout_s` seconds later (plus a few seconds of polling) by JAX
itself: it aborts the process (status -6, SIGABRT) after the line "Terminating process because
the JAX distributed service detected fatal errors ... another task died". (JAX's client takes a
`missed_heartbeat_callback` that could replace the abort with a cleaner exit, but in jaxlib
0.10 the status it is called with cannot be passed to Python.) Joining gives up after
`initialization_timeout_s` seconds when the other processes never come.
"""

import os

import jax

from jaxshadow.errors import UserError

HEARTBEAT_TIMEOUT_S = 100      # JAX's default
INITIALIZATION_TIMEOUT_S = 300  # JAX's default


def cluster_in_environment(env=None):
    """The name of the multi-process cluster `env` (default os.environ) describes, or ''."""
    env = os.environ if env is None else env
    if "SLURM_JOB_ID" in env and "SLURM_STEP_NODELIST" in env and \
            int(env.get("SLURM_NTASKS", "1")) > 1:
        return "slurm"  # inside `srun`; a bare sbatch script is one process
    if "," in env.get("TPU_WORKER_HOSTNAMES", "") or env.get("MEGASCALE_COORDINATOR_ADDRESS"):
        return "tpu"
    if env.get("JAX_COORDINATOR_ADDRESS"):
        return "JAX_COORDINATOR_ADDRESS"
    return ""


def check_flags(coordinator_address, num_processes, process_id):
    """Raises UserError unless the three flags are all given (and sane) or all absent."""
    given = [v is not None for v in (coordinator_address, num_processes, process_id)]
    if not any(given):
        return False
    if not all(given):
        raise UserError("--coordinator-address, --num-processes and --process-id go together: "
                        "give all three or none")
    host, _, port = coordinator_address.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--coordinator-address must be HOST:PORT, got '{coordinator_address}'")
    if num_processes < 1:
        raise UserError(f"--num-processes must be >= 1, got {num_processes}")
    if not 0 <= process_id < num_processes:
        raise UserError(f"--process-id must be in [0, {num_processes - 1}], got {process_id}")
    return True


def initialize(coordinator_address=None, num_processes=None, process_id=None, *,
               heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
               initialization_timeout_s=INITIALIZATION_TIMEOUT_S):
    """Joins the run as described in the module docstring. Returns how: 'flags', the cluster's
    name, or '' (single process). Raises UserError for bad flags or a coordinator not reached."""
    timeouts = {"heartbeat_timeout_seconds": heartbeat_timeout_s,
                "initialization_timeout": initialization_timeout_s}
    if check_flags(coordinator_address, num_processes, process_id):
        how, args = "flags", {"coordinator_address": coordinator_address,
                              "num_processes": num_processes, "process_id": process_id,
                              "cluster_detection_method": "deactivate"}
    else:
        how, args = cluster_in_environment(), {}
        if not how:
            return ""
    try:
        jax.distributed.initialize(**args, **timeouts)
    except (RuntimeError, ValueError) as e:  # XlaRuntimeError is a RuntimeError
        text = " ".join(str(e).split())[:200]
        raise UserError(f"cannot join the multi-process run ({how}): {text}") from e
    return how
