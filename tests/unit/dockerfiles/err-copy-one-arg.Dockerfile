FROM busybox
COPY onlyone
