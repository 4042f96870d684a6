"""berth save of several images, of a repository name (all its tags), of an
ID and of name@digest (RepoTags null, as Docker writes them); berth load of
whole archives compressed with gzip or zstd, docker-save and OCI layout."""
import io
import json
import os
import subprocess
import tarfile

import pytest

from conftest import FIXTURES, Berth
from regutil import BerthRegistry

LAYERS_ID = "sha256:c625e13fa27f020ff66923ed2d6779c09d01e5d75e9e8ee472fa81c9e9bf0aa1"
BUSYBOX_ID = "sha256:d2cdb43fdcb782df1479598f40621cffd4d3f40cc71156951445bef5c70634b1"
OCI_ID = "sha256:013ba93eee3fca51d0212aa06c899bb4c717e5d4ce9f52c2b73cd16755f5a942"


def manifest(path):
    with tarfile.open(path) as t:
        man = json.load(t.extractfile("manifest.json"))
        repos = (json.load(t.extractfile("repositories"))
                 if "repositories" in t.getnames() else None)
    return man, repos


def fresh(tmp_path, name):
    return Berth(str(tmp_path / (name + "-root")), str(tmp_path / (name + "-run")))


def test_save_names_tags_and_ids(berth, tmp_path):
    b = berth
    b.run("load", "-i", os.path.join(FIXTURES, "two-images-docker-save.tar"))
    b.run("tag", "busybox", "busybox:v2")
    b.run("tag", "busybox", "other/bb:x")
    # a repository name saves every tag of it
    b.run("save", "-o", tmp_path / "repo.tar", "busybox")
    man, repos = manifest(tmp_path / "repo.tar")
    assert [m["RepoTags"] for m in man] == [["busybox:latest", "busybox:v2"]]
    assert repos == {"busybox": {"latest": man[0]["Layers"][0].split("/")[0],
                                 "v2": man[0]["Layers"][0].split("/")[0]}}
    # several names for one image: one entry, the tags asked for, no repeats
    b.run("save", "-o", tmp_path / "tags.tar", "busybox:v2", "other/bb:x", "busybox:v2")
    man, _ = manifest(tmp_path / "tags.tar")
    assert len(man) == 1 and man[0]["RepoTags"] == ["busybox:v2", "other/bb:x"]
    # an ID: the image without tags
    b.run("save", "-o", tmp_path / "id.tar", BUSYBOX_ID[7:19])
    man, repos = manifest(tmp_path / "id.tar")
    assert man[0]["RepoTags"] is None and man[0]["Config"] == BUSYBOX_ID[7:] + ".json"
    # several images, one of them by ID
    b.run("save", "-o", tmp_path / "two.tar", LAYERS_ID, "other/bb:x")
    man, _ = manifest(tmp_path / "two.tar")
    assert [(m["Config"], m["RepoTags"]) for m in man] == [
        (LAYERS_ID[7:] + ".json", None), (BUSYBOX_ID[7:] + ".json", ["other/bb:x"])]
    # loaded into a fresh root: the same IDs; the untagged one is dangling
    other = fresh(tmp_path, "r2")
    out = other.out("load", "-i", tmp_path / "two.tar")
    assert out == "Loaded image ID: %s\nLoaded image: other/bb:x\n" % LAYERS_ID
    assert other.out("images", "-q", "--no-trunc", "--filter", "dangling=true") == \
        LAYERS_ID + "\n"
    assert other.out("image", "inspect", "-f", "{{.Id}}", "other/bb:x") == BUSYBOX_ID + "\n"
    # one missing name fails the whole save and writes nothing
    p = b.run("save", "-o", tmp_path / "bad.tar", "busybox", "nosuch:1", check=False)
    assert p.returncode == 1 and p.stderr.decode() == "Error: No such image: nosuch:1\n"
    assert not (tmp_path / "bad.tar").exists()
    assert not [f for f in os.listdir(tmp_path) if f.startswith("bad.tar")]


def test_save_by_digest(berth, tmp_path):
    """A digest reference comes from a registry: push to berth's registry
    on 127.0.0.1, pull back, save NAME@DIGEST."""
    b = berth
    b.run("load", "-i", os.path.join(FIXTURES, "busybox-docker-save.tar"))
    env = dict(os.environ, HOME=str(tmp_path), BERTH_CERTS_DIR=str(tmp_path / "certs"))
    env.pop("DOCKER_CONFIG", None)
    with BerthRegistry(tmp_path / "reg") as reg:
        name = reg.addr + "/bb:v1"
        b.run("tag", "busybox", name)
        b.run("push", name, env=env)
        b.run("rmi", name)
        b.run("pull", name, env=env)
    digests = json.loads(b.out("image", "inspect", "-f", "{{json .RepoDigests}}", name))
    assert len(digests) == 1 and "@sha256:" in digests[0]
    ref = digests[0]
    # images --digests shows it in the DIGEST column
    rows = b.out("images", "--digests", "--format", "{{.Repository}} {{.Digest}}").splitlines()
    assert "%s/bb %s" % (reg.addr, ref.split("@")[1]) in rows
    assert b.out("image", "inspect", "-f", "{{.Id}}", ref) == BUSYBOX_ID + "\n"
    b.run("save", "-o", tmp_path / "dig.tar", ref)
    man, repos = manifest(tmp_path / "dig.tar")
    assert len(man) == 1 and man[0]["RepoTags"] is None
    assert man[0]["Config"] == BUSYBOX_ID[7:] + ".json"
    assert not repos
    p = subprocess.run(["skopeo", "inspect", "--config", "docker-archive:%s" %
                        (tmp_path / "dig.tar")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    other = fresh(tmp_path, "r2")
    assert other.out("load", "-i", tmp_path / "dig.tar") == "Loaded image ID: %s\n" % BUSYBOX_ID
    # the OCI form of the same
    b.run("save", "--format", "oci", "-o", tmp_path / "dig-oci.tar", ref)
    with tarfile.open(tmp_path / "dig-oci.tar") as t:
        idx = json.load(t.extractfile("index.json"))
    assert len(idx["manifests"]) == 1
    # a digest nothing has
    bad = ref.split("@")[0] + "@sha256:" + "0" * 64
    p = b.run("save", "-o", tmp_path / "none.tar", bad, check=False)
    assert p.returncode == 1 and p.stderr.decode() == "Error: No such image: %s\n" % bad
    assert not (tmp_path / "none.tar").exists()


@pytest.mark.parametrize("comp", [["gzip", "-c"], ["zstd", "-q", "-c"]], ids=["gzip", "zstd"])
@pytest.mark.parametrize("fixture,ids", [
    ("layers-oci-archive.tar", {"fixture/layers:1": OCI_ID}),
    ("two-images-docker-save.tar", {"busybox:latest": BUSYBOX_ID,
                                    "fixture/layers:1": LAYERS_ID}),
], ids=["oci", "two-images"])
def test_load_whole_archive_compressed(tmp_path, comp, fixture, ids):
    src = os.path.join(FIXTURES, fixture)
    data = subprocess.run(comp + [src], capture_output=True, check=True).stdout
    for how in ("file", "stdin"):
        b = fresh(tmp_path, how)
        if how == "file":
            path = tmp_path / (fixture + "." + comp[0])
            path.write_bytes(data)
            out = b.out("load", "-i", path)
        else:
            out = b.out("load", input=data)
        assert out == "".join("Loaded image: %s\n" % n for n in ids), (how, out)
        for name, iid in ids.items():
            assert b.out("image", "inspect", "-f", "{{.Id}}", name) == iid + "\n"
        assert len(os.listdir(os.path.join(b.root, "layers"))) == 6
        assert os.listdir(os.path.join(b.root, "tmp")) == []
