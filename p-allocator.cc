// p-allocator.cc: the problem set's allocator. It grows its heap upward a
// page at a time, one page every N iterations (N: its PROCS argument,
// "allocator:N", or else its pid), writes each new page and reads it back,
// and checks a word of every older page each time; when sys_page_alloc
// says -1 (no memory left, or the end of its memory) it says so once and
// goes on yielding.
#include "u-heap.hh"

void process_main() {
    int pid = sys_getpid();
    unsigned rate = process_arg ? process_arg : pid;
    uintptr_t first = heap_start();
    uintptr_t next = first;
    bool stopped = false;
    for (unsigned i = 1; ; ++i) {
        if (!stopped && i % rate == 0) {
            if (next < stack_page() && sys_page_alloc(reinterpret_cast<void*>(next)) == 0) {
                page_fill(next, next ^ pid);
                if (!page_holds(next, next ^ pid)) {
                    page_lost("allocator", next);
                }
                next += PAGESIZE;
            } else {
                stopped = true;
                console_printf(CS_GREEN "allocator %d: %lu heap pages; the next was refused\n",
                               pid, (next - first) / PAGESIZE);
            }
            for (uintptr_t va = first; va != next; va += PAGESIZE) {
                if (*reinterpret_cast<volatile uint64_t*>(va) != (va ^ pid)) {
                    page_lost("allocator", va);
                }
            }
        }
        sys_yield();
    }
}
