// kernel.cc: the WeensyOS kernel's policy, in the order things happen:
// start the machine, load processes, handle exceptions and interrupts,
// handle system calls, schedule, run. The machinery lives in rooms of its
// own, named in kernel.hh: hardware in k-hardware.cc, page tables in
// k-memory.cc, program loading in k-loader.cc, the clock and CPU time in
// k-cpu.cc, the keys in k-keys.cc, the screen in k-screen.cc, and the
// defenses against QEMU-only behaviour in k-quirks.cc.
//
// Physical memory (2 MB), mapped one to one (virtual = physical) in every
// page table; the tables differ only in permissions:
//
//   0x000000 +----------------+ page 0: never mapped (null pointers fault)
//            | boot, BIOS data|
//   0x040000 +----------------+ KERNEL_START_ADDR
//            | kernel code    | read-only, even for the kernel (CR0.WP)
//            | kernel data    | page tables, ptable[], ...
//   0x07C000 | kernel stack   | grows down from KERNEL_STACK_TOP (0x80000)
//   0x0A0000 +----------------+ reserved for hardware; 0xB8000 is the CGA
//            |  console  (C)  | screen, the one page below 1 MB that
//   0x100000 +----------------+ processes may touch (PTE_U)
//            | slot 1 (pid 1) | PROC_START_ADDR: program, then pages from
//   0x140000 +----------------+ sys_page_alloc, stack in the top page
//            | slot 2 (pid 2) |
//   0x180000 +----------------+
//            | slot 3, slot 4 | PROC_SLOT_SIZE = 0x40000 each
//   0x200000 +----------------+ MEMSIZE_PHYSICAL
//
// The defenses the lectures teach are the course's exercises. Each sits
// between two comments, "Exercise N (...)" and "End of exercise N". In
// the before-N kernels (`make run-before-...`, BEFORE=N) and the handout
// (`make handout`, the before-1 kernel), exercises N and later hold their
// starting code instead (exercises/catalog.txt).
#include "kernel.hh"
#include "k-vmiter.hh"

proc ptable[NPROC];             // ptable[pid] for pid 1..MAX_PROCS
proc* current;                  // see kernel.hh: who has the processor
boot_options bootopt;

static proc* slots_end = &ptable[1];    // just past the last slot PROCS filled

static void processes_start(const char* procs);


// ---- 1. Start ----
// The boot loader (boot.cc) jumps to kernel_entry (k-exception.S), which
// sets up the kernel stack and calls this.

void kernel_start() {
    hardware_init();            // segments, interrupts, syscall MSRs
    kernel_pagetable_init();    // identity map, with kernel_page_perm() below
    console_clear();
    protections_init();         // SMEP, SMAP, UMIP, where the processor has them
    integrity_record();         // fingerprint kernel text for the end of the run
    read_boot_options(bootopt); // PROCS, HZ, ... from run-qemu
    screen_init();              // the panel and map above the console (k-screen.cc)
    processes_start(bootopt.procs);
    screen_tick();              // the first paint, before any process runs
    timer_init(bootopt.hz);     // from now on, HZ interrupts a second
    clock_start();              // tick 0 starts now (k-cpu.cc)
    watchdog_init(bootopt.hz);  // a second clock, which `cli` cannot stop
    schedule();                 // does not return
}

// The permissions of physical page `pa` in the kernel's identity map, which
// every process page table copies.
uint64_t kernel_page_perm(uintptr_t pa) {
    if (pa == 0) {
        return 0;                       // null pointers fault, even in the kernel
    }
    // Exercise 4 (kernel pages without PTE_U)
    // No page is both writable and executable (W^X): only the kernel's code
    // can run, and nothing can change it.
    uintptr_t text = reinterpret_cast<uintptr_t>(kernel_text_start);
    uintptr_t rodata = reinterpret_cast<uintptr_t>(kernel_rodata_start);
    uintptr_t rodata_end = reinterpret_cast<uintptr_t>(kernel_rodata_end);
    if (pa == CONSOLE_ADDR) {
        return PTE_PWU | PTE_NX;        // processes print here directly
    } else if (pa >= text && pa < rodata) {
        return PTE_P;                   // kernel code: read-only
    } else if (pa >= rodata && pa < rodata_end) {
        return PTE_P | PTE_NX;          // kernel constants: read-only data
    } else {
        return PTE_P | PTE_W | PTE_NX;  // the rest: the kernel's alone, data
    }
    // End of exercise 4
}


// ---- 2. Processes ----

// The registers a process may hold when it runs, whatever it did to them:
// 64-bit code and stack segments at CPL 3, and of %rflags only the
// arithmetic, direction and single-step flags and the two that bind only
// it (FL_USER_MASK), with interrupts on. Loading and resuming a process
// both come through here.
static void set_user_mode(regstate& regs) {
    regs.reg_cs = SEGSEL_APP_CODE | 3;
    regs.reg_ss = SEGSEL_APP_DATA | 3;
    // Exercise 2 (processes at IOPL 0)
    regs.reg_rflags = (regs.reg_rflags & FL_USER_MASK) | FL_IF;
    // End of exercise 2
}

// A new process's data segment registers: null selectors, bases 0. What
// it loads afterwards is its own, kept across every switch; segments_switch
// (k-hardware.cc) accepts only what a process at CPL 3 could load itself.
static const segstate initial_segments = {};

// The page table process `p` runs on.
static x86_64_pagetable* process_pagetable(proc* p) {
    // Exercise 8 (a page table per process)
    return proc_pagetable_create();
    // End of exercise 8
}

// (Re)starts process `p` from its program: its page table, a fresh copy of
// the program, and the registers process_start (u-lib.cc) expects: %rdi =
// the PROCS argument, %rsi = how many times it was restarted. Returns false
// if it could not be loaded.
static bool process_load(proc* p) {
    p->pagetable = process_pagetable(p);
    if (!p->pagetable) {
        log_printf("proc %d: out of page-table pages\n", p->pid);
        return false;
    }
    memset(&p->regs, 0, sizeof(p->regs));
    // Interrupts on from its first instruction. set_user_mode() sets IF
    // anyway, but exercise 2's starting code (the before-2 kernels) keeps
    // the process's own IF, which must start on.
    p->regs.reg_rflags = FL_IF;
    p->segs = initial_segments;
    if (program_load(p, p->name) < 0) {
        proc_pagetable_free(p->pagetable);
        p->pagetable = nullptr;
        return false;
    }
    set_user_mode(p->regs);
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
        slots_end = p + 1;
        ++pid;
    }
}

// Ends process `p`, giving back its page table. Its CPU time stops here:
// what the kernel does next (restarting it, say) is charged to no one.
static void process_free(proc* p, procstate_t state) {
    if (p == on_cpu) {
        cpu_release();
    }
    p->state = state;
    proc_pagetable_free(p->pagetable);
    p->pagetable = nullptr;
}

// Kills `p` for `reason`. The others go on. With RESPAWN=N, a killed
// process is started again from its program, up to N times.
void process_kill(proc* p, const char* reason) {
    process_free(p, P_BROKEN);
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
    // If it cannot be loaded again, it stays broken, with its reason.
    if (p->lives <= bootopt.respawn && process_load(p)) {
        log_printf("proc %d: %s restarted (life %lu)\n", p->pid, p->name, p->lives - 1);
    }
}

// Replaces every process with the programs in `procs`, as if the machine
// had booted with them (the program-set keys, k-keys.cc): each process
// ends and gives back its page table, its slot starts over from zero
// (counters, lives), and the new set is loaded as pids 1, 2, ... Called
// from a tick's work (k-cpu.cc), at a timer interrupt or a switch, where
// every process's registers are saved: a process that was in a system
// call (sys_yield, say) is simply never resumed.
void processes_restart(const char* procs) {
    cpu_release();
    for (int pid = 1; pid != NPROC; ++pid) {
        proc* p = &ptable[pid];
        if (p->pagetable) {
            process_free(p, P_FREE);
        }
        memset(p, 0, sizeof(*p));
    }
    current = nullptr;
    log_printf("restart at tick %lu: PROCS=\"%s\"\n", ticks, procs);
    processes_start(procs);
    schedule();                 // does not return
}


// ---- 3. Exceptions and interrupts ----
// k-exception.S saved every register and calls exception(). For a process,
// regs == &current->regs.

void exception(regstate* regs) {
    bool from_process = entered_from_process(regs);
    uint64_t intno = regs->reg_intno;
    if (from_process && regs != &current->regs) {
        // It arrived on a stack of its own (IST: the watchdog's interrupt,
        // a double fault), not in current->regs.
        current->regs = *regs;
    }

    if (intno == INT_TIMER) {
        lapic_eoi();
        uint64_t now = cpu_account();   // the clock, and a tick's work (k-cpu.cc)
        if (!from_process) {
            return;             // the idle loop was interrupted
        }
        if (slice_over(now)) {
            // Exercise 1 (timer preemption)
            schedule();         // preempt: the next gets the CPU; does not return
            // End of exercise 1
        }
        run(current);           // her slice goes on; does not return
    }
    if (intno == INT_WATCHDOG) {
        watchdog(regs, from_process);   // k-watchdog.cc
        return;
    }
    if (intno >= INT_IRQ) {
        // Spurious interrupts from the local APIC or the masked 8259s:
        // nothing to do.
        if (from_process) {
            run(current);       // does not return
        }
        return;
    }

    char why[PROC_REASON_SIZE];
    describe_fault(regs, why, sizeof(why));
    // Exercise 3 (a fault kills only the process)
    if (!from_process) {
        panic_at(regs, "kernel %s", why);   // a fault in the kernel is a kernel bug
    }
    process_kill(current, why);
    schedule();                 // does not return
    // End of exercise 3
}


// ---- 4. System calls ----
// Called from syscall_entry with regs == &current->regs. Arguments come in
// %rdi, %rsi, %rdx, %r10, %r8, %r9 and are the process's to choose: every
// one is checked before use. Returning a value resumes the process with
// that value in %rax; calls that switch processes do not return.

// The rarer calls are kept out of line, so that syscall() itself, which
// every sys_getpid runs, needs no stack frame beyond the frame pointer.
__attribute__((noinline)) static uint64_t syscall_getsysname(proc* p, uintptr_t buf) {
    // Exercise 5 (sys_getsysname checks its buffer)
    // The kernel may write anywhere; the process may not. Write only if the
    // process itself could write every byte.
    if (!user_range_ok(p->pagetable, buf, sizeof(SYSNAME), true)) {
        return -1;
    }
    // End of exercise 5
    user_copy(reinterpret_cast<void*>(buf), SYSNAME, sizeof(SYSNAME));
    return 0;
}

__attribute__((noinline)) static uint64_t syscall_page_alloc(proc* p, uintptr_t addr) {
    // Exercise 6 (sys_page_alloc checks its address)
    // Only a page-aligned address in the caller's own slot: never kernel
    // memory (below PROC_START_ADDR), never another process's.
    if (addr % PAGESIZE != 0 || addr < PROC_START_ADDR
        || addr < proc_slot_start(p->pid) || addr >= proc_slot_end(p->pid)) {
        return -1;
    }
    // End of exercise 6
    vmiter it(p->pagetable, round_down(addr, PAGESIZE));
    if (it.user()) {
        return 0;               // already the caller's: leave it as it is
    }
    if (it.map(it.va(), PTE_PWU | PTE_NX) < 0) {   // data: never run (W^X)
        return -1;
    }
    user_zero(reinterpret_cast<void*>(it.va()), PAGESIZE);
    return 0;
}

[[noreturn, gnu::noinline]] static void syscall_panic(proc* p, uintptr_t msg) {
    // Copy the message a byte at a time, checking each byte is the
    // process's to read; stop at NUL or after 100 characters.
    char text[101];
    size_t n = 0;
    while (n != sizeof(text) - 1 && user_range_ok(p->pagetable, msg + n, 1, false)) {
        user_copy(&text[n], reinterpret_cast<const char*>(msg + n), 1);
        if (text[n] == '\0') {
            break;
        }
        ++n;
    }
    text[n] = '\0';
    char why[PROC_REASON_SIZE];
    if (n == 0 && !user_range_ok(p->pagetable, msg, 1, false)) {
        snprintf(why, sizeof(why), "sys_panic (message at 0x%lx not readable)", msg);
    } else {
        snprintf(why, sizeof(why), "sys_panic: %s", text);
    }
    // Exercise 7 (sys_panic kills only the caller)
    process_kill(p, why);
    schedule();                 // does not return
    // End of exercise 7
}

[[noreturn, gnu::noinline]] static void syscall_exit(proc* p) {
    log_printf("proc %d exited\n", p->pid);
    process_free(p, P_EXITED);
    schedule();                 // does not return
}

uint64_t syscall(regstate* regs) {
    proc* p = current;
    ++p->syscalls;
    switch (regs->reg_rax) {    // all 64 bits: 0x1'00000001 is not getpid
    case SYSCALL_GETPID:
        return p->pid;
    case SYSCALL_YIELD:
        regs->reg_rax = 0;
        schedule();             // does not return
    case SYSCALL_PANIC:
        syscall_panic(p, regs->reg_rdi);    // does not return
    case SYSCALL_GETSYSNAME:
        return syscall_getsysname(p, regs->reg_rdi);
    case SYSCALL_PAGE_ALLOC:
        return syscall_page_alloc(p, regs->reg_rdi);
    case SYSCALL_EXIT:
        syscall_exit(p);        // does not return
    default:
        return -1;
    }
}


// ---- 5. Scheduling ----

// Runs the next runnable process after `current`, round robin. With none
// runnable, a headless run is over; otherwise wait (interrupts on) for 'q'.
void schedule() {
    // The slots after current's, then from the first up to current's own:
    // two plain scans, since every yield runs them, and none past the last
    // slot PROCS filled (no process is ever there).
    proc* const after = current ? current + 1 : &ptable[1];
    for (proc* p = after; p < slots_end; ++p) {
        if (p->state == P_RUNNABLE) {
            run(p);             // does not return
        }
    }
    for (proc* p = &ptable[1]; p != after && p < slots_end; ++p) {
        if (p->state == P_RUNNABLE) {
            run(p);             // does not return
        }
    }
    cpu_release();
    if (bootopt.headless) {
        log_printf("no runnable processes\n");
        finish(POWEROFF_NORMAL);        // does not return
    }
    console_printf(CS_WHITE "No process can run. Press q to quit.\n");
    while (true) {
        asm volatile("sti; hlt; cli" : : : "memory");
    }
}


// ---- 6. Running a process ----

// Returns to process `p` with the registers it had at its last kernel
// entry, as set_user_mode() allows. Never returns.
void run(proc* p) {
    if (p != on_cpu) {
        cpu_switch(p);              // p's page table, segments, slice (k-cpu.cc)
    }
    set_user_mode(p->regs);
    return_to_process(p);           // does not return (k-hardware.cc)
}
