"""redis-py against a running server: python3 client_smoke.py PORT [3]
Exercises strings, lists, hashes, sets, sorted sets, streams, transactions, pipelines,
SCAN and pub/sub through the real client library; exits non-zero on any mismatch."""

import sys
import time

import redis


def main():
    port = int(sys.argv[1])
    protocol = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    r = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    assert r.ping()
    r.flushall()
    assert r.set("s", "v") and r.get("s") == "v"
    assert r.incrby("n", 5) == 5 and r.incrbyfloat("f", 1.5) == 1.5
    r.set("ttl", "x", ex=100)
    assert 0 < r.ttl("ttl") <= 100
    assert r.rpush("l", "a", "b", "c") == 3 and r.lrange("l", 0, -1) == ["a", "b", "c"]
    assert r.lpop("l") == "a" and r.llen("l") == 2
    r.hset("h", mapping={"f1": "1", "f2": "2"})
    assert r.hgetall("h") == {"f1": "1", "f2": "2"}
    assert r.hincrby("h", "f1", 10) == 11
    assert r.sadd("st", "x", "y", "z") == 3 and r.smembers("st") == {"x", "y", "z"}
    r.zadd("z", {"a": 1, "b": 2.5, "c": 3})
    assert [tuple(x) for x in r.zrange("z", 0, -1, withscores=True)] == [("a", 1.0), ("b", 2.5), ("c", 3.0)]
    assert r.zscore("z", "b") == 2.5
    popped = r.zpopmin("z")  # RESP2: [("a", 1.0)]; RESP3: ["a", 1.0]
    assert popped in ([("a", 1.0)], ["a", 1.0]), popped
    sid = r.xadd("stream", {"k": "v"})
    entries = r.xrange("stream")
    assert entries[0][0] == sid and entries[0][1] == {"k": "v"}
    pipe = r.pipeline(transaction=True)
    pipe.set("t1", "1").incr("t1").get("t1")
    assert pipe.execute() == [True, 2, "2"]
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.set(f"p:{i}", i)
    pipe.execute()
    assert len(list(r.scan_iter(match="p:*", count=10))) == 100
    assert r.dbsize() >= 100
    p = r.pubsub()
    p.subscribe("chan")
    deadline = time.time() + 5
    msg = None
    while time.time() < deadline:
        msg = p.get_message(timeout=0.1)
        if msg and msg["type"] == "subscribe":
            break
    assert r.publish("chan", "hello") == 1
    while time.time() < deadline:
        msg = p.get_message(timeout=0.1)
        if msg and msg["type"] == "message":
            break
    assert msg and msg["data"] == "hello", msg
    p.close()
    info = r.info()
    assert "redis_version" in info and "connected_clients" in info
    assert r.config_get("maxclients")["maxclients"] == "10000"
    r.client_setname("py")
    assert r.client_getname() == "py"
    print("redis-py ok, protocol", protocol)


if __name__ == "__main__":
    main()
