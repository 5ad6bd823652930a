#!/usr/bin/env python3
"""redis-py against a cluster: python3 cluster_client.py PORT...
RedisCluster reads and writes 1000 keys through redirects, pipelines and hash tags;
plain clients check pub/sub across nodes and sharded pub/sub (MOVED on a wrong shard).
Exits non-zero on any mismatch."""

import sys
import time

import redis
from redis.cluster import ClusterNode, RedisCluster


def keys(rc):
    for i in range(1000):
        assert rc.set(f"py:{i}", f"v{i}")
    for i in range(1000):
        assert rc.get(f"py:{i}") == f"v{i}", i
    assert rc.incrby("py:counter", 7) == 7
    # Hash tags put related keys in one slot, so multi-key commands work.
    assert rc.mset({"{user:1}:name": "ann", "{user:1}:age": "33"})
    assert rc.mget("{user:1}:name", "{user:1}:age") == ["ann", "33"]
    assert rc.keyslot("{user:1}:name") == rc.keyslot("{user:1}:age")
    assert rc.rpush("{q}list", "a", "b") == 2 and rc.lmove("{q}list", "{q}other") == "a"
    # Keys of different slots: the client splits the request per node.
    got = rc.mget_nonatomic([f"py:{i}" for i in range(0, 1000, 10)])
    assert got == [f"v{i}" for i in range(0, 1000, 10)]


def pipelines(rc):
    pipe = rc.pipeline()
    for i in range(1000):
        pipe.set(f"pp:{i}", i)
    assert all(pipe.execute())
    pipe = rc.pipeline()
    for i in range(1000):
        pipe.get(f"pp:{i}")
    assert pipe.execute() == [str(i) for i in range(1000)]
    assert rc.delete(*[f"pp:{i}" for i in range(1000)]) == 1000


def message(p, kind, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = p.get_message(timeout=0.1)
        if m and m["type"] == kind:
            return m
    raise AssertionError(f"no {kind} message")


def shard_nodes(node, channel):
    """Port of the master owning the channel's slot, its replicas, and another master."""
    slot = node.cluster("keyslot", channel)
    owner, replicas, other = None, [], None
    for start, end, master, *reps in node.execute_command("CLUSTER SLOTS"):
        if start <= slot <= end:
            owner, replicas = master[1], [r[1] for r in reps]
        else:
            other = master[1]
    return slot, owner, replicas, other


def pubsub(ports):
    nodes = {p: redis.Redis(port=p, decode_responses=True) for p in ports}
    sub = nodes[ports[0]].pubsub()
    sub.subscribe("news")
    message(sub, "subscribe")
    for p in ports[1:]:
        nodes[p].publish("news", f"from {p}")
    got = {message(sub, "message")["data"] for _ in ports[1:]}
    assert got == {f"from {p}" for p in ports[1:]}, got
    sub.close()

    slot, owner, replicas, other = shard_nodes(nodes[ports[0]], "orders")
    where = replicas[0] if replicas else owner
    ssub = nodes[where].pubsub()
    ssub.ssubscribe("orders")
    message(ssub, "ssubscribe")
    nodes[owner].spublish("orders", "first")
    assert message(ssub, "smessage")["data"] == "first"
    ssub.close()
    try:
        nodes[other].execute_command("SSUBSCRIBE", "orders")
        raise AssertionError("SSUBSCRIBE on a wrong shard must fail")
    except redis.exceptions.MovedError as e:
        # redis-py parses "MOVED <slot> <host>:<port>" into the exception.
        assert (e.slot_id, e.port) == (slot, owner), (e.slot_id, e.port, slot, owner)


def main():
    ports = [int(p) for p in sys.argv[1:]]
    rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", ports[0])], decode_responses=True)
    keys(rc)
    pipelines(rc)
    pubsub(ports)
    print("ok")


if __name__ == "__main__":
    main()
