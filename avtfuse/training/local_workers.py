"""A group of worker processes on this machine, each with its own TF_CONFIG on 127.0.0.1: multi-worker training
(MultiWorkerMirroredStrategy) tried out without a cluster (python -m experiments.launch_local). Worker 0 is the
chief; a failing or killed worker stops the others. The workers share one private network namespace with only
loopback up (`avtfuse.training.network_namespace`): TensorFlow's servers listen unauthenticated on every interface."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

from avtfuse.training.network_namespace import HOST, NamespaceUnavailable, PrivateNetwork, free_ports

STOP_GRACE_SECONDS = 2  # a worker waiting in a collective may not end on SIGTERM
TIMED_OUT = 124


def tf_config(addresses, index):
    """The TF_CONFIG (JSON text) of worker `index` of a cluster of workers at `addresses` ("host:port")."""
    return json.dumps({"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}})


class NetworkExposureRefused(RuntimeError):
    """No private network namespace could be made and the exposure was not accepted; the message says why."""


class LocalWorkers:
    """`count` processes of `command`, each with the TF_CONFIG of its place in one cluster on 127.0.0.1, all in one
    private network namespace.

    Their stdout and stderr lines are written to `output` (default sys.stdout) as "worker <i>: <line>".
    `pids` lists their process ids and `addresses` their "host:port", worker 0 (the chief) first. Where no
    namespace can be made, NetworkExposureRefused is raised, unless `allow_network_exposure`: then the workers run
    in this machine's network, their servers reachable from it.
    """

    def __init__(self, command, count, output=None, env=None, allow_network_exposure=False):
        if count < 1:
            raise ValueError(f"--workers: expected 1 or more, got {count}")
        self.output = output or sys.stdout
        self.lock = threading.Lock()
        try:
            self.network = PrivateNetwork(count)
        except NamespaceUnavailable as error:
            if not allow_network_exposure:
                raise NetworkExposureRefused(
                    f"launch_local: no private network namespace for the workers ({error}); their TensorFlow "
                    "servers would listen unauthenticated on every interface of this machine: pass "
                    "--allow-network-exposure to run them so") from None
            self.network = None
            self._note(f"no private network namespace ({error}): the workers' servers listen on every interface")
        ports, prefix = (self.network.ports, self.network.prefix) if self.network else (free_ports(count), [])
        self.addresses = [f"{HOST}:{port}" for port in ports]
        base = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
        self.processes = [subprocess.Popen([*prefix, *command],
                                           env=dict(base, TF_CONFIG=tf_config(self.addresses, index)),
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                          for index in range(count)]
        self.pumps = [threading.Thread(target=self._pump, args=(index, process.stdout), daemon=True)
                      for index, process in enumerate(self.processes)]
        for pump in self.pumps:
            pump.start()

    @property
    def pids(self):
        return [process.pid for process in self.processes]

    def _pump(self, index, stream):
        for line in stream:
            with self.lock:
                self.output.write(f"worker {index}: {line}")
                self.output.flush()

    def wait(self, timeout=None):
        """Waits for every worker; returns 0 when all succeeded. When one fails, the others are stopped and its
        exit status is returned (negative: killed by that signal); past `timeout` seconds all are stopped and
        124 is returned."""
        deadline = None if timeout is None else time.monotonic() + timeout
        status = 0
        try:
            while None in [process.poll() for process in self.processes]:  # every process polled
                failed = [(index, process.returncode) for index, process in enumerate(self.processes)
                          if process.returncode not in (None, 0)]
                if failed:
                    index, status = failed[0]
                    self._note(f"worker {index} exited with status {status}: stopping the other workers")
                    break
                if deadline is not None and time.monotonic() > deadline:
                    self._note(f"the workers ran past {timeout:g} s: stopping them")
                    status = TIMED_OUT
                    break
                time.sleep(0.2)
            else:
                status = next((process.returncode for process in self.processes if process.returncode), 0)
        finally:
            self.stop()
        return status

    def stop(self):
        """Ends every worker still running (SIGTERM, then SIGKILL after a grace period) and its output."""
        running = [process for process in self.processes if process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pump in self.pumps:
            pump.join()
        if self.network:
            self.network.close()

    def _note(self, message):
        with self.lock:
            self.output.write(f"launch_local: {message}\n")
            self.output.flush()
