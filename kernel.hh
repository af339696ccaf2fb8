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
#define RESPAWN_LOGGED      3
struct respawn_state {
    uint64_t life_start;            // tick its latest life began
    uint64_t due;                   // killed, waiting: the tick it restarts at (else 0)
    uint64_t delay;                 // its wait if it dies soon again, in ticks
    uint64_t unlogged;              // kills since the log last counted them
    uint64_t counted_at;            // the tick the log last counted them
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
extern proc* current;               // the process running, or nullptr
extern x86_64_pagetable* kernel_pagetable;
extern uint64_t ticks;              // timer periods (1/HZ s) since boot

// Boot options: from QEMU's fw_cfg (see run-qemu), or defaults.
struct boot_options {
    char procs[128] = "alice eve";
    unsigned hz = 100;
    uint64_t ticks = 300;           // headless: power off after this many
    bool headless = false;
    unsigned respawn = 0;           // restarts allowed per killed process
    char view[16] = "";             // the screen's first view (k-screen.cc)
    bool ptswitch = false;          // the kernel's own page table on every entry
};
extern boot_options bootopt;

// kernel.cc
[[noreturn]] void schedule();           // runs the next runnable process
[[noreturn]] void run(proc* p);         // returns to process p
void process_kill(proc* p, const char* reason);
[[noreturn]] void processes_restart(const char* procs);   // a new program set
uint64_t kernel_page_perm(uintptr_t pa);    // a kernel page's permissions

// Entry points from k-exception.S.
extern "C" void kernel_start();
extern "C" void exception(regstate* regs);
extern "C" uint64_t syscall(regstate* regs);

// k-exception.S: return to process `p` (never returns).
extern "C" [[noreturn]] void return_to_process_iret(proc* p);
extern "C" [[noreturn]] void return_to_process_sysret(proc* p);
extern "C" void syscall_entry();
extern "C" void syscall_entry_ptswitch();   // PTSWITCH=1: switches %cr3 too
extern "C" bool ptswitch_on_entry;          // exception entries switch %cr3
extern "C" void syscall_entry_compat();     // k-quirks.cc
extern "C" char kernel_text_start[], kernel_text_end[];
extern "C" char kernel_rodata_start[], kernel_rodata_end[];
extern "C" char kernel_end[];

// ---- k-hardware.cc ----
void hardware_init();
void protections_init();                // NX, SMEP, SMAP, UMIP where available
extern bool smap_on;
void syscall_use_ptswitch();            // PTSWITCH=1: the switching entry
void timer_init(unsigned hz);
void timer_restart();                   // a whole tick from now to the next
extern uint64_t tsc_per_tick;           // time-stamp counter cycles per timer period
extern uint64_t tsc_per_ms;
void lapic_eoi();
void set_kernel_stack_for(proc* p);     // where the next entry saves registers
// Saves the processor's segment registers into *out (unless null), loads `in`.
void segments_switch(segstate* out, const segstate& in);
void console_show_cursor();
int keyboard_poll();                    // -1 if no key; 'q', 3 (Ctrl-C), ...
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

// kernel.cc: what happens after a panic message (summary, wait for 'q').
[[noreturn]] void panic_stop();

// ---- k-watchdog.cc: NMIs that `cli` cannot stop ----
uintptr_t ioapic_page();                // physical address of the I/O APIC
void watchdog_init(unsigned timer_hz);
void watchdog_stop();                   // after a panic: quiet from now on
void watchdog(regstate* regs, bool from_process);   // on every watchdog NMI
extern bool nmi_blocked;                // until the next iretq

// ---- k-quirks.cc: defenses against QEMU-only behaviour ----
bool entered_from_vm86(const regstate* regs);
void quirk_stop_vm86_escapee(regstate* regs);
uint64_t quirk_int_vector(const regstate* regs);

// ---- k-loader.cc ----
// Loads program `name` into process slot `p->pid`. Returns 0 or a negative
// error, having printed why.
int program_load(proc* p, const char* name);
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

// ---- k-respawn.cc: restarts that cannot starve the others ----
uint64_t respawn_delay(proc* p);        // at a kill: ticks to wait before its next life
bool respawn_log_each(proc* p);         // whether to log this kill or restart line by line
void respawn_started(proc* p);          // a new life began

// ---- k-screen.cc: the live screen (status panel, memory map, views) ----
void screen_init();                     // before the first process loads
void screen_tick();                     // on every timer tick: repaint when due
void screen_key(int key);               // v, the lecture keys 0-8
void memshow(bool on_console);          // prints the physical memory map to the log

// ---- k-memory.cc ----
x86_64_pagetable* pagetable_alloc();
void pagetable_free(x86_64_pagetable* pt);
x86_64_pagetable* proc_pagetable_create();
void proc_pagetable_free(x86_64_pagetable* pt);
void kernel_pagetable_init();
bool user_range_ok(x86_64_pagetable* pt, uintptr_t addr, size_t len, bool write);
// The one way the kernel touches process memory (k-memory.cc): copy or
// zero n bytes with SMAP's permission. Check with user_range_ok first:
// these check nothing.
void user_copy(void* dst, const void* src, size_t n);
void user_zero(void* dst, size_t n);
void integrity_record();
void integrity_report(char* buf, size_t size);
#endif
