"""Pushing a layer berth compressed before: berth's gzip is deterministic,
so the same image pushed to another registry gets the same layer digests
and manifest, and goes up as one monolithic PUT per layer (digest and
length known in advance); a stale record of those bytes (another zlib)
costs a retry, not the push."""
import json
import os
import sqlite3

import pytest

from regutil import BerthRegistry, Client, Proxy, client_env


@pytest.fixture
def env(tmp_path):
    return client_env(tmp_path)


def push(berth, env, addr, repo="bb:v1"):
    name = "%s/%s" % (addr, repo)
    berth.run("tag", "busybox:latest", name)
    out = berth.out("push", name, env=env)
    line = [l for l in out.splitlines() if l.startswith("v1: digest: ")][0]
    return line.split()[2], out


def manifest(addr, repo="bb", tag="v1"):
    st, _, body = Client(addr).req("GET", "/v2/%s/manifests/%s" % (repo, tag))
    assert st == 200
    return json.loads(body)


def made_records(berth):
    con = sqlite3.connect(os.path.join(berth.root, "berth.db"), timeout=10)
    try:
        return con.execute("SELECT diff_id, digest, size FROM registry_layers"
                           " WHERE registry = '' ORDER BY rowid").fetchall()
    finally:
        con.close()


def test_push_again_elsewhere_is_identical_and_monolithic(busybox, env, tmp_path):
    with BerthRegistry(tmp_path / "a") as a, BerthRegistry(tmp_path / "b") as b, \
            BerthRegistry(tmp_path / "c") as c:
        d1, out = push(busybox, env, a.addr)
        assert "Pushed" in out
        layers = manifest(a.addr)["layers"]
        made = made_records(busybox)
        assert sorted(d for _, d, _ in made) == sorted(l["digest"] for l in layers)
        assert sorted(s for _, _, s in made) == sorted(l["size"] for l in layers)

        with Proxy(b.addr) as px:
            d2, out = push(busybox, env, px.addr)
            assert d2 == d1, out
            assert manifest(b.addr)["layers"] == layers
            methods = [m for m, p in px.requests if "/blobs/uploads/" in p]
            assert "PATCH" not in methods, px.requests
            # per blob (layers and config): one POST, one PUT with the bytes
            assert methods.count("POST") == methods.count("PUT") == len(layers) + 1

        # a record that no longer matches what gzip makes: one failed PUT,
        # then the streamed upload, and the right bytes are recorded
        con = sqlite3.connect(os.path.join(busybox.root, "berth.db"), timeout=10)
        con.execute("UPDATE registry_layers SET digest = 'sha256:' || hex(randomblob(32))"
                    " WHERE registry = ''")
        con.commit()
        con.close()
        with Proxy(c.addr) as px:
            d3, out = push(busybox, env, px.addr)
            assert d3 == d1, out
            assert manifest(c.addr)["layers"] == layers
            methods = [m for m, p in px.requests if "/blobs/uploads/" in p]
            assert methods.count("PATCH") == len(layers), px.requests
        assert made_records(busybox)[-len(layers):] == made


def test_tokens_renewed_before_they_expire(busybox, env, tmp_path):
    """A token that expires within seconds (issued_at 55 s ago, expires_in
    60) is renewed before each request that needs it, not after a 401: only
    the first request of each scope is refused."""
    with BerthRegistry(tmp_path / "a") as a, \
            Proxy(a.addr, mode="token", token_life=60, token_issued_ago=55) as px:
        d, out = push(busybox, env, px.addr)
        scopes = set(tuple(s) for s, _ in px.token_requests)
        assert px.unauthorized <= len(scopes) + 1, (px.unauthorized, px.token_requests)
        assert len(px.token_requests) > len(scopes) + 3, px.token_requests
        busybox.run("rmi", "%s/bb:v1" % px.addr, "busybox:latest")
        n401, ntok = px.unauthorized, len(px.token_requests)
        out = busybox.out("pull", "%s/bb:v1" % px.addr, env=env)
        assert "Digest: " + d in out
        assert px.unauthorized - n401 == 1
        assert len(px.token_requests) - ntok > 2
