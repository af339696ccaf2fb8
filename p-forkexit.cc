// p-forkexit.cc: the problem set's fork-and-exit storm. Processes fork,
// exit and (re)allocate heap pages at random, for ever; each checks after
// every fork that its pages still hold what it wrote. On a kernel that
// frees what an exit leaves, it runs for ever; on one that leaks, memory
// runs out within seconds (and fork and sys_page_alloc say -1).
#include "u-heap.hh"

#define HEAP_PAGES 8            // each process's heap: at most this many pages

static uint64_t written[HEAP_PAGES];    // what each heap page holds (0: none)
static uint64_t forks;                  // forks this line of processes made
static bool root = true;                // the boot process never exits

static void check_heap(uintptr_t heap) {
    for (int i = 0; i != HEAP_PAGES; ++i) {
        if (written[i] && !page_holds(heap + i * PAGESIZE, written[i])) {
            page_lost("forkexit", heap + i * PAGESIZE);
        }
    }
}

void process_main() {
    uintptr_t heap = heap_start();
    rand_seed(sys_getpid() * 0x9E3779B97F4A7C15UL + process_arg);
    for (uint64_t n = 1; ; ++n) {
        int choice = rand(0, 99);
        if (choice < 10) {
            int r = sys_fork();
            if (r == 0) {
                root = false;
                rand_seed(rand64() ^ sys_getpid() ^ n);
            }
            forks += r >= 0;
            check_heap(heap);
        } else if (choice < 16 && !root) {
            sys_exit();
        } else if (choice < 40) {
            // A page of the heap, fresh: new or in place of the old one.
            int i = rand(0, HEAP_PAGES - 1);
            uintptr_t va = heap + i * PAGESIZE;
            if (sys_page_alloc(reinterpret_cast<void*>(va)) == 0) {
                written[i] = (rand64() | 1) & ~0xFFFUL;
                page_fill(va, written[i]);
            }
        }
        if (root && n % 4096 == 0) {
            console_printf(CS_GREEN "forkexit: %lu forks so far\n", forks);
        }
        sys_yield();
    }
}
