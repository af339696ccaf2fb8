// p-eve-sysname.cc: the confused deputy. Eve asks the kernel to write the
// system name over its own syscall entry. Defense: sys_getsysname checks
// that Eve herself could write every byte of the buffer, and returns -1.
#include "u-eve.hh"
#include "kernel-addresses.h"

void process_main() {
    eve_count(EVE_WARMUP_LINES);
    eve_announce("sys_getsysname(0x%lx), the kernel's syscall entry\n", KERNEL_SYSCALL_ENTRY);
    int r = sys_getsysname(reinterpret_cast<char*>(KERNEL_SYSCALL_ENTRY));
    console_printf(CS_RED "Eve: sys_getsysname returned %d\n", r);
    // A legitimate call still works.
    char name[16];
    r = sys_getsysname(name);
    console_printf(CS_YELLOW "Eve: my own buffer: %d \"%s\"\n", r, r == 0 ? name : "");
    eve_count(0);
}
