FROM busybox
RUN --from=x true
