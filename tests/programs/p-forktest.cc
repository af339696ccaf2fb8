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
//   N  (1000 or more) N fork/exit cycles, as case 1 (make soak)
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
