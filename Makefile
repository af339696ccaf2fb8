# Makefile: WeensyOS builds with GNU make, which reads GNUmakefile first.
# Another make lands here.
all .DEFAULT:
	@echo "WeensyOS needs GNU make: run 'gmake' (or install GNU make)." >&2; exit 1
