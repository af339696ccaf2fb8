// p-bench.cc: measures what things cost, with the time-stamp counter: an
// empty loop, a procedure call, sys_getpid, sys_yield, a switch between
// processes, and a timer interrupt. Under QEMU's `-icount shift=0` the
// counter advances once per guest instruction, so the figures are
// instruction counts; otherwise they are host cycles. tests/bench.py
// (`make bench`) runs it both ways and prints the table.
//
//   PROCS="bench"              one process, alone: loop, call, getpid,
//                              yield (nothing else runnable), timer
//   PROCS="bench:2 bench:2"    two processes yielding to each other (up to
//                              bench:4 x 4): the cost of a switch
//
// A process cannot see whether others run, so the PROCS argument says how
// many benches take turns; with the default (0), any bench but pid 1 exits
// at once, leaving pid 1 alone.
//
// Output, from pid 1, one console line each: `bench NAME tsc=T net=N
// pid=1`: T counter ticks per iteration, the loop's own instructions
// included; N with the empty loop's cost taken off. Last, `bench life
// tsc=L`: the counter ticks from start to exit, which tests/bench.py times
// against the host's clock to learn the counter's frequency.
#include "u-lib.hh"

// Each figure is the least of REPS repetitions: an interrupt or a host
// hiccup can only add time. A repetition stays well under one timer period
// (10 ms at HZ=100) in instructions, so under -icount most see none.
#define REPS        9
#define LOOP_N      100000
#define CALL_N      100000
#define GETPID_N    5000
#define YIELD_N     2000
#define TIMER_SAMPLES 21

static int pid;

// Prints a measurement of `n` iterations that took `total` counter ticks,
// `loop_total` of which the empty loop alone would have taken.
static void report(const char* what, uint64_t total, uint64_t n, uint64_t loop_total) {
    uint64_t t10 = (total * 10 + n / 2) / n;        // tenths, rounded
    uint64_t net = total > loop_total ? total - loop_total : 0;
    uint64_t n10 = (net * 10 + n / 2) / n;
    console_printf(CS_WHITE "bench %s tsc=%lu.%lu net=%lu.%lu pid=%d\n",
                   what, t10 / 10, t10 % 10, n10 / 10, n10 % 10, pid);
}

// Runs `body` n times, REPS times over; returns the least counter ticks a
// run of n took. Every body gets this same loop, so measure(n, nothing)
// is the loop's own cost.
template <typename F>
static uint64_t measure(uint64_t n, F body) {
    uint64_t best = ~0UL;
    for (int rep = 0; rep != REPS; ++rep) {
        uint64_t start = rdtsc();
        for (uint64_t i = 0; i != n; ++i) {
            body();
        }
        best = min(best, rdtsc() - start);
    }
    return best;
}

static void nothing() {
    // The compiler must keep this empty statement, so the loop stays.
    asm volatile("" : : : "memory");
}

// A procedure the compiler must really call: never inlined, and its body
// is a barrier it may neither drop nor see through.
__attribute__((noinline)) void bench_procedure() {
    asm volatile("" : : : "memory");
}

static void sort(uint64_t* a, int n) {
    for (int i = 1; i < n; ++i) {
        for (int j = i; j > 0 && a[j - 1] > a[j]; --j) {
            uint64_t t = a[j];
            a[j] = a[j - 1];
            a[j - 1] = t;
        }
    }
}

// Spins reading the counter. A gap between two readings far longer than
// an ordinary one is an interrupt taken in between: "far longer" is half a
// system call's kernel entry and exit, which an interrupt does too. Reports
// the median such gap (tsc) and what it adds to an ordinary one (net).
// Without -icount, the host's own interruptions of QEMU look the same.
static void measure_timer(uint64_t getpid_net) {
    uint64_t ordinary = rdtsc_shortest_gap(100000);
    uint64_t threshold = ordinary + getpid_net / 2;

    uint64_t gap[TIMER_SAMPLES];
    uint64_t sum = 0;
    int n = -1;                 // the first gap may be cut short: skip it
    uint64_t prev = rdtsc();
    while (n != TIMER_SAMPLES) {
        uint64_t now = rdtsc();
        if (now - prev > threshold) {
            if (n >= 0) {
                gap[n] = now - prev;
                sum += gap[n];
            }
            ++n;
        }
        prev = now;
    }
    sort(gap, TIMER_SAMPLES);
    uint64_t median = gap[TIMER_SAMPLES / 2];
    console_printf(CS_WHITE "bench timer tsc=%lu net=%lu pid=%d mean=%lu\n",
                   median, median - ordinary, pid, sum / TIMER_SAMPLES);
}

static void run_alone() {
    uint64_t loop = measure(LOOP_N, nothing);
    report("loop", loop, LOOP_N, 0);
    report("call", measure(CALL_N, bench_procedure), CALL_N, loop * CALL_N / LOOP_N);
    uint64_t getpid = measure(GETPID_N, sys_getpid);
    report("getpid", getpid, GETPID_N, loop * GETPID_N / LOOP_N);
    report("yield", measure(YIELD_N, sys_yield), YIELD_N, loop * YIELD_N / LOOP_N);
    measure_timer((getpid - loop * GETPID_N / LOOP_N) / GETPID_N);
}

// `nprocs` benches yield round robin, each in the same loop: one iteration
// of one process's loop is `nprocs` switches, each with one loop iteration.
// Every process counts and measures; only pid 1 reports, since two
// processes printing at once would overwrite each other's lines (they
// share the screen's cursor). The first and last repetitions also hold
// the others' start and exit, which taking the least leaves out.
static bool run_switch(int nprocs) {
    uint64_t loop = measure(LOOP_N, nothing);
    uint64_t n = YIELD_N * nprocs;
    uint64_t total = measure(YIELD_N, sys_yield);
    if (pid == 1) {
        report("switch", total, n, loop * n / LOOP_N);
    }
    return pid == 1;
}

void process_main() {
    uint64_t start = rdtsc();
    pid = sys_getpid();
    int nprocs = process_arg;
    if (nprocs >= 2 && pid <= nprocs) {
        if (!run_switch(nprocs)) {
            return;
        }
    } else if (nprocs <= 1 && pid == 1) {
        run_alone();
    } else {
        console_printf(CS_WHITE "bench pid %d: not taking part (see p-bench.cc)\n", pid);
        return;
    }
    console_printf(CS_WHITE "bench life tsc=%lu pid=%d\n", rdtsc() - start, pid);
}
