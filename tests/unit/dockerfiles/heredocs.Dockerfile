FROM busybox
RUN <<EOF
echo one
echo $HOME
EOF
RUN <<-'SCRIPT' sh -x
	literal $X
		indented
	SCRIPT
COPY <<A <<"B" /dest/
a body
A
b body $NOT
B
RUN python3 <<PY > /out
print("hi")
PY
