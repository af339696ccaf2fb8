// kernel.cc: the WeensyOS kernel's policy, in the order things happen:
// start the machine, load processes, handle exceptions and interrupts,
// handle system calls, schedule, run. The machinery lives in rooms of its
// own, named in kernel.hh: hardware in k-hardware.cc, page tables in
// k-memory.cc, program loading in k-loader.cc, the clock and CPU time in
// k-cpu.cc, the keys in k-keys.cc, the screen in k-screen.cc, and the
// defenses against QEMU-only behaviour in k-quirks.cc.
//
// Physical memory (2 MB). On the lecture's kernels (before exercise 10)
// every process lives in a slot of its own, mapped one to one (virtual =
// physical); the problem set (exercises 10-16) gives every process the same
// virtual layout instead, on pages from anywhere (see lib.hh):
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
// The problem set's process, as its own page table sees it: below
// PROC_START_ADDR the kernel's mappings (kernel-only but the console);
// from PROC_START_ADDR its code, constants, data, then its heap upward;
// its stack in the page below MEMSIZE_VIRTUAL (0x300000).
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

static proc* slots_end = &ptable[1];    // just past the last slot ever used
static int families;            // boot processes: each heads a family
static int children;            // forked processes still running

static void processes_start(const char* procs);
static bool copy_on_write(proc* p, uintptr_t addr);    // exercise 16


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

// Gives back process p's memory: every page of its own memory (one user
// fewer each: a shared page stays with its other users) and, for a table
// of its own, the table's pages.
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
// the program, and the registers process_start (u-lib.cc) expects: %rdi =
// the PROCS argument, %rsi = how many times it was restarted. Returns false
// if it could not be loaded.
bool process_load(proc* p) {
    p->state = P_BROKEN;        // until it is loaded: never runnable without a page table
    p->pagetable = process_pagetable(p);
    if (!p->pagetable) {
        log_printf("proc %d: out of page-table pages\n", p->pid);
        snprintf(p->reason, sizeof(p->reason), "cannot load '%s': out of page-table pages", p->name);
        return false;
    }
    memset(&p->regs, 0, sizeof(p->regs));
    // Interrupts on from its first instruction. set_user_mode() sets IF
    // anyway, but exercise 2's starting code (the before-2 kernels) keeps
    // the process's own IF, which must start on.
    p->regs.reg_rflags = FL_IF;
    p->segs = initial_segments;
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
        if (pid > process_slots) {
            log_printf("PROCS: more than %d programs (this kernel has %d process slots); "
                       "ignoring \"%s\"\n", process_slots, process_slots, s);
            console_printf(CS_RED "PROCS: at most %d programs\n", process_slots);
            break;
        }
        proc* p = &ptable[pid];
        p->pid = pid;
        p->family = pid;
        families = pid;
        memcpy(p->name, s, min(len, sizeof(p->name) - 1));
        s += len;
        if (*s == ':') {
            p->arg = strtoul(s + 1, &s, 0);
        }
        while (*s && *s != ' ') {
            ++s;
        }
        if (process_load(p)) {
            log_printf("proc %d: %s loaded at 0x%lx\n", pid, p->name, user_memory_start(p));
        }
        slots_end = p + 1;
        ++pid;
    }
}

// Ends process `p`. Its CPU time stops here; the kernel's work of killing
// and restarting it is charged to it by process_kill.
static void process_end(proc* p, procstate_t state) {
    if (p == on_cpu) {
        cpu_release();
    }
    children -= p->parent != 0 && p->state == P_RUNNABLE;
    p->state = state;
}

// Ends process `p` and gives back its memory.
static void process_free(proc* p, procstate_t state) {
    process_end(p, state);
    process_memory_free(p);
}

// Kills `p` for `reason`. The others go on. With RESPAWN=N, a killed boot
// process is started again from its program, up to N times (a forked
// child is not: it has no program of its own to start from); one that
// dies again soon after it started waits first, longer each time
// (k-respawn.cc). Killing and restarting it is work the kernel does for
// it, charged to its CPU time like its system calls.
void process_kill(proc* p, const char* reason) {
    process_end(p, P_BROKEN);
    uint64_t since = cpu_work_begin();
    process_memory_free(p);     // giving its pages back is work for it too
    // Keep the reason printable before printing it: it may quote a
    // process's message, whose newlines would forge log lines.
    size_t i = 0;
    for (; reason[i] && i != sizeof(p->reason) - 1; ++i) {
        bool plain = reason[i] >= ' ' && reason[i] < 0x7F && reason[i] != '"';
        p->reason[i] = plain ? reason[i] : '?';
    }
    p->reason[i] = '\0';
    if (respawn_log_each(p)) {
        log_printf("proc %d killed: %s\n", p->pid, p->reason);
        console_printf(CS_RED "proc %d killed: %s\n", p->pid, p->reason);
    }
    if (p->parent == 0 && p->lives <= bootopt.respawn) {
        respawn_after_kill(p);  // at once, or after a wait (k-respawn.cc)
    }
    cpu_work_charge(p, since);
    memory_audit_at("kill", p);         // AUDIT=1
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
    respawns_waiting = 0;
    current = nullptr;
    slots_end = &ptable[1];
    families = children = 0;
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

    // A write to a page fork shares copy-on-write: the writer gets its own.
    if (intno == INT_PF && from_process && (regs->reg_errcode & PFERR_WRITE)
        && copy_on_write(current, rdcr2())) {
        run(current);           // the write again, on its own page; does not return
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
    // A page fork shares copy-on-write is the caller's to write: its own
    // copy first.
    copy_on_write(p, buf);
    copy_on_write(p, buf + sizeof(SYSNAME) - 1);
    // Exercise 5 (sys_getsysname checks its buffer)
    // The kernel may write anywhere; the process may not. Write only if the
    // process itself could write every byte.
    if (!user_range_ok(p->pagetable, buf, sizeof(SYSNAME), true)) {
        return -1;
    }
    // End of exercise 5
    user_write(p->pagetable, buf, SYSNAME, sizeof(SYSNAME));
    return 0;
}

__attribute__((noinline)) static uint64_t syscall_page_alloc(proc* p, uintptr_t addr) {
    // Exercise 6 (sys_page_alloc checks its address)
    // Only a page-aligned address in the caller's own memory: never kernel
    // memory (below PROC_START_ADDR), never another process's.
    if (addr % PAGESIZE != 0 || addr < PROC_START_ADDR
        || addr < user_memory_start(p) || addr >= user_memory_end(p)) {
        return -1;
    }
    // End of exercise 6
    // A fresh zeroed page, writable, never run (W^X). A writable page the
    // caller alone uses is as good as fresh once zeroed; any other it had
    // there loses a user, once the new one is in place: on failure,
    // nothing has changed.
    vmiter it(p->pagetable, addr);
    uintptr_t old = it.user() ? it.pa() : 0;
    if (old && it.writable() && page_users(old) == 1) {
        user_page_zero(p->pagetable, addr);
        return 0;
    }
    uintptr_t pa = process_page_alloc(p, addr);
    if (pa == 0) {
        return -1;
    }
    if (it.map(pa, PTE_PWU | PTE_NX) < 0) {
        kfree(pa);
        return -1;
    }
    if (old) {
        kfree(old);
    }
    return 0;
}

[[noreturn, gnu::noinline]] static void syscall_panic(proc* p, uintptr_t msg) {
    // Copy the message a byte at a time, checking each byte is the
    // process's to read; stop at NUL or after 100 characters.
    char text[101];
    size_t n = 0;
    while (n != sizeof(text) - 1 && user_range_ok(p->pagetable, msg + n, 1, false)) {
        user_read(p->pagetable, &text[n], msg + n, 1);
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

static bool copy_on_write(proc* p, uintptr_t addr) {
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

// The child's page for the parent's user page at `va` (physical `pa`,
// permissions `perm`): 0 if no memory is left. address_space_copy
// (k-memory.cc) asks for each page the parent maps. (Unused before
// exercise 12.)
[[maybe_unused]] static uintptr_t fork_page(void* ctx, uintptr_t va, uintptr_t pa, uint64_t& perm) {
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

[[maybe_unused]] static proc* fork_slot(const proc* parent);

// The child's bookkeeping, once its memory and registers are in place: it
// runs the parent's program, in the parent's family, from zero counters.
// (Unused before exercise 12, whose starting code forks nothing.)
[[maybe_unused]] static void process_forked(proc* child, const proc* parent) {
    memcpy(child->name, parent->name, sizeof(child->name));
    child->arg = parent->arg;
    child->parent = parent->pid;
    child->family = parent->family;
    child->lives = 1;
    child->cpu_time = child->syscalls = 0;
    child->reason[0] = '\0';
    child->respawn = {};        // a forked child is never restarted
    // The parent is on the CPU: its segment registers are the processor's
    // (this saves them into child->segs and, `in` being the same, loads
    // nothing).
    segments_switch(&child->segs, child->segs);
    child->state = P_RUNNABLE;
    ++children;
    slots_end = max(slots_end, child + 1);
    log_printf("proc %d: forked from proc %d\n", child->pid, parent->pid);
    memory_audit_at("fork", child);     // AUDIT=1
}

__attribute__((noinline)) static uint64_t syscall_fork(proc* parent) {
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


// ---- 5. Scheduling ----

// The next runnable process after `current`, round robin over the slots:
// two plain scans, since every yield runs them, and none past the last slot
// ever used (no process is ever there). Null if none can run.
static proc* round_robin() {
    proc* const after = current ? current + 1 : &ptable[1];
    for (proc* p = after; p < slots_end; ++p) {
        if (p->state == P_RUNNABLE) {
            return p;
        }
    }
    for (proc* p = &ptable[1]; p != after && p < slots_end; ++p) {
        if (p->state == P_RUNNABLE) {
            return p;
        }
    }
    return nullptr;
}

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
    if (children == 0) {
        return round_robin();   // each family its boot process alone: the same turns
    }
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

// A free slot for a child of `parent`, or null: one that no process holds
// and no killed boot process waits in for its restart (k-respawn.cc).
// (Unused before exercise 12, whose starting code forks nothing.)
[[maybe_unused]] static proc* fork_slot(const proc* parent) {
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

// Runs the next runnable process, once any killed process whose wait is
// over has restarted (k-respawn.cc). With none runnable but some waiting,
// idles until one restarts; with none at all, a headless run is over;
// otherwise wait (interrupts on) for 'q'.
void schedule() {
    if (respawns_waiting != 0) {
        respawn_due();
    }
    if (proc* p = next_to_run()) {
        run(p);                 // does not return
    }
    cpu_release();
    if (proc* p = respawn_idle()) {     // killed ones waiting: idle until one restarts
        run(p);                 // does not return
    }
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
