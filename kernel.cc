// kernel.cc: the WeensyOS kernel's policy, in the order things happen:
// start the machine, load processes, handle exceptions and interrupts,
// handle system calls, schedule, run. Hardware plumbing lives in
// k-hardware.cc, page tables in k-memory.cc, program loading in k-loader.cc.
#include "kernel.hh"
#include "k-vmiter.hh"

proc ptable[NPROC];             // ptable[pid] for pid 1..MAX_PROCS
proc* current;                  // the process running (or last run)
uint64_t ticks;                 // timer interrupts since boot
boot_options bootopt;

[[noreturn]] void schedule();
[[noreturn]] void run(proc* p);
[[noreturn]] static void finish(int status);
static void processes_start(const char* procs);


// ---- 1. Start ----
// The boot loader (boot.cc) jumps to kernel_entry (k-exception.S), which
// sets up the kernel stack and calls this.

void kernel_start() {
    hardware_init();            // segments, interrupts, syscall MSRs
    console_clear();
    kernel_pagetable_init();    // identity map; kernel pages not PTE_U
    integrity_record();         // fingerprint kernel text for the summary
    read_boot_options(bootopt);
    log_printf("WeensyOS: PROCS=\"%s\" HZ=%u%s\n", bootopt.procs, bootopt.hz,
               bootopt.headless ? " headless" : "");
    processes_start(bootopt.procs);
    timer_init(bootopt.hz);     // from now on, HZ interrupts a second
    watchdog_init();            // and a few NMIs that `cli` cannot stop
    schedule();
}


// ---- 2. Processes ----

// (Re)starts process `p` from its program: a fresh page table, a fresh
// copy of the program, registers as if process_main were just called with
// (arg, life). Returns false if it could not be loaded.
static bool process_load(proc* p) {
    p->pagetable = proc_pagetable_create();
    if (!p->pagetable) {
        log_printf("proc %d: out of page-table pages\n", p->pid);
        return false;
    }
    memset(&p->regs, 0, sizeof(p->regs));
    if (program_load(p, p->name) < 0) {
        proc_pagetable_free(p->pagetable);
        p->pagetable = nullptr;
        return false;
    }
    // CPL 3 code and data segments; interrupts on; IOPL 0, so `cli`, `in`
    // and `out` fault.
    p->regs.reg_cs = SEGSEL_APP_CODE | 3;
    p->regs.reg_ss = SEGSEL_APP_DATA | 3;
    p->regs.reg_rflags = FL_IF;
    p->regs.reg_rdi = p->arg;
    p->regs.reg_rsi = p->lives;
    ++p->lives;
    p->reason[0] = '\0';
    p->state = P_RUNNABLE;
    return true;
}

// Loads the programs named in `procs` ("alice eve", or "name:arg ...")
// as pids 1, 2, ...
static void processes_start(const char* procs) {
    int pid = 1;
    for (const char* s = procs; *s; ) {
        while (*s == ' ') {
            ++s;
        }
        size_t len = 0;
        while (s[len] && s[len] != ' ' && s[len] != ':') {
            ++len;
        }
        if (len == 0) {
            break;
        }
        if (pid > MAX_PROCS) {
            log_printf("PROCS: more than %d programs; ignoring \"%s\"\n", MAX_PROCS, s);
            console_printf(CS_RED "PROCS: at most %d programs\n", MAX_PROCS);
            break;
        }
        proc* p = &ptable[pid];
        p->pid = pid;
        memcpy(p->name, s, min(len, sizeof(p->name) - 1));
        s += len;
        if (*s == ':') {
            p->arg = strtoul(s + 1, &s, 0);
        }
        while (*s && *s != ' ') {
            ++s;
        }
        if (process_load(p)) {
            log_printf("proc %d: %s loaded at 0x%lx\n", pid, p->name, proc_slot_start(pid));
        }
        ++pid;
    }
}

// Ends process `p`, giving back its page table.
static void process_free(proc* p, procstate_t state) {
    p->state = state;
    proc_pagetable_free(p->pagetable);
    p->pagetable = nullptr;
}

// Kills `p` for `reason`. The others go on. With RESPAWN=N, a killed
// process is started again from its program, up to N times.
static void process_kill(proc* p, const char* reason) {
    // Keep the reason printable before printing it: it may quote a
    // process's message, whose newlines would forge log lines.
    size_t i = 0;
    for (; reason[i] && i != sizeof(p->reason) - 1; ++i) {
        bool plain = reason[i] >= ' ' && reason[i] < 0x7F && reason[i] != '"';
        p->reason[i] = plain ? reason[i] : '?';
    }
    p->reason[i] = '\0';
    log_printf("proc %d killed: %s\n", p->pid, p->reason);
    console_printf(CS_RED "proc %d killed: %s\n", p->pid, p->reason);
    process_free(p, P_BROKEN);
    // If it cannot be loaded again, it stays broken, with its reason.
    if (p->lives <= bootopt.respawn && process_load(p)) {
        log_printf("proc %d: %s restarted (life %lu)\n", p->pid, p->name, p->lives - 1);
    }
}


// ---- 3. Exceptions and interrupts ----
// k-exception.S saved every register and calls exception(). For a process,
// regs == &current->regs.

static const char* const exception_names[32] = {
    "divide error", "debug exception", "non-maskable interrupt", "breakpoint",
    "overflow", "bound range exceeded", "invalid opcode", "device not available",
    "double fault", "coprocessor segment overrun", "invalid TSS",
    "segment not present", "stack-segment fault", "general protection fault",
    "page fault", "exception 15", "x87 floating-point error", "alignment check",
    "machine check", "SIMD floating-point error", "virtualization exception",
    "control protection exception", "exception 22", "exception 23",
    "exception 24", "exception 25", "exception 26", "exception 27",
    "exception 28", "exception 29", "exception 30", "exception 31"
};

// Whether the kernel was entered from a process. The kernel runs only with
// %cs = SEGSEL_KERN_CODE and never in virtual-8086 mode; a process's %cs
// can be anything under QEMU's emulator (see k-exception.S).
static bool entered_from_process(const regstate* regs) {
    return regs->reg_cs != SEGSEL_KERN_CODE || (regs->reg_rflags & FL_VM);
}

// The vector N of the `int $N` that raised fault `regs` at a closed IDT
// gate. The error code names it in bits 3-15, but QEMU's emulator before
// version 8.0 puts 2N there in 64-bit mode (QEMU issue 1382), so when the
// process can read its own instruction, the kernel reads N from it (0xCD N,
// after any prefixes; `into`, 0xCE, is vector 4). In virtual-8086 mode (see
// p-eve-vm86.cc) the instruction is at linear address %cs * 16 + %ip.
static uint64_t int_vector(const regstate* regs) {
    uintptr_t rip = regs->reg_rip;
    if (regs->reg_rflags & FL_VM) {
        rip = ((regs->reg_cs & 0xFFFF) << 4) + (rip & 0xFFFF);
    }
    bool user = entered_from_process(regs);
    for (int n = 0; n != 15 && user && user_range_ok(current->pagetable, rip, 2, false);
         ++n, ++rip) {
        uint8_t b = *reinterpret_cast<const uint8_t*>(rip);
        if (b == 0xCD) {
            return *reinterpret_cast<const uint8_t*>(rip + 1);
        } else if (b == 0xCE) {
            return INT_OF;
        }
        bool prefix = (b >= 0x40 && b <= 0x4F) || b == 0x66 || b == 0x67 || b == 0xF0
            || b == 0xF2 || b == 0xF3 || b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E
            || b == 0x64 || b == 0x65;
        if (!prefix) {
            break;
        }
    }
    return regs->reg_errcode >> 3;
}

// Describes the fault in `regs`: its name, and what the processor said.
static void describe_fault(const regstate* regs, char* buf, size_t size) {
    const char* name = exception_names[regs->reg_intno & 31];
    uint64_t err = regs->reg_errcode;
    if (regs->reg_intno == INT_PF) {
        const char* access = err & PFERR_FETCH ? "instruction fetch from"
            : (err & PFERR_WRITE ? "write to" : "read from");
        snprintf(buf, size, "page fault: %s 0x%lx (%s), rip=0x%lx", access, rdcr2(),
                 err & PFERR_PRESENT ? "protection violation" : "page not present",
                 regs->reg_rip);
    } else if (err != 0 && (err & 2)) {
        // The error code names an IDT entry: an `int $N` at a closed gate.
        uint64_t vector = int_vector(regs);
        snprintf(buf, size, "%s (int $%lu: IDT vector %lu is not open to processes), rip=0x%lx",
                 name, vector, vector, regs->reg_rip);
    } else if (err != 0) {
        // Bits 0-1 are flags (external event, IDT); bit 2 says LDT, which
        // is part of the selector: 0xc is not the kernel's code segment 0x8.
        snprintf(buf, size, "%s (selector 0x%lx), rip=0x%lx", name, err & ~3UL, regs->reg_rip);
    } else {
        snprintf(buf, size, "%s, rip=0x%lx", name, regs->reg_rip);
    }
}

// The processor blocks further NMIs until the next `iretq`; run() makes
// sure one comes.
static bool nmi_blocked;

// The watchdog's NMI (k-hardware.cc). A process found with interrupts off
// (possible only through an emulator quirk: see p-eve-v86cli.cc) is killed;
// otherwise nothing happens.
static void watchdog(regstate* regs, bool from_process) {
    if (!from_process) {
        return;                 // the kernel's own iretq unblocks NMIs
    }
    nmi_blocked = true;
    if (!(regs->reg_rflags & FL_IF) || (regs->reg_rflags & (FL_IOPL_MASK | FL_VM))) {
        char why[PROC_REASON_SIZE];
        snprintf(why, sizeof(why), "watchdog: interrupts off (rflags 0x%lx, cs 0x%lx), rip=0x%lx",
                 regs->reg_rflags, regs->reg_cs, regs->reg_rip);
        process_kill(current, why);
        // The timer's interrupt has been waiting all the while she held
        // interrupts off. Left pending, it would strike the next process at
        // its first instruction, charge it the tick and hand the CPU to her
        // next life (RESPAWN), which turns interrupts off again at once:
        // Alice would never run (p-eve-v86respawn.cc). Take it here, in
        // the kernel, and restart the timer, so the next process gets a
        // whole tick. (That interrupt's `iretq` unblocks NMIs, and the next
        // one reuses the NMI stack: `regs`, on it, is not used after this.)
        timer_restart();
        asm volatile("sti; nop; cli" : : : "memory");
        schedule();
    }
    run(current);
}

// Work done on every timer tick, whoever was running.
static void timer_tick() {
    ++ticks;
    lapic_eoi();
    console_show_cursor();
    int key = keyboard_poll();
    if (key == 'q' || key == 3 /* Control-C */) {
        log_printf("quit requested from the keyboard\n");
        poweroff(POWEROFF_NORMAL);
    } else if (key == 'm') {
        memshow(true);
    } else if (key == 'i') {
        char report[160];
        integrity_report(report, sizeof(report));
        console_printf(CS_WHITE "kernel %s\n", report);
        log_printf("integrity check: kernel %s\n", report);
    }
    if (bootopt.headless && ticks >= bootopt.ticks) {
        finish(POWEROFF_NORMAL);
    }
}

void exception(regstate* regs) {
    bool from_process = entered_from_process(regs);
    uint64_t intno = regs->reg_intno;
    if (from_process && regs != &current->regs) {
        // It arrived on a stack of its own (IST: the NMI, a double fault),
        // not in current->regs.
        current->regs = *regs;
    }

    if (intno == INT_TIMER) {
        if (from_process) {
            ++current->ticks;
        }
        timer_tick();
        if (from_process) {
            schedule();         // preempt: the next process gets the CPU
        }
        return;                 // the idle loop was interrupted
    }
    if (intno == INT_NMI) {
        watchdog(regs, from_process);
        return;
    }
    if (intno >= INT_IRQ) {
        // Spurious interrupts from the local APIC or the masked 8259s:
        // nothing to do.
        if (from_process) {
            run(current);
        }
        return;
    }

    char why[PROC_REASON_SIZE];
    describe_fault(regs, why, sizeof(why));
    if (!from_process) {
        // A fault in the kernel is a kernel bug.
        panic_at(regs, "kernel %s", why);
    }
    // A fault in a process kills that process only.
    process_kill(current, why);
    schedule();
}


// ---- 4. System calls ----
// Called from syscall_entry with regs == &current->regs. Arguments come in
// %rdi, %rsi, %rdx, %r10, %r8, %r9 and are the process's to choose: every
// one is checked before use. Returning a value resumes the process with
// that value in %rax; calls that switch processes do not return.

static uint64_t syscall_getsysname(proc* p, uintptr_t buf) {
    // The kernel may write anywhere; the process may not. Write only if the
    // process itself could write every byte.
    if (!user_range_ok(p->pagetable, buf, sizeof(SYSNAME), true)) {
        return -1;
    }
    memcpy(reinterpret_cast<void*>(buf), SYSNAME, sizeof(SYSNAME));
    return 0;
}

static uint64_t syscall_page_alloc(proc* p, uintptr_t addr) {
    // Only a page-aligned address in the caller's own slot: never kernel
    // memory (below PROC_START_ADDR), never another process's.
    if (addr % PAGESIZE != 0 || addr < PROC_START_ADDR
        || addr < proc_slot_start(p->pid) || addr >= proc_slot_end(p->pid)) {
        return -1;
    }
    vmiter it(p->pagetable, addr);
    if (it.user()) {
        return 0;               // already the caller's: leave its contents
    }
    memset(reinterpret_cast<void*>(addr), 0, PAGESIZE);
    return it.map(addr, PTE_PWU) < 0 ? -1 : 0;
}

[[noreturn]] static void syscall_panic(proc* p, uintptr_t msg) {
    // Copy the message a byte at a time, checking each byte is the
    // process's to read; stop at NUL or after 100 characters.
    char text[101];
    size_t n = 0;
    while (n != sizeof(text) - 1 && user_range_ok(p->pagetable, msg + n, 1, false)
           && reinterpret_cast<const char*>(msg)[n] != '\0') {
        text[n] = reinterpret_cast<const char*>(msg)[n];
        ++n;
    }
    text[n] = '\0';
    char why[PROC_REASON_SIZE];
    if (n == 0 && !user_range_ok(p->pagetable, msg, 1, false)) {
        snprintf(why, sizeof(why), "sys_panic (message at 0x%lx not readable)", msg);
    } else {
        snprintf(why, sizeof(why), "sys_panic: %s", text);
    }
    process_kill(p, why);
    schedule();
}

uint64_t syscall(regstate* regs) {
    proc* p = current;
    ++p->syscalls;
    switch (regs->reg_rax) {    // all 64 bits: 0x1'00000001 is not getpid
    case SYSCALL_GETPID:
        return p->pid;
    case SYSCALL_YIELD:
        regs->reg_rax = 0;
        schedule();
    case SYSCALL_PANIC:
        syscall_panic(p, regs->reg_rdi);
    case SYSCALL_GETSYSNAME:
        return syscall_getsysname(p, regs->reg_rdi);
    case SYSCALL_PAGE_ALLOC:
        return syscall_page_alloc(p, regs->reg_rdi);
    case SYSCALL_EXIT:
        log_printf("proc %d exited\n", p->pid);
        process_free(p, P_EXITED);
        schedule();
    default:
        return -1;
    }
}


// ---- 5. Scheduling ----

// Runs the next runnable process after `current`, round robin. With none
// runnable, a headless run is over; otherwise wait (interrupts on) for 'q'.
void schedule() {
    proc* const last = &ptable[MAX_PROCS];
    proc* p = current ? current : last;
    for (int n = 0; n != MAX_PROCS; ++n) {
        // The next slot, wrapping after the last: a compare, not a `%`,
        // since every yield runs this loop up to MAX_PROCS times.
        p = p == last ? &ptable[1] : p + 1;
        if (p->state == P_RUNNABLE) {
            run(p);
        }
    }
    if (bootopt.headless) {
        log_printf("no runnable processes\n");
        finish(POWEROFF_NORMAL);
    }
    console_printf(CS_WHITE "No process can run. Press q to quit.\n");
    while (true) {
        asm volatile("sti; hlt; cli" : : : "memory");
    }
}


// ---- 6. Running a process ----

// Returns to process `p` with the registers it had at its last kernel
// entry. Never returns.
void run(proc* p) {
    assert(p->state == P_RUNNABLE);
    if (p != current) {
        current = p;
        set_kernel_stack_for(p);    // its next entry saves into p->regs
    }
    // Whatever %rflags held, the process gets IOPL 0 and interrupts on,
    // and whatever segments it reached (see k-exception.S), it resumes in
    // 64-bit mode at CPL 3: `iretq` to anything else would fault in the
    // kernel.
    p->regs.reg_rflags = (p->regs.reg_rflags & FL_USER_MASK) | FL_IF;
    p->regs.reg_cs = SEGSEL_APP_CODE | 3;
    p->regs.reg_ss = SEGSEL_APP_DATA | 3;
    if (p->regs.reg_intno == INT_SYSCALL && !nmi_blocked) {
        return_to_process_sysret(p);
    }
    nmi_blocked = false;
    return_to_process_iret(p);
}


// ---- Headless runs: the summary, then power off ----

static const char* const state_names[] = {"free", "runnable", "exited", "broken"};

static void print_summary() {
    log_printf("summary: ticks=%lu\n", ticks);
    for (int pid = 1; pid != NPROC; ++pid) {
        proc& p = ptable[pid];
        if (p.state == P_FREE) {
            continue;
        }
        log_printf("proc %d %s %s ticks=%lu syscalls=%lu", pid, p.name,
                   state_names[p.state], p.ticks, p.syscalls);
        if (p.state == P_BROKEN) {
            log_printf(" reason=\"%s\"", p.reason);
        }
        log_printf("\n");
    }
    char integrity[160];
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

static void finish(int status) {
    memshow(false);
    print_summary();
    poweroff(status);
}

// After a panic message: a headless run reports and stops; otherwise the
// message stays on screen until someone presses q.
void panic_stop() {
    if (bootopt.headless) {
        finish(POWEROFF_PANIC);
    }
    console_printf(CS_WHITE "Press q to quit.\n");
    while (true) {
        int key = keyboard_poll();
        if (key == 'q' || key == 3) {
            poweroff(POWEROFF_PANIC);
        }
    }
}
