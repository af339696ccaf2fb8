// p-eve-kjump.cc: Eve calls kernel code directly, hoping to run it with the
// kernel's privilege. Defense: kernel pages are not PTE_U, so fetching an
// instruction there page-faults; processes enter the kernel only through
// `syscall` and the interrupt gates. PROCS="eve-kjump:ADDR" (u-eve.hh)
// calls ADDR instead of kernel_entry.
#include "u-eve.hh"
#include "kernel-addresses.h"

void process_main() {
    eve_count(eve_warmup_lines());
    uintptr_t target = eve_target(KERNEL_ENTRY);
    eve_announce("calling kernel code at 0x%lx\n", target);
    reinterpret_cast<void (*)()>(target)();
    console_printf(CS_RED "Eve: I ran kernel code\n");
    eve_count(0);
}
