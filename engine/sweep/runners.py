"""Where trials run: a local process pool, or tasks on a Ray cluster.

Both runners are context managers whose `results(specs)` yields each
`TrialResult` as it finishes (in completion order). Leaving the block with an
exception (Ctrl-C) cancels what has not finished: the pool is terminated, Ray
tasks are cancelled. Workers never see the main database; a Ray task receives
its spec (a few KB) and a reference to the data file's bytes, put in the object
store once per sweep, and returns its metrics and an Arrow table of daily equity.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from engine.errors import UsageError
from engine.sweep.trial import TrialResult, TrialSpec, one_line_error, run_trial

# Numeric libraries in every worker use one thread: trials run side by side, and a
# fixed thread count keeps a trial's numbers identical wherever it runs.
THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


class Runner(Protocol):
    """Runs trials inside a `with` block; leaving it on an exception cancels the rest."""

    name: str

    def __enter__(self) -> Runner: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def results(self, specs: Sequence[TrialSpec]) -> Iterator[TrialResult]:
        """Each trial's result as it finishes."""
        ...


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the driver, which terminates them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _gpus(spec: TrialSpec) -> float:
    """One GPU for a trial whose config asks for CUDA; none for "auto" or "cpu"."""
    return 1.0 if str(spec.config_values["device"]["device"]).startswith("cuda") else 0.0


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """UsageError unless host:port (optionally ray://host:port) accepts a TCP connection."""
    import socket

    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except (OSError, ValueError):
        raise UsageError(
            f"cannot reach the Ray cluster at {address}",
            "start it with `ray start --head` and pass HOST:PORT (or ray://HOST:10001)",
        ) from None


class LocalRunner:
    """Trials in a pool of spawned processes on this machine.

    Workers are not daemons (concurrent.futures), so a trial's own forecast pool
    (large universes) can start inside them.
    """

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalRunner:
        import multiprocessing

        for key, value in THREAD_ENV.items():  # inherited by the spawned workers
            os.environ.setdefault(key, value)
        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_sigint
        )
        return self

    def results(self, specs: Sequence[TrialSpec]) -> Iterator[TrialResult]:
        assert self._pool is not None, "use LocalRunner inside a with block"
        futures = {self._pool.submit(run_trial, spec): spec for spec in specs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001 - a dead worker (e.g. out of memory) fails its trial
                yield TrialResult(futures[future].trial_id, "failed", 0.0, error=one_line_error(exc))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._pool is not None
        if exc_type is None:
            self._pool.shutdown()
            return
        running = list((getattr(self._pool, "_processes", None) or {}).values())  # no public API before 3.14
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in running:
            process.terminate()
        for process in running:
            process.join(timeout=10)


class RayRunner:
    """Trials as Ray tasks: on the cluster at `address`, or on a local cluster of `workers` CPUs.

    Each task asks for one CPU, and one GPU when its `[device] device` is CUDA.
    """

    name = "ray"

    def __init__(self, workers: int, address: str | None) -> None:
        self.workers = workers
        self.address = address or None
        self._pending: dict[Any, TrialSpec] = {}
        self._started = False
        self._workers_inherit_env = False  # True for the local cluster this runner starts

    @staticmethod
    def check_installed() -> None:
        """UsageError (exit 2) when Ray is not installed."""
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError(
                "--engine ray needs Ray, which is not installed", "pip install 'pmax[cluster]' (or use --engine local)"
            ) from None

    def start(self) -> None:
        """Connect to (or start) the cluster; UsageError when the address cannot be reached.

        Called before the database is opened, so a bad address writes nothing.
        """
        self.check_installed()
        import ray

        if ray.is_initialized():
            return
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
        if self.address:
            _check_reachable(self.address)  # ray.init retries an unreachable address for minutes
            options["address"] = self.address
        else:
            # "local": a new cluster for this sweep, even when another one runs on this machine.
            # Its workers inherit this process's environment (as the local pool's do), so the
            # tasks need no runtime_env and Ray's pre-started workers run them.
            for key, value in THREAD_ENV.items():
                os.environ.setdefault(key, value)
            self._workers_inherit_env = True
            options.update(
                address="local", num_cpus=self.workers, object_store_memory=256 * 1024**2, include_dashboard=False
            )
        try:
            ray.init(**options)
        except ConnectionError as exc:
            raise UsageError(
                f"cannot reach the Ray cluster at {self.address}: {exc}",
                "start it with `ray start --head` and pass its address; a cluster with token "
                "authentication also needs RAY_AUTH_MODE=token here",
            ) from None
        self._started = True

    def __enter__(self) -> RayRunner:
        self.start()
        return self

    def results(self, specs: Sequence[TrialSpec]) -> Iterator[TrialResult]:
        import ray

        # Other clusters' workers do not inherit this environment: the tasks carry the thread
        # limits (a runtime_env makes Ray start workers for it rather than reuse idle ones).
        runtime_env: dict[str, Any] = {} if self._workers_inherit_env else {"env_vars": THREAD_ENV}
        task = ray.remote(num_cpus=1, max_retries=0, runtime_env=runtime_env)(run_trial)
        data_refs = {path: ray.put(Path(path).read_bytes()) for path in {s.data_path for s in specs}}
        # ray's typing loses run_trial's arity through .options() (RemoteFunction0)
        self._pending = {
            task.options(num_gpus=_gpus(spec)).remote(spec, data_refs[spec.data_path]): spec  # type: ignore[call-arg]
            for spec in specs
        }
        while self._pending:
            # A short timeout lets Python run its Ctrl-C handler between waits.
            done, _ = ray.wait(list(self._pending), num_returns=1, timeout=0.5)
            for ref in done:
                spec = self._pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a lost worker fails its trial, not the sweep
                    yield TrialResult(spec.trial_id, "failed", 0.0, error=one_line_error(exc))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        import ray

        if exc_type is not None:
            for ref in self._pending:
                ray.cancel(ref, force=True)
        self._pending = {}
        if self._started:
            ray.shutdown()
