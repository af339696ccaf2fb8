// p-eve-pagealloc.cc: Eve asks sys_page_alloc for the page holding the
// kernel's syscall entry; with it mapped writable in her page table she
// would write her own code there, to run at CPL 0 on the next system call.
// Defense: the kernel maps pages only inside the caller's own slot.
#include "u-eve.hh"
#include "kernel-addresses.h"

void process_main() {
    eve_count(EVE_WARMUP_LINES);
    uintptr_t page = KERNEL_SYSCALL_ENTRY & ~(PAGESIZE - 1);
    eve_announce("sys_page_alloc(0x%lx), the page of syscall_entry\n", page);
    int r = sys_page_alloc(reinterpret_cast<void*>(page));
    console_printf(CS_RED "Eve: sys_page_alloc returned %d\n", r);
    if (r == 0) {
        auto code = reinterpret_cast<volatile uint8_t*>(KERNEL_SYSCALL_ENTRY);
        code[0] = 0xEB;
        code[1] = 0xFE;
    }
    eve_count(0);
}
