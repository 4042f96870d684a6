# escape=`
# syntax=ignored/after/escape

FROM busybox
COPY C:\src C:\dst
RUN echo a `
    b
ENV P="c:\path" Q=x`y
