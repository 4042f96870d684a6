"""berth's registry client through test proxies written in Python: the
bearer-token flow, a byte flipped in a layer (pull fails with a digest
error, the store is unchanged), and a download cut off half-way (resumed
with Range) or a server dying mid-download (a clean error, nothing
partial visible)."""
import json
import os

import pytest

from regutil import BerthRegistry, Client, Proxy, client_env


@pytest.fixture
def env(tmp_path):
    return client_env(tmp_path)


def store_state(berth):
    files = []
    for sub in ("blobs", "layers"):
        top = os.path.join(berth.root, sub)
        for d, dirs, fs in os.walk(top):
            for f in fs + dirs:
                files.append(os.path.relpath(os.path.join(d, f), berth.root))
    images = berth.out("images", "-a", "--no-trunc")
    return sorted(files), images


def staging_leftovers(berth):
    tmp = os.path.join(berth.root, "tmp")
    left = []
    for d, dirs, fs in os.walk(tmp):
        left += [os.path.join(d, f) for f in fs]
    return left


@pytest.fixture
def pushed(busybox, env, tmp_path):
    """busybox pushed to a berth registry, then removed locally entirely."""
    reg = BerthRegistry(tmp_path / "reg").start()
    try:
        name = "%s/bb:v1" % reg.addr
        busybox.run("tag", "busybox:latest", name)
        busybox.run("push", name, env=env)
        st, h, body = Client(reg.addr).req("GET", "/v2/bb/manifests/v1")
        layer = json.loads(body)["layers"][0]["digest"]
        busybox.run("rmi", name, "busybox:latest")
        yield reg, layer
    finally:
        reg.stop()


def test_bearer_token_flow(pushed, busybox, env):
    reg, layer = pushed
    with Proxy(reg.addr, mode="token", users={"alice": "pw"}, token_uses=2) as px:
        name = "%s/bb:v1" % px.addr
        # anonymous pull: tokens without credentials, renewed when they run out
        out = busybox.out("pull", name, env=env)
        assert "Status: Downloaded newer image" in out
        assert px.token_requests, "no token was requested"
        assert all(u is None for _, u in px.token_requests)
        assert ["repository:bb:pull"] in [s for s, _ in px.token_requests]
        assert len(px.token_requests) >= 2, px.token_requests  # renewed after 2 uses
        # login: the token endpoint checks the credentials
        p = busybox.run("login", "-u", "alice", "-p", "nope", px.addr, env=env, check=False)
        assert p.returncode == 1
        busybox.run("login", "-u", "alice", "--password-stdin", px.addr, env=env,
                    input=b"pw\n")
        # push through the token flow: scope pull,push, with the user's credentials
        busybox.run("tag", name, "%s/pushed:v2" % px.addr)
        n_before = len(px.token_requests)
        out = busybox.out("push", "%s/pushed:v2" % px.addr, env=env)
        assert "v2: digest: " in out, out
        new = px.token_requests[n_before:]
        assert any("repository:pushed:pull,push" in s for s, u in new if u == "alice"), new
        st, _, body = Client(reg.addr).req("GET", "/v2/pushed/tags/list")
        assert json.loads(body)["tags"] == ["v2"]


def test_corrupted_layer_fails_and_changes_nothing(pushed, busybox, env):
    reg, layer = pushed
    before = store_state(busybox)
    with Proxy(reg.addr, mode="corrupt", blob=layer) as px:
        p = busybox.run("pull", "%s/bb:v1" % px.addr, env=env, check=False)
        assert p.returncode == 1, p.stdout
        err = p.stderr.decode()
        assert "verification failed for digest " + layer in err, err
        assert px.blob_requests
    assert store_state(busybox) == before
    assert staging_leftovers(busybox) == []


def test_cut_download_resumes_with_range(pushed, busybox, env):
    reg, layer = pushed
    with Proxy(reg.addr, mode="cut", blob=layer) as px:
        out = busybox.out("pull", "%s/bb:v1" % px.addr, env=env)
        assert "Pull complete" in out
        assert px.blob_requests[0] is None
        assert len(px.blob_requests) >= 2
        assert px.blob_requests[1] and px.blob_requests[1].startswith("bytes="), \
            px.blob_requests
        assert int(px.blob_requests[1][6:].rstrip("-")) > 0
    busybox.run("image", "inspect", "%s/bb:v1" % px.addr)


def test_server_dying_mid_download_is_a_clean_error(pushed, busybox, env):
    reg, layer = pushed
    before = store_state(busybox)
    with Proxy(reg.addr, mode="die", blob=layer) as px:
        p = busybox.run("pull", "%s/bb:v1" % px.addr, env=env, check=False, timeout=120)
        assert p.returncode == 1
        assert p.stderr.decode().startswith("Error: "), p.stderr
    assert store_state(busybox) == before
    assert staging_leftovers(busybox) == []
