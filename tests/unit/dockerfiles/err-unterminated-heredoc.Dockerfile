FROM busybox
RUN true
RUN <<EOF
echo never ends
