"""Reading berth's store from tests: a layer blob is either a file in
blobs/sha256 or a tar-split in blobs/tarsplit (the tar's headers and
padding plus references to the files of an unpacked layer of that diff ID;
or, for a pulled gzip layer, its bytes with stored blocks' payloads as
ranges of the layer's tar; formats in src/store/store.h), regenerated here
independently of berth."""
import os
import sqlite3


def _hex(digest):
    return digest[7:] if digest.startswith("sha256:") else digest


def blob_names(root):
    """Hex digests of the blobs stored in either form."""
    names = set()
    for sub in ("sha256", "tarsplit"):
        d = os.path.join(root, "blobs", sub)
        if os.path.isdir(d):
            names.update(os.listdir(d))
    return names


def split_bytes(root, digest):
    """The bytes a tar-split stands for, from the first layer of its diff ID
    (None when that blob is not a tar-split)."""
    sp = os.path.join(root, "blobs", "tarsplit", _hex(digest))
    if not os.path.isfile(sp):
        return None
    with open(sp, "rb") as f:
        data = f.read()
    if data[:8] == b"BERTHCS1":
        return _compressed_split_bytes(root, data, sp)
    assert data[:8] == b"BERTHTS1", sp
    total = int.from_bytes(data[8:16], "big")
    db = sqlite3.connect(os.path.join(root, "berth.db"))
    try:
        chains = [c for (c,) in db.execute(
            "SELECT chain_id FROM layers WHERE diff_id = ? ORDER BY chain_id",
            ("sha256:" + _hex(digest),))]
    finally:
        db.close()
    assert chains, "tar-split %s without a layer" % digest
    layer = os.path.join(root, "layers", chains[0][7:], "diff")
    out = bytearray()
    i = 16
    while i < len(data):
        t = data[i]
        i += 1
        if t == ord("R"):
            n = int.from_bytes(data[i:i + 4], "big")
            out += data[i + 4:i + 4 + n]
            i += 4 + n
        elif t == ord("F"):
            size = int.from_bytes(data[i:i + 8], "big")
            n = int.from_bytes(data[i + 8:i + 12], "big")
            path = os.fsdecode(data[i + 12:i + 12 + n])
            i += 12 + n
            with open(os.path.join(layer, path), "rb") as f:
                chunk = f.read()
            assert len(chunk) == size, (digest, path)
            out += chunk
        else:
            raise AssertionError("tar-split %s: bad record %r" % (digest, t))
    assert len(out) == total, digest
    return bytes(out)


def _compressed_split_bytes(root, data, sp):
    """A compressed split: raw records and ranges of its base blob (the
    layer's tar), see src/store/store.h."""
    total = int.from_bytes(data[8:16], "big")
    base = data[16:87].decode()
    assert base.startswith("sha256:"), sp
    tar = blob_bytes(root, base)
    out = bytearray()
    i = 87
    while i < len(data):
        t = data[i]
        i += 1
        if t == ord("R"):
            n = int.from_bytes(data[i:i + 4], "big")
            out += data[i + 4:i + 4 + n]
            i += 4 + n
        elif t == ord("U"):
            off = int.from_bytes(data[i:i + 8], "big")
            n = int.from_bytes(data[i + 8:i + 12], "big")
            assert off + n <= len(tar), sp
            out += tar[off:off + n]
            i += 12
        else:
            raise AssertionError("compressed split %s: bad record %r" % (sp, t))
    assert len(out) == total, sp
    return bytes(out)


def blob_bytes(root, digest):
    """A blob's bytes, whichever form it is stored in."""
    p = os.path.join(root, "blobs", "sha256", _hex(digest))
    if os.path.isfile(p):
        with open(p, "rb") as f:
            return f.read()
    data = split_bytes(root, digest)
    assert data is not None, "blob %s is missing" % digest
    return data
