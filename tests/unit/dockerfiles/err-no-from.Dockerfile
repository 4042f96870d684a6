RUN true
