// p-eve-hog.cc: Eve takes every page she can get, then spins. Out of
// memory is normal operation: her last sys_page_alloc and everyone else's
// next ones return -1, and nobody is killed.
#include "u-eve.hh"
#include "u-heap.hh"

void process_main() {
    eve_count(EVE_WARMUP_LINES);
    eve_announce("allocating every page I can\n");
    uintptr_t va = heap_start();
    while (va < stack_page() && sys_page_alloc(reinterpret_cast<void*>(va)) == 0) {
        page_fill(va, va);
        va += PAGESIZE;
    }
    eve_announce("%lu pages are mine; spinning\n", (va - heap_start()) / PAGESIZE);
    while (true) {
    }
}
