"""A private network namespace for the local workers of one cluster: only a loopback interface, so that their
TensorFlow servers (which TensorFlow 2.17 binds to every interface, unauthenticated, running any graph a client
sends) cannot be reached from another machine or from this machine's own network.

`PrivateNetwork(count)` starts a holder process in a new network namespace (`unshare --net`, with
`--map-root-user` when not root), which brings the loopback interface up, picks `count` ports free there and waits
until it is closed. `prefix` is the command prefix (`nsenter`) that runs a command inside that namespace, so every
worker of the cluster shares it and they reach each other on 127.0.0.1. The namespace is new and empty, so the
ports stay free until the workers bind them. Run as a script, this file is the holder (standard library only).
"""

import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import sys

HOST = "127.0.0.1"
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1  # <linux/sockios.h>, <net/if.h>
IFREQ = "16sh22x"  # struct ifreq: the interface name, the flags, the rest of the union (40 bytes)


class NamespaceUnavailable(RuntimeError):
    """No private network namespace could be made here; the message says why."""


def free_ports(count):
    """`count` distinct TCP ports free on 127.0.0.1 (held together while chosen, so they differ)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for held in sockets:
            held.bind((HOST, 0))
        return [held.getsockname()[1] for held in sockets]
    finally:
        for held in sockets:
            held.close()


def loopback_up():
    """Brings the interface lo of this process's network namespace up (as `ip link set lo up`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as handle:
        flags = struct.unpack(IFREQ, fcntl.ioctl(handle, SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0)))[1]
        fcntl.ioctl(handle, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))


def hold(count):
    """The holder, inside the new namespace: loopback up, {"ports": [count free ports]} on stdout, then waits
    until stdin closes (the launcher ended the workers, or died)."""
    loopback_up()
    print(json.dumps({"ports": free_ports(count)}), flush=True)
    sys.stdin.read()


def unshare_command():
    """The command prefix that starts a process in a new network namespace (a new user namespace too, mapping
    this user to root there, when not root: an unprivileged user may create one where the kernel allows it)."""
    return ["unshare", "--net", *([] if os.geteuid() == 0 else ["--map-root-user"]), "--"]


class PrivateNetwork:
    """A new network namespace with only loopback up, held open until `close`; raises NamespaceUnavailable
    (with the reason: unshare missing or refused) when none can be made.

    ports: `count` TCP ports free on 127.0.0.1 inside it. prefix: the command prefix that runs a command inside
    it, in the same process (nsenter execs the command, so its process id and exit status are the command's).
    """

    def __init__(self, count):
        command = [*unshare_command(), sys.executable, "-I", os.path.abspath(__file__), str(count)]
        try:
            self.holder = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)
        except OSError as error:
            raise NamespaceUnavailable(f"{command[0]}: {error.strerror}") from None
        line = self.holder.stdout.readline()
        if not line:
            error = " ".join(self.holder.communicate()[1].split())
            raise NamespaceUnavailable(error or f"unshare exited with status {self.holder.returncode}")
        self.ports = json.loads(line)["ports"]
        as_user = [] if os.geteuid() == 0 else ["--user", "--preserve-credentials"]
        self.prefix = ["nsenter", "--target", str(self.holder.pid), "--net", *as_user, "--"]
        if shutil.which("nsenter") is None:
            self.close()
            raise NamespaceUnavailable("nsenter: not found")

    def close(self):
        """Lets the holder end (the namespace goes with the last process in it)."""
        if self.holder.returncode is None:
            self.holder.communicate()


if __name__ == "__main__":
    hold(int(sys.argv[1]))
