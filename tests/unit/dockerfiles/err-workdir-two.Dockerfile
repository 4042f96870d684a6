FROM busybox
WORKDIR /a /b
