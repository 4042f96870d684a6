"""berth registry serve: the OCI distribution API (conformance with raw
requests, malformed ones included), Debian's skopeo copying images in and
out, basic auth from an htpasswd file, TLS, read-only mode, and gc."""
import json
import os
import subprocess

import pytest

from conftest import BERTH, FIXTURES
from regutil import BerthRegistry, Client, make_ca, sha256

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def reg(tmp_path):
    with BerthRegistry(tmp_path / "reg") as r:
        yield r


def manifest_for(c, name, layers=(b"layer-one",), config=b'{"architecture":"amd64","os":"linux"}',
                 mt=OCI_MANIFEST, extra=None):
    cd = c.push_blob(name, config)
    descs = []
    for l in layers:
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                      "digest": c.push_blob(name, l), "size": len(l)})
    m = {"schemaVersion": 2, "mediaType": mt,
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": cd, "size": len(config)},
         "layers": descs}
    if extra:
        m.update(extra)
    return json.dumps(m).encode()


def files_under(root):
    out = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def test_base_and_unknown(reg):
    c = Client(reg.addr)
    st, h, body = c.req("GET", "/v2/")
    assert st == 200 and h["docker-distribution-api-version"] == "registry/2.0"
    assert json.loads(body) == {}
    st, _, body = c.req("GET", "/v2/nope/manifests/latest")
    assert st == 404 and c.error_code(body) == "MANIFEST_UNKNOWN"
    st, _, body = c.req("GET", "/v2/nope/blobs/" + sha256(b"x"))
    assert st == 404 and c.error_code(body) == "BLOB_UNKNOWN"
    st, _, body = c.req("GET", "/v2/nope/tags/list")
    assert st == 404 and c.error_code(body) == "NAME_UNKNOWN"
    st, _, body = c.req("GET", "/v2/Bad_Name/manifests/latest")
    assert st == 400 and c.error_code(body) == "NAME_INVALID"
    st, _, body = c.req("GET", "/v2/ok/blobs/sha256:1234")
    assert st == 400 and c.error_code(body) == "DIGEST_INVALID"
    st, _, body = c.req("GET", "/v2/ok/manifests/-bad-tag")
    assert st == 400 and c.error_code(body) == "TAG_INVALID"
    st, _, body = c.req("OPTIONS", "/v2/")
    assert st == 405


def test_uploads_monolithic_chunked_and_status(reg):
    c = Client(reg.addr)
    data = os.urandom(300000)
    d = sha256(data)
    # POST then PUT with the whole body
    st, h, _ = c.req("POST", "/v2/up/blobs/uploads/")
    assert st == 202 and h["range"] == "0-0" and h["docker-upload-uuid"]
    loc = h["location"]
    st, h, _ = c.req("PUT", loc + "?digest=" + d, body=data)
    assert st == 201 and h["docker-content-digest"] == d
    assert h["location"] == "/v2/up/blobs/" + d
    st, h, body = c.req("GET", "/v2/up/blobs/" + d)
    assert st == 200 and body == data and h["docker-content-digest"] == d
    st, h, body = c.req("HEAD", "/v2/up/blobs/" + d)
    assert st == 200 and int(h["content-length"]) == len(data) and body == b""
    # ranges
    st, h, body = c.req("GET", "/v2/up/blobs/" + d, headers={"Range": "bytes=100-199"})
    assert st == 206 and body == data[100:200]
    assert h["content-range"] == "bytes 100-199/%d" % len(data)
    st, h, body = c.req("GET", "/v2/up/blobs/" + d, headers={"Range": "bytes=299990-"})
    assert st == 206 and body == data[299990:]
    st, h, _ = c.req("GET", "/v2/up/blobs/" + d, headers={"Range": "bytes=400000-"})
    assert st == 416 and h["content-range"] == "bytes */%d" % len(data)

    # chunked: three PATCHes with Content-Range, status in between, PUT
    data2 = os.urandom(250000)
    d2 = sha256(data2)
    st, h, _ = c.req("POST", "/v2/up/blobs/uploads/")
    loc = h["location"]
    chunks = [data2[:100000], data2[100000:200000], data2[200000:]]
    off = 0
    for ch in chunks[:2]:
        st, h, _ = c.req("PATCH", loc, body=ch, headers={
            "Content-Range": "%d-%d" % (off, off + len(ch) - 1),
            "Content-Type": "application/octet-stream"})
        off += len(ch)
        assert st == 202 and h["range"] == "0-%d" % (off - 1)
    st, h, _ = c.req("GET", loc)
    assert st == 204 and h["range"] == "0-%d" % (off - 1)
    # out-of-order chunk: 416, nothing appended
    st, h, body = c.req("PATCH", loc, body=b"xx", headers={"Content-Range": "5-6"})
    assert st == 416 and h["range"] == "0-%d" % (off - 1)
    st, h, _ = c.req("PATCH", loc, body=chunks[2], headers={
        "Content-Range": "%d-%d" % (off, len(data2) - 1)})
    assert st == 202
    st, h, _ = c.req("PUT", loc + "?digest=" + d2)
    assert st == 201
    st, _, body = c.req("GET", "/v2/up/blobs/" + d2)
    assert body == data2
    # the session is gone
    st, _, body = c.req("GET", loc)
    assert st == 404 and c.error_code(body) == "BLOB_UPLOAD_UNKNOWN"

    # cancel
    st, h, _ = c.req("POST", "/v2/up/blobs/uploads/")
    loc = h["location"]
    st, _, _ = c.req("DELETE", loc)
    assert st == 204
    st, _, _ = c.req("PATCH", loc, body=b"abc")
    assert st == 404
    # another repository cannot use the session
    st, h, _ = c.req("POST", "/v2/up/blobs/uploads/")
    other = h["location"].replace("/v2/up/", "/v2/other/")
    st, _, body = c.req("PATCH", other, body=b"abc")
    assert st == 404 and c.error_code(body) == "BLOB_UPLOAD_UNKNOWN"


def test_wrong_digest_changes_nothing(reg, tmp_path):
    c = Client(reg.addr)
    before = files_under(reg.root + "/blobs")
    bad = sha256(b"something else")
    st, _, body = c.req("POST", "/v2/w/blobs/uploads/?digest=" + bad, body=b"payload")
    assert st == 400 and c.error_code(body) == "DIGEST_INVALID"
    st, h, _ = c.req("POST", "/v2/w/blobs/uploads/")
    st, _, body = c.req("PUT", h["location"] + "?digest=" + bad, body=b"payload")
    assert st == 400 and c.error_code(body) == "DIGEST_INVALID"
    st, _, body = c.req("PUT", h["location"] + "?digest=sha256:zz", body=b"payload")
    assert st in (400, 404)
    st, _, _ = c.req("HEAD", "/v2/w/blobs/" + sha256(b"payload"))
    assert st == 404
    assert files_under(reg.root + "/blobs") == before
    assert os.listdir(reg.root + "/uploads") == [] or all(
        # sessions opened by POST without digest may stay, but hold nothing
        os.path.getsize(os.path.join(reg.root, "uploads", u, "data")) == 0
        for u in os.listdir(reg.root + "/uploads"))


def test_manifests_tags_catalog_referrers(reg):
    c = Client(reg.addr)
    m = manifest_for(c, "lib/app")
    md = sha256(m)
    st, h, _ = c.req("PUT", "/v2/lib/app/manifests/v1", body=m,
                     headers={"Content-Type": OCI_MANIFEST})
    assert st == 201 and h["docker-content-digest"] == md
    assert h["location"] == "/v2/lib/app/manifests/" + md
    for ref in ("v1", md):
        st, h, body = c.req("GET", "/v2/lib/app/manifests/" + ref,
                            headers={"Accept": OCI_MANIFEST})
        assert st == 200 and body == m
        assert h["content-type"] == OCI_MANIFEST and h["docker-content-digest"] == md
        st, h, body = c.req("HEAD", "/v2/lib/app/manifests/" + ref)
        assert st == 200 and int(h["content-length"]) == len(m) and body == b""
    # a Docker schema 2 manifest keeps its content type
    dm = manifest_for(c, "lib/app", layers=(b"other",), mt=DOCKER_MANIFEST)
    st, h, _ = c.req("PUT", "/v2/lib/app/manifests/docker", body=dm,
                     headers={"Content-Type": DOCKER_MANIFEST})
    assert st == 201
    st, h, _ = c.req("GET", "/v2/lib/app/manifests/docker")
    assert h["content-type"] == DOCKER_MANIFEST
    # by digest, wrong digest
    st, _, body = c.req("PUT", "/v2/lib/app/manifests/" + sha256(b"no"), body=m,
                        headers={"Content-Type": OCI_MANIFEST})
    assert st == 400 and c.error_code(body) == "DIGEST_INVALID"
    # an index over both
    idx = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": md, "size": len(m),
         "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    st, h, _ = c.req("PUT", "/v2/lib/app/manifests/multi", body=idx,
                     headers={"Content-Type": OCI_INDEX})
    assert st == 201
    # tags with pagination
    for t in ("a", "b", "c"):
        st, _, _ = c.req("PUT", "/v2/lib/app/manifests/" + t, body=m,
                         headers={"Content-Type": OCI_MANIFEST})
        assert st == 201
    st, h, body = c.req("GET", "/v2/lib/app/tags/list")
    assert json.loads(body) == {"name": "lib/app",
                                "tags": ["a", "b", "c", "docker", "multi", "v1"]}
    st, h, body = c.req("GET", "/v2/lib/app/tags/list?n=2")
    assert json.loads(body)["tags"] == ["a", "b"]
    assert h["link"] == '</v2/lib/app/tags/list?last=b&n=2>; rel="next"'
    st, h, body = c.req("GET", "/v2/lib/app/tags/list?n=2&last=b")
    assert json.loads(body)["tags"] == ["c", "docker"]
    st, h, body = c.req("GET", "/v2/lib/app/tags/list?n=10&last=docker")
    assert json.loads(body)["tags"] == ["multi", "v1"] and "link" not in h
    st, _, body = c.req("GET", "/v2/lib/app/tags/list?n=-1")
    assert st == 400
    # catalog
    manifest_for(c, "zz")
    st, h, body = c.req("GET", "/v2/_catalog?n=1")
    assert json.loads(body) == {"repositories": ["lib/app"]}
    assert h["link"] == '</v2/_catalog?last=lib/app&n=1>; rel="next"'
    st, h, body = c.req("GET", "/v2/_catalog?n=1&last=lib/app")
    assert json.loads(body) == {"repositories": ["zz"]}

    # referrers: an artifact whose subject is the image
    art = manifest_for(c, "lib/app", layers=(b"sig",), config=b"{}", extra={
        "artifactType": "application/vnd.example.sig",
        "subject": {"mediaType": OCI_MANIFEST, "digest": md, "size": len(m)},
        "annotations": {"k": "v"}})
    st, h, _ = c.req("PUT", "/v2/lib/app/manifests/" + sha256(art), body=art,
                     headers={"Content-Type": OCI_MANIFEST})
    assert st == 201 and h["oci-subject"] == md
    st, h, body = c.req("GET", "/v2/lib/app/referrers/" + md)
    assert st == 200 and h["content-type"] == OCI_INDEX
    ref = json.loads(body)
    assert ref["manifests"] == [{"mediaType": OCI_MANIFEST, "digest": sha256(art),
                                 "size": len(art),
                                 "artifactType": "application/vnd.example.sig",
                                 "annotations": {"k": "v"}}]
    st, h, body = c.req("GET", "/v2/lib/app/referrers/%s?artifactType=other/x" % md)
    assert json.loads(body)["manifests"] == [] and h["oci-filters-applied"] == "artifactType"

    # delete by tag, then by digest (takes its tags along)
    st, _, _ = c.req("DELETE", "/v2/lib/app/manifests/a")
    assert st == 202
    st, _, _ = c.req("GET", "/v2/lib/app/manifests/a")
    assert st == 404
    st, _, _ = c.req("DELETE", "/v2/lib/app/manifests/" + md)
    assert st == 202
    for ref in ("v1", "b", md):
        st, _, body = c.req("GET", "/v2/lib/app/manifests/" + ref)
        assert st == 404 and c.error_code(body) == "MANIFEST_UNKNOWN"
    st, _, body = c.req("GET", "/v2/lib/app/tags/list")
    assert json.loads(body)["tags"] == ["docker", "multi"]


def test_malformed_manifests_change_nothing(reg):
    c = Client(reg.addr)
    m = manifest_for(c, "mal")
    snapshot = files_under(reg.root)
    hdr = {"Content-Type": OCI_MANIFEST}
    cases = [
        (b"not json", "MANIFEST_INVALID", 400),
        (b"[1,2]", "MANIFEST_INVALID", 400),
        (json.dumps({"schemaVersion": 1}).encode(), "MANIFEST_INVALID", 400),
        (json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode(),
         "MANIFEST_INVALID", 400),
        (json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode(),
         "MANIFEST_INVALID", 400),  # mediaType contradicts Content-Type
        (json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                     "config": {"digest": sha256(b"absent"), "size": 6},
                     "layers": []}).encode(), "MANIFEST_BLOB_UNKNOWN", 400),
        (m.replace(b'"layers": [', b'"layers": [{"digest": "%s", "size": 1}, ' %
                   sha256(b"missing").encode()), "MANIFEST_BLOB_UNKNOWN", 400),
    ]
    for body, code, status in cases:
        st, _, resp = c.req("PUT", "/v2/mal/manifests/t", body=body, headers=hdr)
        assert (st, c.error_code(resp)) == (status, code), body[:80]
    # oversize with Content-Length: refused before the body is sent
    import socket
    host, port = reg.addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    s.sendall(b"PUT /v2/mal/manifests/t HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
              b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" %
              (OCI_MANIFEST.encode(), 5 * 1024 * 1024))
    resp = b""
    while b"\r\n\r\n" not in resp or not resp.rstrip().endswith(b"}"):
        chunk = s.recv(4096)
        if not chunk:
            break
        resp += chunk
    s.close()
    assert resp.startswith(b"HTTP/1.1 413") and b"SIZE_INVALID" in resp, resp
    # a chunked oversize body (no Content-Length) is refused as well
    c2 = Client(reg.addr)
    c2.conn.putrequest("PUT", "/v2/mal/manifests/t")
    c2.conn.putheader("Content-Type", OCI_MANIFEST)
    c2.conn.putheader("Transfer-Encoding", "chunked")
    c2.conn.endheaders()
    chunk = b"x" * 65536
    for _ in range(80):
        c2.conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    c2.conn.send(b"0\r\n\r\n")
    r = c2.conn.getresponse()
    assert r.status == 413 and json.loads(r.read())["errors"][0]["code"] == "SIZE_INVALID"
    # raw garbage on the socket gets an HTTP error, the server lives on
    host, port = reg.addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GARBAGE / HTTP/9.9\r\n\x00\x01\r\n\r\n")
    s.recv(4096)
    s.close()
    st, _, _ = Client(reg.addr).req("GET", "/v2/")
    assert st == 200
    assert files_under(reg.root) == snapshot
    st, _, _ = c.req("GET", "/v2/mal/manifests/t")
    assert st == 404


def test_cross_mount_and_blob_delete(reg):
    c = Client(reg.addr)
    d = c.push_blob("src/a", b"shared layer")
    st, h, _ = c.req("HEAD", "/v2/dst/b/blobs/" + d)
    assert st == 404
    st, h, _ = c.req("POST", "/v2/dst/b/blobs/uploads/?mount=%s&from=src/a" % d)
    assert st == 201 and h["location"] == "/v2/dst/b/blobs/" + d
    assert h["docker-content-digest"] == d
    st, _, body = c.req("GET", "/v2/dst/b/blobs/" + d)
    assert body == b"shared layer"
    # dedupe: one file on disk for both repositories
    assert len(os.listdir(reg.root + "/blobs/sha256")) == 1
    # a mount from a repository without the blob starts an ordinary upload
    st, h, _ = c.req("POST", "/v2/dst/c/blobs/uploads/?mount=%s&from=nowhere" % sha256(b"q"))
    assert st == 202 and "/blobs/uploads/" in h["location"]
    st, _, _ = c.req("DELETE", "/v2/dst/b/blobs/" + d)
    assert st == 202
    st, _, _ = c.req("HEAD", "/v2/dst/b/blobs/" + d)
    assert st == 404
    st, _, _ = c.req("HEAD", "/v2/src/a/blobs/" + d)
    assert st == 200


def test_gc_removes_unreferenced(tmp_path):
    root = tmp_path / "reg"
    with BerthRegistry(root) as reg:
        c = Client(reg.addr)
        m = manifest_for(c, "g", layers=(b"kept",))
        st, _, _ = c.req("PUT", "/v2/g/manifests/v1", body=m,
                         headers={"Content-Type": OCI_MANIFEST})
        assert st == 201
        orphan = c.push_blob("g", b"orphan blob")
        m2 = manifest_for(c, "g", layers=(b"dropped",))
        st, _, _ = c.req("PUT", "/v2/g/manifests/v2", body=m2,
                         headers={"Content-Type": OCI_MANIFEST})
        st, _, _ = c.req("DELETE", "/v2/g/manifests/" + sha256(m2))
        assert st == 202
    blobs = root / "blobs" / "sha256"
    before = set(os.listdir(blobs))
    p = subprocess.run([BERTH, "registry", "gc", "--dry-run", "--root", str(root)],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "3 blobs eligible" in p.stdout, p.stdout + p.stderr
    assert set(os.listdir(blobs)) == before
    p = subprocess.run([BERTH, "registry", "gc", "--root", str(root)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    after = set(os.listdir(blobs))
    gone = {"sha256:" + h for h in before - after}
    assert gone == {orphan, sha256(m2), sha256(b"dropped")}
    with BerthRegistry(root) as reg:
        c = Client(reg.addr)
        st, _, body = c.req("GET", "/v2/g/manifests/v1")
        assert st == 200 and body == m
        st, _, _ = c.req("HEAD", "/v2/g/blobs/" + sha256(b"kept"))
        assert st == 200
        st, _, _ = c.req("HEAD", "/v2/g/blobs/" + orphan)
        assert st == 404


def test_read_only(tmp_path):
    root = tmp_path / "reg"
    with BerthRegistry(root) as reg:
        d = Client(reg.addr).push_blob("ro", b"data")
    with BerthRegistry(root, "--read-only") as reg:
        c = Client(reg.addr)
        st, _, body = c.req("POST", "/v2/ro/blobs/uploads/")
        assert st == 405 and c.error_code(body) == "UNSUPPORTED"
        st, _, _ = c.req("DELETE", "/v2/ro/blobs/" + d)
        assert st == 405
        st, _, body = c.req("GET", "/v2/ro/blobs/" + d)
        assert st == 200 and body == b"data"


def skopeo(*args):
    p = subprocess.run(["skopeo"] + list(args), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "skopeo %s: %s" % (" ".join(args), p.stderr)
    return p.stdout


def test_skopeo_copies_in_and_out(reg, tmp_path):
    src = os.path.join(FIXTURES, "layers-oci-archive.tar")
    skopeo("copy", "--dest-tls-verify=false", "oci-archive:" + src,
           "docker://%s/test/layers:v1" % reg.addr)
    skopeo("copy", "--dest-tls-verify=false",
           "docker-archive:" + os.path.join(FIXTURES, "busybox-docker-save.tar"),
           "docker://%s/library/busybox:latest" % reg.addr)
    info = json.loads(skopeo("inspect", "--tls-verify=false",
                             "docker://%s/test/layers:v1" % reg.addr))
    assert info["RepoTags"] == ["v1"] and len(info["Layers"]) >= 2
    raw = skopeo("inspect", "--raw", "--tls-verify=false", "docker://%s/test/layers:v1" % reg.addr)
    c = Client(reg.addr)
    st, h, body = c.req("GET", "/v2/test/layers/manifests/v1")
    assert body.decode() == raw and info["Digest"] == h["docker-content-digest"] == sha256(body)
    # out again into an OCI layout: the same manifest bytes and blobs
    out = tmp_path / "out"
    skopeo("copy", "--src-tls-verify=false", "docker://%s/test/layers:v1" % reg.addr,
           "oci:%s:v1" % out)
    idx = json.load(open(out / "index.json"))
    assert idx["manifests"][0]["digest"] == info["Digest"]
    for l in json.loads(raw)["layers"]:
        data = open(out / "blobs" / "sha256" / l["digest"].split(":")[1], "rb").read()
        assert sha256(data) == l["digest"]
    # repo to repo within the server (skopeo mounts across repositories)
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false",
           "docker://%s/test/layers:v1" % reg.addr, "docker://%s/copy/layers:v2" % reg.addr)
    st, h, body2 = c.req("GET", "/v2/copy/layers/manifests/v2")
    assert st == 200 and body2 == body
    tags = json.loads(skopeo("list-tags", "--tls-verify=false",
                             "docker://%s/library/busybox" % reg.addr))
    assert tags["Tags"] == ["latest"]


def test_htpasswd_auth(tmp_path):
    ht = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-B", "-b", "-c", str(ht), "alice", "s3cret"], check=True,
                   capture_output=True)
    subprocess.run(["htpasswd", "-b", "-s", str(ht), "bob", "sha1pass"], check=True,
                   capture_output=True)
    assert "$2y$" in ht.read_text()
    with BerthRegistry(tmp_path / "reg", "--htpasswd", ht) as reg:
        st, h, body = Client(reg.addr).req("GET", "/v2/")
        assert st == 401 and h["www-authenticate"].startswith("Basic realm=")
        assert json.loads(body)["errors"][0]["code"] == "UNAUTHORIZED"
        for creds in (("alice", "wrong"), ("mallory", "s3cret"), ("alice", "")):
            st, _, _ = Client(reg.addr, auth=creds).req("GET", "/v2/_catalog")
            assert st == 401
        st, _, _ = Client(reg.addr, auth=("alice", "s3cret")).req("GET", "/v2/")
        assert st == 200
        st, _, _ = Client(reg.addr, auth=("bob", "sha1pass")).req("GET", "/v2/")
        assert st == 200
        src = "docker-archive:" + os.path.join(FIXTURES, "busybox-docker-save.tar")
        p = subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", src,
                            "docker://%s/bb:1" % reg.addr], capture_output=True, text=True)
        assert p.returncode != 0
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret", src,
               "docker://%s/bb:1" % reg.addr)
        skopeo("inspect", "--tls-verify=false", "--creds", "alice:s3cret",
               "docker://%s/bb:1" % reg.addr)


def test_tls(tmp_path):
    ca, crt, key = make_ca(tmp_path)
    with BerthRegistry(tmp_path / "reg", "--tls-cert", crt, "--tls-key", key) as reg:
        st, _, _ = Client(reg.addr, cafile=ca).req("GET", "/v2/")
        assert st == 200
        certs = tmp_path / "certs"
        certs.mkdir()
        (certs / "ca.crt").write_bytes(open(ca, "rb").read())
        src = "docker-archive:" + os.path.join(FIXTURES, "busybox-docker-save.tar")
        skopeo("copy", "--dest-cert-dir", str(certs), src, "docker://%s/tls/bb:1" % reg.addr)
        skopeo("inspect", "--cert-dir", str(certs), "docker://%s/tls/bb:1" % reg.addr)
        # without the CA the client refuses the server
        p = subprocess.run(["skopeo", "inspect", "docker://%s/tls/bb:1" % reg.addr],
                           capture_output=True, text=True)
        assert p.returncode != 0 and "certificate" in p.stderr
