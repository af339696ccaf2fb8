// p-forkbench.cc: what fork costs (`make bench`, exercise 16). With
// `pages` writable pages (its data, its stack and heap pages: PROCS
// "forkbench:N", default 4), it forks a child that exits at once, again
// and again, and reports the least counter ticks of the parent's sys_fork
// and of the whole round (fork, the child's exit, the two switches); then
// the same 4 KiB copy as the kernel's (8 bytes at a time), in this
// process, for the cost per copied page. Under `-icount shift=0` the
// figures are guest instructions. Output: `forkbench pages=N fork=T
// round=T copy=T`.
#include "u-heap.hh"

#define REPS 40

// The copy loop of the kernel's page_copy (k-memory.cc), here in the
// process: `volatile` keeps the compiler from turning it into anything
// else.
static void copy_page(uintptr_t dst, uintptr_t src) {
    auto d = reinterpret_cast<volatile uint64_t*>(dst);
    auto s = reinterpret_cast<const volatile uint64_t*>(src);
    for (size_t i = 0; i != PAGESIZE / 8; i += 4) {
        d[i] = s[i];
        d[i + 1] = s[i + 1];
        d[i + 2] = s[i + 2];
        d[i + 3] = s[i + 3];
    }
}

void process_main() {
    // Its own writable pages: one of data, one of stack, the rest heap.
    unsigned pages = process_arg ? process_arg : 4;
    uintptr_t heap = heap_start();
    for (unsigned i = 2; i < pages; ++i) {
        if (sys_page_alloc(reinterpret_cast<void*>(heap + (i - 2) * PAGESIZE)) != 0) {
            sys_panic("forkbench: no memory for the heap");
        }
    }
    uint64_t fork_best = ~0UL, round_best = ~0UL;
    for (int rep = 0; rep != REPS; ++rep) {
        uint64_t start = rdtsc();
        int r = sys_fork();
        if (r == 0) {
            sys_exit();
        }
        uint64_t forked = rdtsc();
        sys_yield();                // the child runs and exits
        uint64_t back = rdtsc();
        if (r < 0) {
            sys_panic("forkbench: fork failed");
        }
        fork_best = min(fork_best, forked - start);
        round_best = min(round_best, back - start);
    }
    uint64_t copy_best = ~0UL;
    if (pages >= 4) {
        for (int rep = 0; rep != REPS; ++rep) {
            uint64_t start = rdtsc();
            copy_page(heap, heap + PAGESIZE);
            copy_best = min(copy_best, rdtsc() - start);
        }
    }
    console_printf("forkbench pages=%u fork=%lu round=%lu copy=%lu\n", pages, fork_best,
                   round_best, copy_best == ~0UL ? 0 : copy_best);
}
