// p-eve-cli.cc: Eve turns interrupts off so the timer can never take the
// CPU back. Defense: processes run at CPL 3 with IOPL 0, so `cli` raises a
// general protection fault and the kernel kills her.
#include "u-eve.hh"

void process_main() {
    eve_count(eve_warmup_lines());
    eve_announce("executing cli, then spinning\n");
    asm volatile("cli");
    while (true) {
    }
}
