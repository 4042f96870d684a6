FROM busybox
RUN --bogus=1 true
