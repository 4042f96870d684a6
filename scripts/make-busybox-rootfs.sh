#!/bin/bash
# Build a busybox root filesystem tar from Debian's busybox-static, the
# offline stand-in for Docker Hub's busybox image:
#   /bin/busybox plus every applet link, /etc/passwd and /etc/group with
#   root and nobody, /tmp with mode 1777.
# Usage: make-busybox-rootfs.sh OUT.tar
set -euo pipefail
out=${1:?usage: make-busybox-rootfs.sh OUT.tar}
bb=/bin/busybox
[ -x "$bb" ] || { echo "busybox-static is not installed (apt-get install busybox-static)" >&2; exit 1; }
file "$bb" 2>/dev/null | grep -q "dynamically" && { echo "$bb is not static" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
r=$tmp/rootfs
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,proc,sys,dev,var/spool/mail,var/www}
cp "$bb" "$r/bin/busybox"
chmod 0755 "$r/bin/busybox"
# One process makes every applet link (/bin/busybox --install in the new
# root); the loop (two forks an applet, some 10 s on a loaded machine) only
# where chroot is not allowed. Same links either way.
if ! chroot "$r" /bin/busybox --install -s 2>/dev/null; then
  "$bb" --list-full | while read -r applet; do
    [ "$applet" = "bin/busybox" ] && continue
    mkdir -p "$r/$(dirname "$applet")"
    ln -sf /bin/busybox "$r/$applet"
  done
fi
cat > "$r/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$r/etc/group" <<'G'
root:x:0:
nobody:x:65534:
G
chmod 1777 "$r/tmp"
chmod 0700 "$r/root"
# reproducible: fixed mtimes, sorted names, numeric owners
tar --sort=name --mtime='2026-01-01 00:00:00Z' --numeric-owner --owner=0 --group=0 \
    -C "$r" -cf "$out" .
