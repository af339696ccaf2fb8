// p-cheater.cc: games a tick-sampled scheduler. It watches the time-stamp
// counter for the gaps that timer interrupts leave, learns the period,
// then uses almost a whole period each turn and yields just before the
// tick it expects, so that the tick lands on whoever runs next. A kernel
// that preempts and charges whoever the tick finds then gives its victim
// almost nothing while charging it almost every tick.
#include "u-lib.hh"

void process_main() {
    // The shortest gap between two readings, then the times of interrupts
    // (gaps far longer than that).
    uint64_t shortest = ~0UL, prev = rdtsc();
    for (int i = 0; i != 10000; ++i) {
        uint64_t now = rdtsc();
        shortest = min(shortest, now - prev);
        prev = now;
    }
    uint64_t seen[3];
    int n = 0;
    prev = rdtsc();
    while (n != 3) {
        uint64_t now = rdtsc();
        if (now - prev > 50 * shortest + 1000) {
            seen[n++] = now;
        }
        prev = now;
    }
    uint64_t period = min(seen[1] - seen[0], seen[2] - seen[1]);
    uint64_t margin = period / 2000;
    uint64_t next_tick = seen[2] + period;
    while (true) {
        while (rdtsc() < next_tick - margin) {
        }
        sys_yield();
        // Back after the tick struck whoever ran: aim at the next one.
        uint64_t now = rdtsc();
        while (next_tick - margin <= now) {
            next_tick += period;
        }
    }
}
