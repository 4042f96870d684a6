FROM busybox
ADD onlyone
