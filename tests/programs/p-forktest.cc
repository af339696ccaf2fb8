// p-forktest.cc: fork and exit the hard way, for tests/test_pset.py. The
// PROCS argument picks the case ("forktest:N"); each prints what it saw
// as "forktest: ..." lines.
//   0  nothing: exits at once (the free-page count a run ends with)
//   1  a thousand fork/exit cycles, one child at a time, then exits
//   2  a heap of every page it can get, then forks: each fork says -1
//      (no memory for the child's page tables), and the heap survives
//   3  forks a child and dies of a fault; the child, orphaned, forks a
//      grandchild
//   4  forks three children that keep running, then exits
//   5  forks a child that faults while the parent goes on counting
//   6  fills 50 heap pages and forks; then a second child takes every page
//      it can; then parent and first child each write every writable page
//      they have (copy-on-write copies, which fork promised)
//   7  fills 250 heap pages, about two thirds of memory, and forks: fork
//      must say -1, since it cannot promise copies of its ~250 writable
//      pages with ~120 free, and nothing may have changed: then 10 more
//      pages, all its pages intact, and every page written
#include "u-heap.hh"

[[noreturn]] static void spin_yielding() {
    while (true) {
        sys_yield();
    }
}

// A write to `addr`, which no process has: a page fault.
static void fault_at(uintptr_t addr) {
    volatile uintptr_t where = addr;
    *reinterpret_cast<volatile int*>(where) = 1;
}

static void fork_exit_cycles(int cycles) {
    int done = 0, refused = 0;
    while (done != cycles) {
        int r = sys_fork();
        if (r == 0) {
            sys_exit();
        }
        if (r > 0) {
            ++done;
        } else {
            ++refused;          // every slot busy with children not yet exited
        }
        sys_yield();
    }
    console_printf("forktest: %d fork/exit cycles (%d refused)\n", done, refused);
}

extern "C" char _DYNAMIC[];     // the first writable page (link/process.ld)

// Allocates heap pages from `va` up, filling each, while memory lasts
// (and below the stack, and below `limit`). Returns the end.
static uintptr_t heap_fill(uintptr_t va, uintptr_t limit = ~0UL) {
    while (va < stack_page() - PAGESIZE && va < limit
           && sys_page_alloc(reinterpret_cast<void*>(va)) == 0) {
        page_fill(va, va);
        va += PAGESIZE;
    }
    return va;
}

// Waits (yielding) until no page is left: until sys_page_alloc says -1,
// each success at a new page from `va` up. Returns the end.
static uintptr_t wait_for_memory_full(uintptr_t va) {
    while (sys_page_alloc(reinterpret_cast<void*>(va)) == 0) {
        va += PAGESIZE;
        sys_yield();
    }
    return va;
}

// Writes a byte of every writable page, [_DYNAMIC's page, heap_end) and the
// stack: each write to a page shared copy-on-write faults and copies it.
// Then checks the filled heap pages [heap_start, filled). Returns the
// pages written.
static unsigned write_everything(uintptr_t filled, uintptr_t heap_end) {
    unsigned pages = 0;
    uintptr_t first = reinterpret_cast<uintptr_t>(_DYNAMIC) & ~(PAGESIZE - 1);
    for (uintptr_t va = first; va < heap_end; va += PAGESIZE, ++pages) {
        auto b = reinterpret_cast<volatile uint8_t*>(va + PAGESIZE - 1);
        *b = *b;
    }
    volatile uint8_t here = 1;
    here = here + 1;            // the stack page
    for (uintptr_t va = heap_start(); va != filled; va += PAGESIZE) {
        if (!page_holds(va, va)) {
            page_lost("forktest", va);
        }
    }
    return pages + 1;
}

[[noreturn]] static void hog_then_write() {
    uintptr_t filled = heap_fill(heap_start(), heap_start() + 50 * PAGESIZE);
    int child = sys_fork();
    if (child > 0 && sys_fork() == 0) {
        heap_fill(filled);      // the hog
        spin_yielding();
    }
    uintptr_t end = wait_for_memory_full(filled);
    unsigned pages = write_everything(filled, end);
    console_printf("forktest: %s %d wrote %u pages with memory full\n",
                   child == 0 ? "child" : "parent", sys_getpid(), pages);
    spin_yielding();
}

[[noreturn]] static void fork_beyond_reserve() {
    uintptr_t filled = heap_fill(heap_start(), heap_start() + 250 * PAGESIZE);
    int r = sys_fork();
    if (r == 0) {
        sys_exit();
    }
    uintptr_t more = heap_fill(filled, filled + 10 * PAGESIZE);
    unsigned pages = write_everything(more, more);
    console_printf("forktest: fork with %lu heap pages said %d, then %lu more, %u written\n",
                   (filled - heap_start()) / PAGESIZE, r, (more - filled) / PAGESIZE, pages);
    spin_yielding();
}

[[noreturn]] static void fork_with_memory_full() {
    uintptr_t va = heap_start();
    while (va < stack_page() - PAGESIZE && sys_page_alloc(reinterpret_cast<void*>(va)) == 0) {
        page_fill(va, va);
        va += PAGESIZE;
    }
    int refused = 0;
    for (int i = 0; i != 5; ++i) {
        int r = sys_fork();
        if (r == 0) {
            spin_yielding();
        }
        refused += r < 0;
    }
    for (uintptr_t a = heap_start(); a != va; a += PAGESIZE) {
        if (!page_holds(a, a)) {
            page_lost("forktest", a);
        }
    }
    console_printf("forktest: %lu heap pages, then %d of 5 forks said -1\n",
                   (va - heap_start()) / PAGESIZE, refused);
    spin_yielding();
}

void process_main() {
    switch (process_arg) {
    case 1:
        fork_exit_cycles(1000);
        break;
    case 2:
        fork_with_memory_full();     // does not return
    case 3:
        if (sys_fork() == 0) {
            for (int i = 0; i != 200; ++i) {
                sys_yield();            // long enough for the parent to die
            }
            int grandchild = sys_fork();
            if (grandchild > 0) {
                console_printf("forktest: orphan %d forked %d\n", sys_getpid(), grandchild);
            }
            spin_yielding();
        }
        fault_at(0);            // the parent dies
        break;
    case 4:
        for (int i = 0; i != 3; ++i) {
            if (sys_fork() == 0) {
                spin_yielding();
            }
        }
        console_printf("forktest: parent exits with three children running\n");
        break;
    default:
        if (process_arg >= 1000) {
            fork_exit_cycles(process_arg);
        }
        break;
    case 6:
        hog_then_write();       // does not return
    case 7:
        fork_beyond_reserve();  // does not return
    case 5:
        if (sys_fork() == 0) {
            fault_at(8);
        }
        for (int i = 0; i != 100000; ++i) {
            sys_yield();
        }
        console_printf("forktest: parent counted on\n");
        spin_yielding();        // does not return
    }
}
