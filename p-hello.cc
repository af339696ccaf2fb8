// p-hello.cc: the smallest well-behaved program. It prints one line and
// returns from process_main, which ends the process (state `exited`).
#include "u-lib.hh"

void process_main() {
    console_printf(CS_GREEN "Hello from process %d!\n", sys_getpid());
}
