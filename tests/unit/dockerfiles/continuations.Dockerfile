FROM busybox
RUN a \
# a comment inside a continuation is dropped
  b \

  c
# an instruction ending in an escape at the end of the file continues nowhere
RUN set -e; \
    echo "x \
y"
ENV PATH=/usr/bin:\
/bin
RUN echo trailing\\
RUN echo end \
