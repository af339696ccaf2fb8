// p-pagealloc-bad.cc: sys_page_alloc at every class of bad address, for
// tests/test_pset.py: each must say -1 and kill no one. Then two good
// ones (the first heap page, the page below the stack) must say 0. Prints
// "pagealloc: <what> 0x<addr> = <result>" for each.
#include "u-heap.hh"

static void try_page(const char* what, uintptr_t addr) {
    int r = sys_page_alloc(reinterpret_cast<void*>(addr));
    console_printf("pagealloc: %s 0x%lx = %d\n", what, addr, r);
}

void process_main() {
    try_page("unaligned", heap_start() + 8);
    try_page("zero", 0);
    try_page("below", PROC_START_ADDR - PAGESIZE);
    try_page("kernel", KERNEL_START_ADDR);
    try_page("console", CONSOLE_ADDR);
    try_page("top", MEMSIZE_VIRTUAL);
    try_page("above", 0x40000000);
    try_page("noncanonical", 0x800000000000UL);
    try_page("negative", ~0UL & ~(PAGESIZE - 1));
    try_page("heap", heap_start());
    try_page("below the stack", stack_page() - PAGESIZE);
    console_printf("pagealloc: done\n");
}
