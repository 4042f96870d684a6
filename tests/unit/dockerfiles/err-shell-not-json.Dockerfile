FROM busybox
SHELL /bin/sh -c
