"""A cluster of worker processes on 127.0.0.1 for the multi-worker tests.

Each worker is a process in its own session (process group) with its own
`TF_CONFIG`; `Cluster` picks free ports, bounds every wait, and kills the
process groups it started on exit.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

from tests.helpers import REPO, subprocess_env


def free_ports(count):
    """`count` distinct free TCP ports on 127.0.0.1 (held open together while chosen)."""
    sockets = []
    try:
        for _ in range(count):
            handle = socket.socket()
            handle.bind(("127.0.0.1", 0))
            sockets.append(handle)
        return [handle.getsockname()[1] for handle in sockets]
    finally:
        for handle in sockets:
            handle.close()


def tf_config(ports, index):
    return json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
        "task": {"type": "worker", "index": index},
    })


class Cluster:
    """Starts `len(commands)` workers; `commands[i]` is the argv after `python`.

    Use as a context manager: leaving it kills every worker's process group.
    `logs[i]` is worker i's combined stdout/stderr file.
    """

    def __init__(self, commands, directory, env=None, ports=None):
        self.commands = commands
        self.directory = directory
        self.ports = ports or free_ports(len(commands))
        self.env = dict(env or {})
        self.processes = []
        self.logs = [os.path.join(directory, f"worker{i}.log") for i in range(len(commands))]

    def __enter__(self):
        os.makedirs(self.directory, exist_ok=True)
        for index, command in enumerate(self.commands):
            env = subprocess_env(TF_CONFIG=tf_config(self.ports, index), **self.env)
            with open(self.logs[index], "w") as log:
                self.processes.append(subprocess.Popen(
                    ["nice", sys.executable, *command], cwd=REPO, env=env, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True,
                ))
        return self

    def __exit__(self, *exc_info):
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            process.wait(timeout=30)

    def kill(self, index):
        os.killpg(self.processes[index].pid, signal.SIGKILL)
        self.processes[index].wait(timeout=30)

    def wait(self, timeout):
        """Waits for every worker (at most `timeout` s in all). -> exit codes (None: still running)."""
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        return [process.poll() for process in self.processes]

    def log(self, index):
        with open(self.logs[index], errors="replace") as handle:
            return handle.read()

    def wait_for_text(self, index, text, timeout):
        """Waits until worker `index`'s log holds `text`; False on timeout or exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log(index):
                return True
            if self.processes[index].poll() is not None:
                return text in self.log(index)
            time.sleep(0.5)
        return False


def cli(*args):
    """argv for `python -m tfdgm.cli ARGS`."""
    return ["-m", "tfdgm.cli", *[str(a) for a in args]]
