"""`tinycnn infer --ray`: the same pipeline as without it, its batches run by Ray workers.

The command builds its ImagePipeline as always (checking the model, the options and the labels
before Ray starts), connects to Ray, and hands the pipeline to tinycnn.ray.classify_files, which
pickles it to each worker; results come back in the order of the files and go to the same
writers.  A local Ray (no ADDRESS) reads the model from its path; a cluster gets it through
Ray's object store, or from its path when it is over the pickling limit (a note says so).
"""
import logging
import os
import sys

from ..errors import ResourceLimit
from ..options import PICKLE_CONFIG_KEY
from .args import CLIError, first_line, positive_int

LOCAL = "local"   # --ray without an address: a Ray started for the run, on this machine
# Logical CPUs a local Ray gets beyond those its workers reserve: Ray Data's own tasks (splitting
# the list of files, moving blocks) need one free, or the job waits forever on 2 cores.
SPARE_CPUS = 2


def add_options(p):
    g = p.add_argument_group("running on Ray (pip install tinycnn[ray])")
    g.add_argument("--ray", nargs="?", const=LOCAL, metavar="ADDRESS",
                   help="classify on a Ray cluster: auto (the cluster this machine belongs to), an "
                        "address (host:6379, ray://host:10001), or none for a Ray started on this "
                        "machine for the run; the images must be readable at their paths by every "
                        "worker")
    g.add_argument("--workers", type=positive_int, metavar="N",
                   help="Ray workers, each with its own session (default: the cluster's CPUs / T)")
    g.add_argument("--threads-per-worker", type=positive_int, metavar="T",
                   help="CPUs each worker reserves and threads its session uses (default 1)")


def check_options(args):
    """Options that do not go with --ray (or need it), refused before any work."""
    if args.ray is None:
        for name, value in (("--workers", args.workers),
                            ("--threads-per-worker", args.threads_per_worker)):
            if value is not None:
                raise CLIError(f"{name} needs --ray")
        return
    if args.threads:
        raise CLIError("--threads: with --ray, each worker's threads are --threads-per-worker")
    if args.save_outputs:
        raise CLIError("--save-outputs is not available with --ray (the workers keep the model "
                       "outputs); run without --ray to save them")
    if args.ray != LOCAL and (args.ray.lower().endswith(".onnx") or os.path.exists(args.ray)):
        raise CLIError(f"--ray took {args.ray!r} for the cluster's address: write --ray=ADDRESS, "
                       "or put --ray after the images")


def connect(address, workers, threads):
    """Connect to Ray (or start it on this machine); the number of workers to use."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise CLIError("--ray needs Ray: pip install tinycnn[ray]") from None
    # Ray's messages (its own progress, notes on its settings) would bury infer's: errors only.
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    quiet = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
    try:
        if address == LOCAL:
            if workers is None:
                workers = max(1, len(os.sched_getaffinity(0)) // threads)
            ray.init(num_cpus=workers * threads + SPARE_CPUS, **quiet)
        else:
            ray.init(address=address, **quiet)
            if workers is None:
                workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
    except (ConnectionError, ValueError, RuntimeError) as e:
        raise CLIError(f"--ray {address}: cannot connect to Ray ({first_line(e)})") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False   # infer has its own
    return workers


def batches(pipe, paths, args, model_path):
    """The pipeline's results for `paths`, batch by batch, computed on Ray."""
    if pipe.task != "classify":
        raise CLIError(f"--ray classifies; {model_path} is not a classifier (task {pipe.task}): "
                       "run it without --ray")
    threads = args.threads_per_worker or 1
    workers = connect(args.ray, args.workers, threads)
    import ray
    from ..ray import classify_files

    _choose_shipping(pipe.session, args.ray, model_path)
    try:
        yield from classify_files(pipe, paths, workers=workers, threads_per_worker=threads)
    except ray.exceptions.RayError as e:
        raise CLIError(f"{model_path}: failed on a Ray worker: {_cause(e)}") from None
    finally:
        ray.shutdown()


def _choose_shipping(session, address, model_path):
    """How the session travels to the workers: by path to a local Ray; else with its model,
    unless it is over the pickling limit (then by path, with a note)."""
    opts = session.get_session_options()
    if address != LOCAL:
        try:
            session.__reduce__()   # raises if the model is over SessionOptions.max_pickle_bytes
            return
        except ResourceLimit:
            print(f"tinycnn: {model_path} is over {opts.max_pickle_bytes:,} bytes: the workers "
                  "load it from its path, which must be readable there", file=sys.stderr)
    opts.add_session_config_entry(PICKLE_CONFIG_KEY, "path")


def _cause(e):
    """The one line that says why a Ray task failed (its cause, not Ray's traceback)."""
    cause = getattr(e, "cause", None)
    return first_line(cause) if cause is not None else first_line(e).split("\n")[-1]
