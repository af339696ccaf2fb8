// p-eve-pagealloc.cc: Eve asks sys_page_alloc for the page holding the
// kernel's syscall entry; with it mapped writable in her page table she
// would write her own code there, to run at CPL 0 on the next system call.
// Defense: the kernel maps pages only inside the caller's own slot.
// PROCS="eve-pagealloc:ADDR" (u-eve.hh) asks for ADDR's page instead.
#include "u-eve.hh"
#include "kernel-addresses.h"

void process_main() {
    eve_count(eve_warmup_lines());
    uintptr_t target = eve_target(KERNEL_SYSCALL_ENTRY);
    uintptr_t page = target & ~(PAGESIZE - 1);
    eve_announce("sys_page_alloc(0x%lx), a page that is not hers\n", page);
    int r = sys_page_alloc(reinterpret_cast<void*>(page));
    console_printf(CS_RED "Eve: sys_page_alloc returned %d\n", r);
    if (r == 0) {
        auto code = reinterpret_cast<volatile uint8_t*>(target);
        code[0] = 0xEB;
        code[1] = 0xFE;
    }
    // One more line, to show she runs on; then she keeps quiet, so that
    // her report stays on the screen (where make grade reads it).
    eve_count(1);
    while (true) {
        sys_yield();
    }
}
