// k-summary.cc: how a run ends. A headless run (the tests, the grader)
// prints the summary below to the log and powers off; its format is part
// of the contract (README, "Headless runs"), and exercises/summary.py, the
// one reader that the grader and the tests share, parses it. After a panic on screen, the message stays
// until someone presses q.
#include "kernel.hh"

const char* proc_state_name(procstate_t state) {
    static const char* const names[] = {"free", "runnable", "exited", "broken"};
    return names[state];
}

static void print_summary() {
    log_printf("summary: ticks=%lu\n", ticks);
    for (int pid = 1; pid != NPROC; ++pid) {
        proc& p = ptable[pid];
        if (p.state == P_FREE) {
            continue;
        }
        // ticks=: its CPU time in whole timer periods; cpu=: in microseconds;
        // pages=: the user pages it maps (shared ones too); parent=: who
        // forked it (0: a boot process)
        unsigned pages = p.pagetable ? user_page_count(p.pagetable, user_memory_start(&p),
                                                       user_memory_end(&p)) : 0;
        log_printf("proc %d %s %s ticks=%lu syscalls=%lu cpu=%lu pages=%u parent=%d", pid,
                   p.name, proc_state_name(p.state), p.cpu_time / tsc_per_tick, p.syscalls,
                   p.cpu_time * 1000 / tsc_per_ms, pages, p.parent);
        if (p.state == P_BROKEN) {
            log_printf(" reason=\"%s\"", p.reason);
        }
        log_printf("\n");
    }
    memory_stats m = memory_count();
    log_printf("memory free=%u used=%u shared=%u leaked=%u reserved=%u\n", m.free, m.used,
               m.shared, m.leaked, m.reserved);
    char integrity[INTEGRITY_REPORT_SIZE];
    integrity_report(integrity, sizeof(integrity));
    log_printf("kernel %s\n", integrity);
    log_printf("console:\n");
    for (int row = 0; row != CONSOLE_ROWS; ++row) {
        char line[CONSOLE_COLUMNS + 1];
        int len = 0;
        for (int col = 0; col != CONSOLE_COLUMNS; ++col) {
            char c = console[row * CONSOLE_COLUMNS + col] & 0xFF;
            line[col] = c >= ' ' && c < 0x7F ? c : (c == 0 ? ' ' : '?');
            if (line[col] != ' ') {
                len = col + 1;
            }
        }
        line[len] = '\0';
        log_printf("%s\n", line);
    }
    log_printf("end-summary\n");
}

void finish(int status) {
    memshow(false);
    print_summary();
    poweroff(status);
}

// After a panic message: a headless run reports and stops; otherwise the
// message stays on screen until someone presses q.
void panic_stop() {
    if (bootopt.headless) {
        finish(POWEROFF_PANIC);         // does not return
    }
    console_printf(CS_WHITE "Press q to quit.\n");
    while (true) {
        if (key_quits(keyboard_poll())) {
            poweroff(POWEROFF_PANIC);
        }
    }
}
