// p-eve-sysname.cc: the confused deputy. Eve asks the kernel to write the
// system name over its own syscall entry. Defense: sys_getsysname checks
// that Eve herself could write every byte of the buffer, and returns -1.
// PROCS="eve-sysname:ADDR" (u-eve.hh) hands it ADDR instead.
#include "u-eve.hh"
#include "kernel-addresses.h"

void process_main() {
    eve_count(eve_warmup_lines());
    uintptr_t target = eve_target(KERNEL_SYSCALL_ENTRY);
    eve_announce("sys_getsysname(0x%lx), a buffer that is not hers to write\n", target);
    int r = sys_getsysname(reinterpret_cast<char*>(target));
    console_printf(CS_RED "Eve: sys_getsysname returned %d\n", r);
    // A legitimate call still works.
    char name[16];
    r = sys_getsysname(name);
    console_printf(CS_YELLOW "Eve: my own buffer: %d \"%s\"\n", r, r == 0 ? name : "");
    // Then she keeps quiet, so that her report stays on the screen (where
    // make grade reads it) while only Alice's lines scroll it up.
    while (true) {
        sys_yield();
    }
}
