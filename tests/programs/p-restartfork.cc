// p-restartfork.cc: a boot process that dies in every life (run it with
// RESPAWN) while its family forks on, for tests/test_pset.py. Its first
// life forks two children, then dies; every later life dies at once, so
// its slot spends most of the run waiting for the next restart. Each
// child spins (its family's share of the CPU is at stake) and forks a
// grandchild every so often, which exits at once. With PROCS
// "restartfork:2", the first child's first grandchild takes every page it
// can get instead, keeps them for 50 yields, then exits: restarts find no
// memory meanwhile.
#include "u-heap.hh"

[[noreturn]] static void hog() {
    uintptr_t va = heap_start();
    while (va < stack_page() && sys_page_alloc(reinterpret_cast<void*>(va)) == 0) {
        va += PAGESIZE;
    }
    for (int i = 0; i != 50; ++i) {
        sys_yield();
    }
    sys_exit();
}

[[noreturn]] static void spin_and_fork(bool hog_first) {
    for (unsigned forks = 0; ; ++forks) {
        for (int i = 0; i != 20000; ++i) {
            asm volatile("");   // a loop the compiler keeps
        }
        if (sys_fork() == 0) {
            if (hog_first && forks == 0) {
                hog();
            }
            sys_exit();
        }
    }
}

void process_main() {
    for (int i = 0; process_life == 0 && i != 2; ++i) {
        if (sys_fork() == 0) {
            spin_and_fork(process_arg == 2 && i == 0);
        }
    }
    asm volatile("ud2");        // dies: an invalid instruction
}
