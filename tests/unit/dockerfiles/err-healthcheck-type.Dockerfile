FROM busybox
HEALTHCHECK --interval=1s RUN true
