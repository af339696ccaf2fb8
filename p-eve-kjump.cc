// p-eve-kjump.cc: Eve calls kernel code directly, hoping to run it with the
// kernel's privilege. Defense: kernel pages are not PTE_U, so fetching an
// instruction there page-faults; processes enter the kernel only through
// `syscall` and the interrupt gates.
#include "u-eve.hh"
#include "kernel-addresses.h"

void process_main() {
    eve_count(EVE_WARMUP_LINES);
    eve_announce("calling kernel code at 0x%lx\n", KERNEL_ENTRY);
    reinterpret_cast<void (*)()>(KERNEL_ENTRY)();
    console_printf(CS_RED "Eve: I ran kernel code\n");
    eve_count(0);
}
