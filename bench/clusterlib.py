"""Shared by bench/cluster and bench/failover: a local cluster of rustidocs-node or of
Debian's redis-server, started the same way and formed by `redis-cli --cluster create`."""

import os
import shutil
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = os.environ.get("RUSTIDOCS_NODE") or os.path.join(ROOT, "target", "release", "rustidocs-node")
IMPLS = {"ours": OURS, "redis": "redis-server"}


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_base(count):
    """A base port whose node and bus ports (+10000) are free, below the ephemeral range."""
    for base in range(12000 + os.getpid() % 1000 * 7, 22000, 37):
        if all(port_free(p) and port_free(p + 10000) for p in range(base, base + count)):
            return base
    raise SystemExit("no free ports")


def cli(port, *args, timeout=10):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True,
                          text=True, timeout=timeout).stdout


def ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def info_field(port, field):
    for line in cli(port, "cluster", "info", timeout=2).splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return None


def wait(what, ok, timeout=60):
    deadline = time.time() + timeout
    while not ok():
        if time.time() > deadline:
            raise SystemExit(f"timed out: {what}")
        time.sleep(0.05)


def wait_replicas_synced(name, ports):
    """Until every replica among `ports` has its link to its master up."""
    def synced(port):
        info = cli(port, "info", "replication", timeout=2)
        return "role:master" in info or "master_link_status:up" in info
    wait(f"{name}: replicas synced", lambda: all(synced(p) for p in ports))


class Cluster:
    """masters x (1 + replicas) nodes of `binary` on consecutive ports, formed and ok."""

    def __init__(self, name, binary, masters=3, replicas=2, node_timeout=1000):
        self.name = name
        count = masters * (1 + replicas)
        self.base = free_base(count)
        self.ports = list(range(self.base, self.base + count))
        self.dir = tempfile.mkdtemp(prefix=f"bench-cluster-{name}-")
        self.procs = {p: self.spawn(binary, p, node_timeout) for p in self.ports}
        try:
            self.form(replicas)
        except BaseException:
            self.stop()
            raise

    def form(self, replicas):
        for p in self.ports:
            wait(f"{self.name} node {p} answers", lambda: ping(p))
        addrs = [f"127.0.0.1:{p}" for p in self.ports]
        out = subprocess.run(["redis-cli", "--cluster", "create", *addrs, "--cluster-replicas",
                              str(replicas), "--cluster-yes"], capture_output=True, text=True,
                             timeout=120)
        if out.returncode != 0:
            raise SystemExit(f"{self.name}: cluster create failed:\n{out.stdout}{out.stderr}")
        self.wait_ok(self.ports)

    def spawn(self, binary, port, node_timeout):
        d = os.path.join(self.dir, str(port))
        os.makedirs(d)
        return subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
             "--cluster-enabled", "yes", "--cluster-node-timeout", str(node_timeout),
             "--save", "", "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ok(self, ports):
        wait(f"{self.name}: cluster_state:ok everywhere",
             lambda: all(info_field(p, "cluster_state") == "ok" for p in ports))
        wait(f"{self.name}: redis-cli --cluster check passes",
             lambda: subprocess.run(["redis-cli", "--cluster", "check", f"127.0.0.1:{ports[0]}"],
                                    capture_output=True).returncode == 0)

    def wait_synced(self):
        """Until every replica's link to its master is up: a replica that never synced
        refuses to fail over (its data counts as too old)."""
        wait_replicas_synced(self.name, self.ports)

    def wait_roles_agree(self):
        """Until every node has the same view of who replicates whom (gossip about a
        role change reaches nodes at different moments right after forming)."""
        def view(port):
            return sorted((n["id"], n["master"]) for n in self.nodes(port))
        wait(f"{self.name}: every node agrees on roles",
             lambda: len({tuple(view(p)) for p in self.ports}) == 1)

    def nodes(self, port):
        """CLUSTER NODES of one node as dicts (id, port, flags, master, slots)."""
        out = []
        for line in cli(port, "cluster", "nodes", timeout=2).splitlines():
            f = line.split()
            if len(f) < 8:
                continue
            out.append({"id": f[0], "port": int(f[1].split("@")[0].rsplit(":", 1)[1]),
                        "flags": f[2].split(","), "master": f[3], "slots": f[8:]})
        return out

    def stop(self):
        for p in self.procs.values():
            p.kill()
            p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
