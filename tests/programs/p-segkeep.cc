// p-segkeep.cc: keeps its own data segment registers across thousands of
// yields and timer preemptions, and checks after each that they are still
// its own. Pids differ in what they load (all are selectors a process may
// load at CPL 3: null, user data, user code, at various RPLs), so a kernel
// that shares segment registers between processes shows at once. Every
// check also reads a variable through %fs and %gs: a base left behind by
// another process (one that escaped into virtual-8086 mode, say) reads
// somewhere else. Prints "segkeep pid P: N checks ok" or dies with the
// register that changed. PROCS argument: iterations (default 20000).
#include "u-lib.hh"

static volatile uint64_t probe = 0x5E65'0000'C0DEUL;

struct sels {
    uint16_t ds, es, fs, gs;
};

static sels read_sels() {
    sels s;
    asm volatile("movw %%ds, %0; movw %%es, %1; movw %%fs, %2; movw %%gs, %3"
                 : "=m" (s.ds), "=m" (s.es), "=m" (s.fs), "=m" (s.gs));
    return s;
}

void process_main() {
    int pid = sys_getpid();
    const sels choices[] = {
        {0x1B, 0x23, 0x00, 0x1B}, {0x18, 0x00, 0x23, 0x19},
        {0x23, 0x1A, 0x1B, 0x00}, {0x00, 0x1B, 0x1A, 0x20},
    };
    sels mine = choices[(pid - 1) % 4];
    asm volatile("movw %w0, %%ds; movw %w1, %%es; movw %w2, %%fs; movw %w3, %%gs"
                 : : "r" (mine.ds), "r" (mine.es), "r" (mine.fs), "r" (mine.gs));
    uint64_t n = process_arg ? process_arg : 20000;
    for (uint64_t i = 0; i != n; ++i) {
        if (i % 64 == 0) {
            // Spin a while, so that timer interrupts find us too.
            for (int j = 0; j != 20000; ++j) {
                asm volatile("");
            }
        } else {
            sys_yield();
        }
        sels now = read_sels();
        uint64_t via_fs, via_gs;
        asm volatile("movq %%fs:(%2), %0; movq %%gs:(%2), %1"
                     : "=r" (via_fs), "=r" (via_gs) : "r" (&probe));
        char msg[100];
        if (now.ds != mine.ds || now.es != mine.es || now.fs != mine.fs || now.gs != mine.gs) {
            snprintf(msg, sizeof(msg), "segkeep: ds=%x es=%x fs=%x gs=%x, mine %x %x %x %x",
                     now.ds, now.es, now.fs, now.gs, mine.ds, mine.es, mine.fs, mine.gs);
            sys_panic(msg);
        } else if (via_fs != probe || via_gs != probe) {
            snprintf(msg, sizeof(msg), "segkeep: %%fs/%%gs base moved: read %lx %lx", via_fs, via_gs);
            sys_panic(msg);
        }
    }
    console_printf(CS_WHITE "segkeep pid %d: %lu checks ok\n", pid, n);
}
