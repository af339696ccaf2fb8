// kernel.hh: the kernel's data structures (saved registers, processes) and
// the interface between the policy in kernel.cc and the hardware plumbing in
// k-hardware.cc and k-exception.S.
#ifndef WEENSYOS_KERNEL_HH
#define WEENSYOS_KERNEL_HH
#include "lib.hh"
#include "x86-64.h"

// Every way into the kernel (system call, exception, interrupt) saves the
// process's registers in this one layout, at these byte offsets (the
// assembly in k-exception.S uses them through obj/k-asm.h). k-exception.S
// builds it by pushing, so the fields run from the last push (reg_rax) to
// the first (reg_ss), and the last five are exactly the frame `iretq` pops.
struct regstate {
    uint64_t reg_rax;       // 0x00  system call number in, result out
    uint64_t reg_rcx;       // 0x08  (`syscall` puts the return %rip here)
    uint64_t reg_rdx;       // 0x10
    uint64_t reg_rbx;       // 0x18
    uint64_t reg_rbp;       // 0x20
    uint64_t reg_rsi;       // 0x28
    uint64_t reg_rdi;       // 0x30  first system call argument
    uint64_t reg_r8;        // 0x38
    uint64_t reg_r9;        // 0x40
    uint64_t reg_r10;       // 0x48
    uint64_t reg_r11;       // 0x50  (`syscall` puts the process's %rflags here)
    uint64_t reg_r12;       // 0x58
    uint64_t reg_r13;       // 0x60
    uint64_t reg_r14;       // 0x68
    uint64_t reg_r15;       // 0x70
    uint64_t reg_intno;     // 0x78  vector number, or INT_SYSCALL
    uint64_t reg_errcode;   // 0x80  the processor's error code, or 0
    uint64_t reg_rip;       // 0x88  ---- the interrupt frame ----
    uint64_t reg_cs;        // 0x90  low two bits: the privilege level it ran at
    uint64_t reg_rflags;    // 0x98
    uint64_t reg_rsp;       // 0xA0
    uint64_t reg_ss;        // 0xA8
};                          // 0xB0 bytes

// The rest of a process's registers: the data segment registers it may
// load (with `mov` or `pop`: the null selector or the user segments, at any
// RPL) and the %fs and %gs bases behind them. No entry saves them, since
// the kernel never uses them: they stay in the processor while the kernel
// runs, and run() saves the outgoing process's and loads the incoming one's
// only when another process gets the processor (k-hardware.cc).
struct segstate {
    uint16_t ds, es, fs, gs;
    uint64_t fs_base, gs_base;
};

enum procstate_t {
    P_FREE = 0,     // slot unused
    P_RUNNABLE,     // may be scheduled
    P_EXITED,       // called sys_exit (or returned from process_main)
    P_BROKEN        // killed by the kernel for a fault or sys_panic
};

#define PROC_NAME_SIZE      24
#define PROC_REASON_SIZE    160

// What restarting a process (RESPAWN) remembers between its lives
// (k-respawn.cc). The kills and restarts of its first RESPAWN_LOGGED lives
// are logged one by one; later ones are counted.
#define RESPAWN_LOGGED      64
struct respawn_state {
    uint64_t life_start;            // tick its latest life began
    uint64_t due;                   // killed, waiting: the tick it restarts at (else 0)
    uint64_t delay;                 // its wait if it dies soon again, in ticks
    uint64_t unlogged;              // kills since the log last counted them
    uint64_t counted_at;            // the tick the log last counted them
    bool retrying;                  // its last restart found no memory: tried again later
};

// Aligned to 16 bytes so that the end of `regs` is too: in 64-bit mode the
// processor aligns %rsp down to 16 before pushing an interrupt frame, so the
// frame lands exactly at the end of regs only if that end is aligned.
struct alignas(16) proc {
    // k-exception.S uses the offsets of `pagetable` and `regs`.
    x86_64_pagetable* pagetable;    // this process's page table
    int pid;                        // process ID (= slot number)
    procstate_t state;
    regstate regs;                  // registers saved at the last kernel entry
    segstate segs;                  // segment registers, saved when it leaves the CPU

    int parent;                     // the pid that forked it, 0 for a boot process
    int family;                     // its boot process's pid: fork bombs are per family
    char name[PROC_NAME_SIZE];      // program name, as in PROCS
    uint64_t arg;                   // PROCS "name:arg" argument (0 if none)
    uint64_t lives;                 // times this slot has (re)started
    uint64_t cpu_time;              // time-stamp counter cycles it ran, all lives;
                                    // kept current at every switch and timer tick
    uint64_t syscalls;              // system calls it made
    char reason[PROC_REASON_SIZE];  // why it was killed (P_BROKEN)
    respawn_state respawn;          // restarts, with RESPAWN (k-respawn.cc)
};

#define NPROC (MAX_PROCS + 1)       // ptable[0] is never used
extern proc ptable[NPROC];
extern x86_64_pagetable* kernel_pagetable;

// Who has the processor. Two names, for two questions:
// - `current` (kernel.cc): the process the kernel works for, or last
//   worked for. Its registers are what the next entry saves (the TSS
//   points just past current->regs), and the round robin starts after it.
//   Null only before the first process runs.
// - `on_cpu` (k-cpu.cc, which alone changes it): the process whose page
//   table and segment registers are loaded, charged for the processor's
//   time (cpu_switch(), cpu_release()). It is current,
//   except while the kernel kills or restarts current or has nothing to
//   run: then nobody, so that no process pays for that, and run() knows
//   to switch (load segments and page table) even to current itself.
extern proc* current;
extern proc* on_cpu;

// Boot options: from QEMU's fw_cfg (see run-qemu), or defaults.
struct boot_options {
    char procs[128] = "alice eve";
    unsigned hz = 100;
    uint64_t ticks = 300;           // headless: power off after this many
    bool headless = false;
    unsigned respawn = 0;           // restarts allowed per killed process
    bool audit = false;             // AUDIT=1: the memory audit at every fork, exit, kill
    char view[16] = "";             // the screen's first view (k-screen.cc)
    // PTSWITCH is not here: read_boot_options() sets `ptswitch` below.
};
extern boot_options bootopt;

// kernel.cc
[[noreturn]] void schedule();           // runs the next runnable process
// The virtual addresses of process p's own memory: its slot on the
// lecture's kernels, PROC_START_ADDR up to MEMSIZE_VIRTUAL on the problem
// set's (exercise 11).
uintptr_t user_memory_start(const proc* p);
uintptr_t user_memory_end(const proc* p);
// A fresh zeroed physical page for process p's virtual page `va` (exercise
// 10 decides where from), or 0 if none is left.
uintptr_t process_page_alloc(proc* p, uintptr_t va);
[[noreturn]] void run(proc* p);         // returns to process p
void process_kill(proc* p, const char* reason);
bool process_load(proc* p);             // (re)starts p from its program
void processes_start(const char* procs);    // loads PROCS as pids 1, 2, ...
uint64_t kernel_page_perm(uintptr_t pa);    // a kernel page's permissions
// Exercise 16: a write to a page fork shares, at `addr`, gets the writer a
// copy of its own. False if `addr` is on no such page (or no memory is left).
bool copy_on_write(proc* p, uintptr_t addr);
// Fork's helpers (exercise 12 calls them).
uintptr_t fork_page(void* child, uintptr_t va, uintptr_t pa, uint64_t& perm);
proc* fork_slot(const proc* parent);
void process_forked(proc* child, const proc* parent);

// ---- k-cpu.cc: the clock and CPU time ----
extern uint64_t ticks;                  // timer periods (1/HZ s) since boot
void clock_start();                     // tick 0 starts now
// Charges on_cpu its time up to now and brings the clock up to date;
// once a tick has passed, does the tick's work (keys, screen, the end of a
// headless run), which may not return. Returns the time-stamp counter.
uint64_t cpu_account();
void cpu_release();                     // the processor goes to no one
// Nothing can run: waits for the next tick (interrupts on) while a killed
// process waits for its restart; otherwise ends a headless run, or waits
// for the key q (and does not return).
void cpu_idle();
uint64_t cpu_work_begin();              // the kernel's work for one process starts...
void cpu_work_charge(proc* p, uint64_t since);  // ...and is charged to it
void cpu_switch(proc* p);               // p becomes current and on_cpu; its slice starts
bool slice_over(uint64_t now);          // on_cpu has had a whole slice

// Entry points from k-exception.S.
extern "C" void kernel_start();
extern "C" void exception_entry(regstate* regs);    // k-hardware.cc: to exception()
extern "C" void exception(regstate* regs);
extern "C" uint64_t syscall(regstate* regs);

// k-exception.S: return to process `p` (never returns).
extern "C" [[noreturn]] void return_to_process_iret(proc* p);
extern "C" [[noreturn]] void return_to_process_sysret(proc* p);
extern "C" void syscall_entry();
extern "C" void syscall_entry_compat();     // k-quirks.cc
// PTSWITCH=1 (a boot option, for the lecture's measurement): every entry
// from a process loads kernel_pagetable and every exit loads the
// process's table again. Set by read_boot_options(); k-exception.S's
// PTSWITCH_TO_KERNEL and PTSWITCH_TO_PROCESS are its whole mechanism.
extern "C" bool ptswitch;
extern "C" char kernel_text_start[], kernel_text_end[];
extern "C" char kernel_rodata_start[], kernel_rodata_end[];
extern "C" char kernel_end[];

// ---- k-hardware.cc ----
void hardware_init();
void protections_init();                // NX, SMEP, SMAP, UMIP where available
extern bool smap_on;
void timer_init(unsigned hz);
void timer_restart();                   // a whole tick from now to the next
extern uint64_t tsc_per_tick;           // time-stamp counter cycles per timer period
extern uint64_t tsc_per_ms;
void lapic_eoi();
void set_kernel_stack_for(proc* p);     // where the next entry saves registers
// Describes the fault in `regs` for a kill reason or a panic: its name and
// what the processor said (the address of a page fault, a selector, ...).
void describe_fault(const regstate* regs, char* buf, size_t size);
// Saves the processor's segment registers into *out (unless null), loads `in`.
void segments_switch(segstate* out, const segstate& in);
void console_show_cursor();
int keyboard_poll();                    // -1 if no key; 'q', KEY_CONTROL_C, ...
#define KEY_CONTROL_C   3               // what keyboard_poll() returns for Control-C
[[noreturn]] void poweroff(int status);
uintptr_t lapic_page();                 // physical address of the local APIC
uint32_t lapic_id();
void read_boot_options(boot_options& opt);
int disk_read(uint32_t sector, void* buf, size_t nsectors);

#define POWEROFF_NORMAL 0x10            // QEMU exits (0x10 << 1) | 1 = 33
#define POWEROFF_PANIC  0x11            // QEMU exits 35

// The log: QEMU's debug console (port 0xE9), to log.txt or the terminal.
void log_printf(const char* format, ...) __attribute__((format(printf, 1, 2)));
void log_vprintf(const char* format, va_list ap);

// ---- k-summary.cc: the end of a run ----
// A headless run prints the summary (README, "Headless runs") and powers
// off with `status`; after a panic message on screen, waits for q.
[[noreturn]] void finish(int status);
[[noreturn]] void panic_stop();
const char* proc_state_name(procstate_t state);    // "runnable", as the summary says

// ---- k-keys.cc: the keyboard's commands, from one table ----
void keys_poll();                       // once a tick: runs the key's command
bool key_quits(int key);                // q or Control-C
void keys_help(char* buf, size_t size); // the help row's text

// ---- k-watchdog.cc: NMIs that `cli` cannot stop ----
uintptr_t ioapic_page();                // physical address of the I/O APIC
void watchdog_init(unsigned timer_hz);
void watchdog_stop();                   // after a panic: quiet from now on
void watchdog(regstate* regs, bool from_process);   // on every watchdog NMI
void watchdog_disk(bool reading);       // disk_read goes on (true) or is done
#define INT_WATCHDOG    INT_NMI         // the vector the watchdog's ticks arrive on
extern bool nmi_blocked;                // until the next iretq

// Returns to process `p` with the registers in p->regs (k-exception.S).
// `sysretq` is the quicker way back, but only for a process that came in
// through `syscall` (it restores %rip from %rcx and %rflags from %r11,
// which `syscall` destroyed), and not while the processor blocks NMIs
// after the watchdog's: only `iretq` unblocks them (k-watchdog.cc).
[[noreturn]] inline void return_to_process(proc* p) {
    if (p->regs.reg_intno == INT_SYSCALL && !nmi_blocked) {
        return_to_process_sysret(p);
    }
    nmi_blocked = false;
    return_to_process_iret(p);
}


// ---- k-quirks.cc: defenses against QEMU-only behaviour ----
bool entered_from_process(const regstate* regs);    // not the kernel itself
bool entered_from_vm86(const regstate* regs);
void quirk_stop_vm86_escapee(regstate* regs);
uint64_t quirk_int_vector(const regstate* regs);

// ---- k-loader.cc ----
// Loads program `name` into process p's own memory, on pages from
// process_page_alloc. Returns 0, or -1 with why in p->reason (and logged).
int program_load(proc* p, const char* name);
// The next program a PROCS string names, and its argument; returns the rest
// of the string, or null when none is left.
const char* procs_next(const char* s, char (&name)[PROC_NAME_SIZE], uint64_t& arg);
void program_list(char* buf, size_t size);
bool kernel_image_read(uint64_t offset, void* dst, size_t size);

// ---- k-panic.cc ----
// Prints a panic message with a backtrace, then stops the machine.
[[noreturn]] void panic(const char* format, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void panic_at(const regstate* regs, const char* format, ...)
    __attribute__((format(printf, 2, 3)));
// Names the kernel function containing `addr` (from the kernel's symbol
// table on the disk). Returns false if none.
bool kernel_symbol(uintptr_t addr, char* name, size_t size, uintptr_t* offset);

// ---- k-slots.cc: the lecture's slot layout (exercises 8 and 10's starting code) ----
uintptr_t page_at_same_address(uintptr_t va, int owner);   // its slot's page, identity-mapped
int slot_owner(uintptr_t va);           // the pid whose slot holds va, or 0

// ---- k-respawn.cc: restarts that cannot starve the others ----
extern int respawns_waiting;            // killed processes waiting for their next life
// After a kill (its memory freed): records and logs `reason`, printable,
// and with RESPAWN=N restarts p now or after its wait.
void process_killed(proc* p, const char* reason);
void respawn_due();                     // restarts those whose wait is over (each tick)
void respawn_started(proc* p);          // a new life began (process_load)
// Replaces every process with the programs in `procs`, as if the machine
// had booted with them (the program-set keys).
[[noreturn]] void processes_restart(const char* procs);
bool respawn_pending(const proc* p);    // killed, its slot kept for its next life

// ---- k-screen.cc: the live screen (status panel, memory map, views) ----
void screen_init();                     // before the first process loads
void screen_tick();                     // on every timer tick: repaint when due
void screen_next_view();                // v: physical map, each process, console
[[noreturn]] void screen_restart(int key, const char* procs);  // a program-set key
void memshow(bool on_console);          // prints the physical memory map to the log

// ---- k-memory.cc: physical pages and page tables ----
// Physical memory is the kernel's to reach through a kernel-only direct
// map at KERNEL_DIRECT_MAP (in every table), since a process's table maps
// its own pages at its own addresses. A page table pointer
// (x86_64_pagetable*) is a physical address, as %cr3 holds it.
#define KERNEL_DIRECT_MAP   0xC0000000UL
// A bit the processor leaves to software (bit 9, "available"): a writable
// page that fork shares read-only until its first write (copy-on-write,
// exercise 16).
#define PTE_COW             0x200UL
extern uintptr_t direct_map_base;       // 0 until the kernel's table is loaded
template <typename T = void> inline T* pa2kva(uintptr_t pa) {
    return reinterpret_cast<T*>(pa + direct_map_base);
}
inline x86_64_pagetable* pagetable_kva(const x86_64_pagetable* pt) {
    return pa2kva<x86_64_pagetable>(reinterpret_cast<uintptr_t>(pt));
}

// The page allocator: every free page of the machine, each with a count
// of its users (page tables naming it). `owner` is the pid it is for (0:
// the kernel), so that a leak can be named.
uintptr_t kalloc(int owner = 0);        // a zeroed page, or 0 if none is left
void kfree(uintptr_t pa);               // one user fewer: free at the last
void page_share(uintptr_t pa);          // one user more (fork's shared pages)
unsigned page_users(uintptr_t pa);
bool page_claim(uintptr_t pa, int owner);   // that very page, if it is free
bool page_is_memory(uintptr_t pa);      // the allocator's (not kernel, console, ...)
void page_copy(uintptr_t dst, uintptr_t src);   // 4 KiB, 32 bytes a turn
bool page_owned_by(uintptr_t pa, int pid);  // kalloc'd for pid
int page_allocated_for(uintptr_t pa);    // the pid a used page was kalloc'd for
// Free pages promised to copy-on-write copies (commit accounting: fork
// reserves one for every copy a first write may need; k-memory.cc).
unsigned pages_reserved();
// What a page that is not the allocator's holds ("kernel", "console",
// ...), or null if it is the allocator's.
const char* page_role(uintptr_t pa);

x86_64_pagetable* pagetable_alloc();
void pagetable_free(x86_64_pagetable* pt);
// Visits every page-table page of `pt`'s tree, children before parents.
void pagetable_pages(x86_64_pagetable* pt, void (*visit)(x86_64_pagetable*, void*), void* arg);
x86_64_pagetable* proc_pagetable_create();
void proc_pagetable_free(x86_64_pagetable* pt);
void kernel_pagetable_init();
// Calls visit(va, pte, arg) for every present last-level entry of `pt`
// whose page lies in [lo, hi), looking only at the tables that exist;
// stops when visit returns false.
void pagetable_entries(x86_64_pagetable* pt, uintptr_t lo, uintptr_t hi,
                       bool (*visit)(uintptr_t va, x86_64_pageentry_t& pte, void* arg), void* arg);
// Unmaps every user page `pt` maps in [lo, hi), one user fewer each.
void user_pages_free(x86_64_pagetable* pt, uintptr_t lo, uintptr_t hi);
// How many user pages `pt` maps in [lo, hi).
unsigned user_page_count(x86_64_pagetable* pt, uintptr_t lo, uintptr_t hi);
// Maps into `child` a page for every user page `parent` maps in [lo, hi),
// visiting only the entries that exist: page_for(ctx, va, pa, perm) gives
// the child's page (and may change its permissions: a writable page it
// makes read-only is made so in the parent too), 0 if out of memory.
// Returns 0, or -1 with the pages mapped so far still in `child`.
typedef uintptr_t (*fork_page_fn)(void* ctx, uintptr_t va, uintptr_t pa, uint64_t& perm);
int address_space_copy(x86_64_pagetable* child, x86_64_pagetable* parent, uintptr_t lo,
                       uintptr_t hi, fork_page_fn page_for, void* ctx);
// The physical page `pt` maps at `va` if it is a copy-on-write page, else 0.
uintptr_t cow_page(x86_64_pagetable* pt, uintptr_t va);
bool user_range_ok(x86_64_pagetable* pt, uintptr_t addr, size_t len, bool write);
// The one way the kernel touches process memory (k-memory.cc): copy or
// zero n bytes with SMAP's permission. Check with user_range_ok first:
// these check nothing.
void user_copy(void* dst, const void* src, size_t n);
void user_zero(void* dst, size_t n);
// Copies between kernel memory and process memory as `pt` maps it, through
// the direct map, whatever table the processor is on. Check first.
void user_read(x86_64_pagetable* pt, void* dst, uintptr_t va, size_t n);
// The kernel's writes for process p into its own memory: a page that fork
// shares becomes p's own first (copy_on_write). False, writing nothing, if
// no memory is left for such a copy.
bool user_write(proc* p, uintptr_t va, const void* src, size_t n);
// Reads the NUL-terminated string at `va` into buf, a byte at a time while
// each is p's to read, cut to size - 1. False if not even its first byte is.
bool user_string_read(x86_64_pagetable* pt, uintptr_t va, char* buf, size_t size);
// A fresh zeroed page at p's page `va` (sys_page_alloc), replacing what was
// there; false, changing nothing, if no memory is left.
bool user_page_fresh(proc* p, uintptr_t va);
void pagetable_write(x86_64_pagetable* pt, uintptr_t va, const void* src, size_t n);
// ---- k-audit.cc: the integrity check and the memory audit ----
// Pages: free, used, shared (more than one user), leaked (used, in no
// table), reserved (free, but promised to copy-on-write copies); and the
// audit: "ok", or the first discrepancy, by page and pid.
struct memory_stats {
    unsigned free, used, shared, leaked, reserved;
};
memory_stats memory_count();
// For the map: each physical page's user, a pid (1..15), or one of these.
#define PAGE_FREE_OR_OTHER  (-1)    // free, or not the allocator's
#define PAGE_SHARED         (-2)    // several users
#define PAGE_LEAKED         (-3)    // used, named by no table
#define PAGE_TABLE_OF       100     // + pid (0: the kernel's): a page-table page
void memory_map_owners(int* page_owner);
// AUDIT=1: audits memory at an event (fork, exit, kill) of process p, and
// panics at the first disagreement, naming the page and the pid.
void memory_audit_at(const char* event, const proc* p);
void integrity_record();
#define INTEGRITY_REPORT_SIZE 240       // "text=... pagetables=... memory=..."
void integrity_report(char* buf, size_t size);
#endif
