# syntax=docker/dockerfile:1.4
# a comment before the first instruction
ARG BASE=busybox
ARG TAG
from ${BASE}:${TAG:-latest} AS Build
Run echo one \
    two
RUN ["/bin/sh", "-c", "echo exec"]
RUN --mount=type=cache,target=/root/.cache --network=none make
CMD ["serve", "--port", "80"]
CMD echo shell form
ENTRYPOINT ["/entry"]
LABEL a=b "c d"="e f" g=h\ i
EXPOSE 80/tcp 53/udp 8000-8002
ENV K=V K2="v 2"
ENV LEGACY value with spaces
ADD --chown=1:2 --chmod=640 --checksum=sha256:00 src.tar /dst/
COPY --from=build --link /a /b/
COPY ["with space", "/d/"]
VOLUME ["/data", "/logs"]
VOLUME /one /two
USER 1000:1000
WORKDIR /work
ONBUILD RUN echo later
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s --timeout=3s --start-period=1s --retries=3 CMD curl -f http://localhost/ || exit 1
HEALTHCHECK NONE
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
MAINTAINER Jane Doe <jane@example.com>
CMD [not json
