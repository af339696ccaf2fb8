// u-heap.hh: the problem set's programs' heap: pages from sys_page_alloc,
// upward from the end of the program's data, below its stack page.
#ifndef WEENSYOS_U_HEAP_HH
#define WEENSYOS_U_HEAP_HH
#include "u-lib.hh"

extern char end[];              // the end of the program (link/process.ld)

// The first heap page: the page after the program's data.
inline uintptr_t heap_start() {
    return (reinterpret_cast<uintptr_t>(end) + PAGESIZE - 1) & ~(PAGESIZE - 1);
}

// The stack's page: the heap stops below it.
inline uintptr_t stack_page() {
    uintptr_t rsp;
    asm volatile("movq %%rsp, %0" : "=r" (rsp));
    return rsp & ~(PAGESIZE - 1);
}

// Fills the heap page at `va` with `value`, a word at a time.
inline void page_fill(uintptr_t va, uint64_t value) {
    auto w = reinterpret_cast<volatile uint64_t*>(va);
    for (size_t i = 0; i != PAGESIZE / 8; ++i) {
        w[i] = value + i;
    }
}

// Whether the page at `va` still holds what page_fill(va, value) wrote.
inline bool page_holds(uintptr_t va, uint64_t value) {
    auto w = reinterpret_cast<volatile const uint64_t*>(va);
    for (size_t i = 0; i != PAGESIZE / 8; ++i) {
        if (w[i] != value + i) {
            return false;
        }
    }
    return true;
}

// Stops the process with a message naming the page that changed.
[[noreturn]] inline void page_lost(const char* who, uintptr_t va) {
    char buf[80];
    snprintf(buf, sizeof(buf), "%s %d: the page at 0x%lx lost its contents", who,
             sys_getpid(), va);
    sys_panic(buf);
}
#endif
