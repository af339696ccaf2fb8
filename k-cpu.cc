// k-cpu.cc: the clock and CPU time. `ticks` counts timer periods since
// boot, measured with the time-stamp counter; each process is charged the
// cycles the processor spent for it, and gets whole slices. kernel.cc's
// scheduler decides who runs; this file keeps the accounts.
#include "kernel.hh"

uint64_t ticks;                 // timer periods since boot
static uint64_t clock_tsc;      // time-stamp counter at the start of this tick

// The process charged for the processor (kernel.hh, "Who has the
// processor"): the one whose page table and segment registers are loaded.
// It is charged the cycles since
// `cpu_since`: its own instructions and the kernel's on its behalf (its
// system calls, the interrupts that strike it). Killing and restarting a
// process is charged to that process (cpu_work_begin, cpu_work_charge).
// Nobody is charged while it is null: the kernel loading the boot
// processes, or idle.
proc* on_cpu;
static uint64_t cpu_since;
static uint64_t turn_start;     // when on_cpu got the processor: its slice began

void clock_start() {
    clock_tsc = rdtsc();        // tick 0 starts now
}

// Charges on_cpu its time up to `now`.
static void charge_cpu(uint64_t now) {
    if (on_cpu) {
        on_cpu->cpu_time += now - cpu_since;
    }
    cpu_since = now;
}

// The work done once per tick: the restarts that are due (k-respawn.cc),
// the cursor, the keyboard's commands (k-keys.cc), the screen's repaint
// (k-screen.cc), and the end of a headless run. A key may restart every
// process (processes_restart) and a headless run ends here: neither
// returns.
static void tick_work(bool last) {
    if (respawns_waiting != 0) {
        respawn_due();
    }
    console_show_cursor();
    keys_poll();
    screen_tick();
    if (last) {
        finish(POWEROFF_NORMAL);        // does not return
    }
}

// Brings the clock up to `now`, and after a tick has passed does that
// tick's work. The timer interrupt is not the clock: it restarts whenever
// another process gets the CPU (so that each gets a whole slice), and
// processes that take turns faster than HZ would never let it fire. So the
// clock is read from the time-stamp counter at every timer interrupt and
// every switch (cpu_account()), the only two callers.
static void clock_update(uint64_t now) {
    if (now - clock_tsc < tsc_per_tick) {
        return;
    }
    // A headless run ends at exactly tick TICKS, after that tick's work
    // (the screen's repaint among it).
    bool last = false;
    while (now - clock_tsc >= tsc_per_tick && !last) {
        clock_tsc += tsc_per_tick;
        ++ticks;
        last = bootopt.headless && ticks >= bootopt.ticks;
    }
    tick_work(last);
}

uint64_t cpu_account() {
    uint64_t now = rdtsc();
    charge_cpu(now);
    clock_update(now);
    return now;
}

void cpu_release() {
    charge_cpu(rdtsc());
    on_cpu = nullptr;
}

void cpu_idle() {
    cpu_release();
    if (respawns_waiting != 0) {
        asm volatile("sti; hlt; cli" : : : "memory");   // until the next interrupt
        return;
    }
    if (bootopt.headless) {
        log_printf("no runnable processes\n");
        finish(POWEROFF_NORMAL);        // does not return
    }
    console_printf(CS_WHITE "No process can run. Press q to quit.\n");
    while (true) {
        asm volatile("sti; hlt; cli" : : : "memory");   // the keys still work at each tick
    }
}

// The kernel starts work for one process (killing or restarting it),
// while another may be on the CPU: that one's time stops here...
uint64_t cpu_work_begin() {
    charge_cpu(rdtsc());
    return cpu_since;
}

// ...and the work since `since` is charged to `p`, not to it.
void cpu_work_charge(proc* p, uint64_t since) {
    uint64_t now = rdtsc();
    p->cpu_time += now - since;
    cpu_since = now;
}

// Gives the CPU to `p`, which another process had (or none): charges that
// one its time and keeps its segment registers, loads p's segment
// registers and page table, and starts p's slice: a whole timer period.
// Every yield that finds another process runs this: it is kept short.
void cpu_switch(proc* p) {
    assert(p->state == P_RUNNABLE);     // a process that is not never gets the CPU
    if (!p->pagetable) {
        // %cr3 = 0 would reset the machine (a triple fault) at the next access.
        panic("cpu_switch: proc %d (%s) is runnable but has no page table", p->pid, p->name);
    }
    uint64_t now = rdtsc();
    charge_cpu(now);
    clock_update(now);
    segments_switch(on_cpu ? &on_cpu->segs : nullptr, p->segs);
    if (rdcr3() != reinterpret_cast<uintptr_t>(p->pagetable)) {
        wrcr3(reinterpret_cast<uintptr_t>(p->pagetable));
    }
    current = p;
    set_kernel_stack_for(p);    // its next entry saves into p->regs
    on_cpu = p;
    turn_start = now;
    timer_restart();            // its interrupt comes a whole period from now
}

// The timer restarts when a process gets the CPU, so the interrupt that
// ends a slice comes a whole period (tsc_per_tick) after turn_start. One
// that came due earlier, while the kernel worked with interrupts off,
// strikes at the process's first instruction, almost nothing after
// turn_start: the process keeps the CPU. Half a period tells the two
// apart with room on both sides for the kernel's own instructions.
bool slice_over(uint64_t now) {
    return now - turn_start >= tsc_per_tick / 2;
}
