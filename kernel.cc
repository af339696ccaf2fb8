// kernel.cc: the WeensyOS kernel's policy, in the order things happen:
// start the machine, load processes, handle exceptions and interrupts,
// schedule, handle system calls, run. The mechanisms it calls live in rooms
// of their own, each named in kernel.hh; the memory layout is drawn in
// lib.hh.
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

static proc* slots_end = &ptable[1];    // just past the last slot in use since boot
static int families;            // boot processes: each heads a family


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
// 64-bit segments at CPL 3, and of %rflags only those that bind it alone
// (FL_USER_MASK), with interrupts on. Every load and resume comes here.
static void set_user_mode(regstate& regs) {
    regs.reg_cs = SEGSEL_APP_CODE | 3;
    regs.reg_ss = SEGSEL_APP_DATA | 3;
    // Exercise 2 (processes at IOPL 0)
    regs.reg_rflags = (regs.reg_rflags & FL_USER_MASK) | FL_IF;
    // End of exercise 2
}

// Exercise 11 (overlapping address spaces)
// Every process has the same layout: code at PROC_START_ADDR, its stack
// below MEMSIZE_VIRTUAL. A heap may grow as far as memory allows, and up to
// MAX_PROCS processes fit at once.
uintptr_t user_memory_start(const proc* p) {
    return PROC_START_ADDR;
}
uintptr_t user_memory_end(const proc* p) {
    return MEMSIZE_VIRTUAL;
}
static const int process_slots = MAX_PROCS;
// End of exercise 11

// The physical page behind process p's new virtual page `va`.
uintptr_t process_page_alloc(proc* p, uintptr_t va) {
    // Exercise 10 (virtual page allocation)
    return kalloc(p->pid);              // any free page, anywhere
    // End of exercise 10
}

// Gives back process p's memory: each page it maps loses a user (a shared
// page stays with its others), then its page table's own pages go.
static void process_memory_free(proc* p) {
    user_pages_free(p->pagetable, user_memory_start(p), user_memory_end(p));
    proc_pagetable_free(p->pagetable);
    p->pagetable = nullptr;
}

// The page table process `p` runs on.
static x86_64_pagetable* process_pagetable(proc* p) {
    // Exercise 8 (a page table per process)
    return proc_pagetable_create();
    // End of exercise 8
}

// (Re)starts process `p` from its program: its page table, a fresh copy of
// the program, and %rdi = its PROCS argument, %rsi = its restarts so far
// (process_start, u-lib.cc). False, with p->reason, if it cannot load.
bool process_load(proc* p) {
    p->state = P_BROKEN;        // until it is loaded: never runnable without a page table
    p->pagetable = process_pagetable(p);
    if (!p->pagetable) {
        snprintf(p->reason, sizeof(p->reason), "cannot load '%s': out of page-table pages", p->name);
        log_printf("proc %d: %s\n", p->pid, p->reason);
        return false;
    }
    memset(&p->regs, 0, sizeof(p->regs));
    // Interrupts on from its first instruction, even where exercise 2's
    // starting code keeps the process's own IF.
    p->regs.reg_rflags = FL_IF;
    p->segs = {};               // null data segments, bases 0
    if (program_load(p, p->name) < 0) {
        process_memory_free(p);
        return false;
    }
    set_user_mode(p->regs);
    p->regs.reg_rdi = p->arg;
    p->regs.reg_rsi = p->lives;
    ++p->lives;
    p->reason[0] = '\0';
    p->state = P_RUNNABLE;
    respawn_started(p);
    return true;
}

// Loads the programs that `procs` names ("alice eve", or "name:arg ...")
// as pids 1, 2, ..., each the head of a family.
void processes_start(const char* procs) {
    families = 0;
    char name[PROC_NAME_SIZE];
    uint64_t arg;
    while (const char* rest = procs_next(procs, name, arg)) {
        if (families == process_slots) {
            log_printf("PROCS: more than %d programs (this kernel has %d process slots); "
                       "ignoring \"%s\"\n", process_slots, process_slots, procs);
            console_printf(CS_RED "PROCS: at most %d programs\n", process_slots);
            break;
        }
        procs = rest;
        proc* p = &ptable[++families];
        p->pid = p->family = families;
        memcpy(p->name, name, sizeof(p->name));
        p->arg = arg;
        if (process_load(p)) {
            log_printf("proc %d: %s loaded at 0x%lx\n", p->pid, p->name, user_memory_start(p));
        }
        slots_end = p + 1;
    }
}

// Ends process `p` (P_EXITED or P_BROKEN): it never runs again.
static void process_end(proc* p, procstate_t state) {
    if (p == on_cpu) {
        cpu_release();          // its CPU time stops here
    }
    p->state = state;
}

// Kills `p` for `reason`; the others go on. Its memory goes back while it
// is still on the CPU, charged to it like its system calls.
void process_kill(proc* p, const char* reason) {
    process_memory_free(p);
    process_end(p, P_BROKEN);
    process_killed(p, reason);  // the log; with RESPAWN=N, its restart (k-respawn.cc)
}


// ---- 3. Exceptions and interrupts ----
// k-exception.S saved every register (for a process, regs == &current->regs)
// and exception_entry (k-hardware.cc) took the watchdog's interrupt.

void exception(regstate* regs) {
    bool from_process = entered_from_process(regs);
    switch (regs->reg_intno) {
    case INT_TIMER: {
        lapic_eoi();
        // The clock, and once a tick has passed that tick's work, where a
        // key may restart every process or power off: then no return.
        uint64_t now = cpu_account();
        if (!from_process) {
            return;             // the idle loop was interrupted
        }
        if (slice_over(now)) {
            // Exercise 1 (timer preemption)
            schedule();         // preempt: the next gets the CPU; does not return
            // End of exercise 1
        }
        run(current);           // the rest of its slice; does not return
    }
    case INT_PF:
        // A write to a page fork shares: the writer gets a copy of its own.
        if (from_process && (regs->reg_errcode & PFERR_WRITE) && copy_on_write(current, rdcr2())) {
            run(current);       // the write again, on its own page; does not return
        }
        break;
    default:
        if (regs->reg_intno >= INT_IRQ) {
            // Spurious interrupts from the local APIC or the masked 8259s.
            if (from_process) {
                run(current);   // does not return
            }
            return;
        }
        break;
    }
    // A fault.
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


// ---- 4. Scheduling ----

// Exercise 15 (the fork bomb)
// A family (a boot process and its descendants) holds at most its share of
// the slots, and families take turns on the CPU, round robin inside each:
// forking more buys a family no more CPU.
static bool family_full(const proc* parent) {
    int members = 0;
    for (proc* p = &ptable[1]; p < slots_end; ++p) {
        members += p->state == P_RUNNABLE && p->family == parent->family;
    }
    return members >= max(1, process_slots / max(families, 1));
}

static proc* next_to_run() {
    static int last_of[NPROC];          // each family's member that ran last
    int family = current ? current->family : families;
    for (int i = 0; i != families; ++i) {
        family = family == families ? 1 : family + 1;   // the next family, around
        proc* const last = &ptable[last_of[family]];
        for (proc* p = last + 1; p < slots_end; ++p) {
            if (p->state == P_RUNNABLE && p->family == family) {
                last_of[family] = p->pid;
                return p;
            }
        }
        for (proc* p = &ptable[1]; p <= last && p < slots_end; ++p) {
            if (p->state == P_RUNNABLE && p->family == family) {
                last_of[family] = p->pid;
                return p;
            }
        }
    }
    return nullptr;
}
// End of exercise 15

// Runs the next runnable process. While none can, the processor idles until
// a killed one restarts (RESPAWN=N); with none to wait for, a run is over.
void schedule() {
    while (true) {
        if (proc* p = next_to_run()) {
            run(p);             // does not return
        }
        cpu_idle();             // returns once a process may have become runnable
    }
}


// ---- 5. System calls ----
// From syscall_entry, with regs == &current->regs. The arguments (%rdi, %rsi,
// ...) are the process's to choose: each is checked before use. A returned
// value resumes the process in %rax; calls that switch do not return.

static uint64_t syscall_getsysname(proc* p, uintptr_t buf) {
    // Exercise 5 (sys_getsysname checks its buffer)
    // The kernel may write anywhere; the process may not. Write only if the
    // process itself could write every byte.
    if (!user_range_ok(p->pagetable, buf, sizeof(SYSNAME), true)) {
        return -1;
    }
    // End of exercise 5
    return user_write(p, buf, SYSNAME, sizeof(SYSNAME)) ? 0 : -1;
}

static uint64_t syscall_page_alloc(proc* p, uintptr_t addr) {
    // Exercise 6 (sys_page_alloc checks its address)
    // Only a page-aligned address in the caller's own memory: never kernel
    // memory (below PROC_START_ADDR), never another process's.
    if (addr % PAGESIZE != 0 || addr < PROC_START_ADDR
        || addr < user_memory_start(p) || addr >= user_memory_end(p)) {
        return -1;
    }
    // End of exercise 6
    return user_page_fresh(p, addr) ? 0 : -1;
}

[[noreturn]] static void syscall_panic(proc* p, uintptr_t msg) {
    char why[PROC_REASON_SIZE];
    char text[101];             // at most 100 characters of the message
    if (user_string_read(p->pagetable, msg, text, sizeof(text))) {
        snprintf(why, sizeof(why), "sys_panic: %s", text);
    } else {
        snprintf(why, sizeof(why), "sys_panic (message at 0x%lx not readable)", msg);
    }
    // Exercise 7 (sys_panic kills only the caller)
    process_kill(p, why);
    schedule();                 // does not return
    // End of exercise 7
}

[[noreturn]] static void syscall_exit(proc* p) {
    log_printf("proc %d exited\n", p->pid);
    process_end(p, P_EXITED);
    // Exercise 14 (exit frees memory)
    process_memory_free(p);
    // End of exercise 14
    p->pagetable = nullptr;     // its slot is free for the next fork
    memory_audit_at("exit", p);         // AUDIT=1
    schedule();                 // does not return
}

// Exercise 16 (copy-on-write fork)
// A writable page is shared at fork too, read-only in both processes and
// marked PTE_COW, until either writes it: that write faults, and
// copy_on_write gives the writer a copy of its own (or, to the last user,
// the page itself, writable again).
static uintptr_t fork_writable_page(proc* child, uintptr_t va, uintptr_t pa, uint64_t& perm) {
    perm = (perm & ~PTE_W) | PTE_COW;
    page_share(pa);
    return pa;
}

bool copy_on_write(proc* p, uintptr_t addr) {
    uintptr_t va = round_down(addr, PAGESIZE);
    uintptr_t pa = cow_page(p->pagetable, va);
    if (pa == 0) {
        return false;
    }
    uintptr_t mine = page_users(pa) == 1 ? pa : process_page_alloc(p, va);
    if (mine == 0) {
        return false;           // no memory for the copy: the write faults
    }
    if (mine != pa) {
        page_copy(mine, pa);
        kfree(pa);
    }
    vmiter(p->pagetable, va).map(mine, PTE_PWU | PTE_NX);  // its entry exists
    return true;
}
// End of exercise 16

// Fork's helpers, which exercise 12 calls.

// The child's page for the parent's user page at `va` (physical `pa`,
// permissions `perm`), or 0 if no memory is left: address_space_copy
// (k-memory.cc) asks for each page the parent maps.
uintptr_t fork_page(void* ctx, uintptr_t va, uintptr_t pa, uint64_t& perm) {
    proc* child = static_cast<proc*>(ctx);
    // Exercise 13 (shared read-only memory)
    // Code and constants never change: parent and child use the same page.
    if (!(perm & PTE_W)) {
        page_share(pa);
        return pa;
    }
    // End of exercise 13
    return fork_writable_page(child, va, pa, perm);
}

// A free slot for a child of `parent`, or null: one that no process holds
// and no killed boot process waits in for its restart (k-respawn.cc).
proc* fork_slot(const proc* parent) {
    if (family_full(parent)) {
        return nullptr;
    }
    for (int pid = 1; pid <= process_slots; ++pid) {
        proc* p = &ptable[pid];
        if (p->state != P_RUNNABLE && !p->pagetable && !respawn_pending(p)) {
            p->pid = pid;
            return p;
        }
    }
    return nullptr;
}

// The child's bookkeeping, once its memory and registers are in place: it
// runs the parent's program, in the parent's family, from zero counters.
void process_forked(proc* child, const proc* parent) {
    memcpy(child->name, parent->name, sizeof(child->name));
    child->arg = parent->arg;
    child->parent = parent->pid;
    child->family = parent->family;
    child->lives = 1;
    child->cpu_time = child->syscalls = 0;
    child->reason[0] = '\0';
    child->respawn = {};        // a forked child is never restarted
    segments_switch(&child->segs, child->segs);    // the parent's, from the processor
    child->state = P_RUNNABLE;
    slots_end = max(slots_end, child + 1);
    log_printf("proc %d: forked from proc %d\n", child->pid, parent->pid);
    memory_audit_at("fork", child);     // AUDIT=1
}

static uint64_t syscall_fork(proc* parent) {
    // Exercise 12 (fork)
    // The child: a free slot, a page table of its own, a copy of the
    // parent's memory, the parent's registers but %rax = 0 (what fork
    // returns to it). On any failure, nothing is left behind.
    proc* child = fork_slot(parent);
    if (!child) {
        return -1;
    }
    child->pagetable = proc_pagetable_create();
    if (!child->pagetable) {
        return -1;
    }
    if (address_space_copy(child->pagetable, parent->pagetable, user_memory_start(parent),
                           user_memory_end(parent), fork_page, child) < 0) {
        process_memory_free(child);
        return -1;
    }
    child->regs = parent->regs;
    child->regs.reg_rax = 0;
    process_forked(child, parent);
    return child->pid;
    // End of exercise 12
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
    case SYSCALL_FORK:
        return syscall_fork(p);
    default:
        return -1;
    }
}


// ---- 6. Running a process ----

// Returns to process `p` with its saved registers, as set_user_mode() allows.
void run(proc* p) {
    if (p != on_cpu) {
        cpu_switch(p);              // p's page table, segments, slice (k-cpu.cc)
    }
    set_user_mode(p->regs);
    return_to_process(p);           // does not return (k-hardware.cc)
}
