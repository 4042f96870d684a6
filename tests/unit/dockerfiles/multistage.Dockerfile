ARG V=1
FROM busybox AS one
ARG V
RUN echo $V
FROM one AS two
COPY --from=one /x /y
FROM scratch
COPY --from=1 /y /z
