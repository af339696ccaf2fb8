// p-tickcost.cc: what the kernel takes from a process that never yields.
// It spins reading the time-stamp counter for ARG timer ticks (100 if no
// PROCS argument); a gap between two readings far longer than an ordinary
// one is the kernel handling an interrupt. tests/bench.py (`make bench`)
// runs it with the screen's panel on (VIEW=map) and off (VIEW=console):
// the difference is what the live screen costs. Output, one console line:
// `tickcost ticks=N stolen=S total=T`: N interrupts took S of T counter
// ticks (under -icount shift=0, guest instructions).
#include "u-lib.hh"

void process_main() {
    uint64_t want = process_arg ? process_arg : 100;
    // The shortest gap is the loop itself; an interrupt adds far more
    // than this margin (a system call's entry and exit alone do).
    uint64_t ordinary = rdtsc_shortest_gap(10000);
    uint64_t threshold = ordinary + 100;
    uint64_t prev;
    // Start at an interrupt, so that the stretch holds whole ticks.
    for (prev = rdtsc(); rdtsc() - prev <= threshold; prev = rdtsc()) {
    }
    uint64_t start = rdtsc(), stolen = 0, n = 0;
    prev = start;
    while (n != want) {
        uint64_t now = rdtsc();
        if (now - prev > threshold) {
            stolen += now - prev - ordinary;
            ++n;
        }
        prev = now;
    }
    console_printf(CS_WHITE "tickcost ticks=%lu stolen=%lu total=%lu\n", n, stolen, prev - start);
}
