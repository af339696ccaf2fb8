// p-forkfail.cc: fork's and exit's account of memory, for the grader
// (exercises 12 and 14). It maps HEAP heap pages, forks up to FORKS times
// (stopping at the first -1), and then counts the pages it can still map:
// a measure of free memory taken in the same state of the machine, since
// everything before it is the same from one boot to the next. Its PROCS
// argument (forkfail:ARG) is HEAP + FORKS * 0x10000 (+ 0x100000000 for
// children that exit at once; otherwise they yield for ever, touching no
// memory). FORKS = 0xFFFF: until fork says -1. It prints
//   forkfail: HEAP heap pages, N forks, then P pages
// with N the forks that succeeded and P the pages it could map after.
#include "u-heap.hh"

// A child that neither writes nor reads memory: its yields use registers
// alone, so it costs no copy-on-write copy.
[[noreturn]] static void yield_without_memory() {
    asm volatile("1: movq %0, %%rax\n\tsyscall\n\tjmp 1b" : : "i" (SYSCALL_YIELD)
                 : "rax", "rcx", "r11", "memory");
    __builtin_unreachable();
}

void process_main() {
    unsigned heap = process_arg & 0xFFFF;
    unsigned forks = (process_arg >> 16) & 0xFFFF;
    bool children_exit = (process_arg >> 32) & 1;
    uintptr_t va = heap_start();
    unsigned mapped = 0;
    while (mapped != heap && va < stack_page()
           && sys_page_alloc(reinterpret_cast<void*>(va)) == 0) {
        *reinterpret_cast<volatile uint64_t*>(va) = va;
        va += PAGESIZE;
        ++mapped;
    }
    unsigned made = 0;
    while (made != forks) {
        int r = sys_fork();
        if (r == 0) {
            if (children_exit) {
                sys_exit();
            }
            yield_without_memory();
        }
        if (r < 0) {
            break;
        }
        ++made;
        if (children_exit) {
            for (int i = 0; i != 4; ++i) {
                sys_yield();    // the child runs and exits
            }
        }
    }
    unsigned more = 0;
    while (va < stack_page() && sys_page_alloc(reinterpret_cast<void*>(va)) == 0) {
        va += PAGESIZE;
        ++more;
    }
    console_printf("forkfail: %u heap pages, %u forks, then %u pages\n", mapped, made, more);
    while (true) {
        sys_yield();
    }
}
