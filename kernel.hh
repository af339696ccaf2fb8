// kernel.hh: the kernel's data structures (saved registers, processes) and
// the interface between the policy in kernel.cc and the hardware plumbing in
// k-hardware.cc and k-exception.S.
#ifndef WEENSYOS_KERNEL_HH
#define WEENSYOS_KERNEL_HH
#include "lib.hh"
#include "x86-64.h"

// Every way into the kernel (system call, exception, interrupt) saves the
// process's registers in this one layout. k-exception.S builds it by pushing,
// so the fields run from the last push (reg_rax) to the first (reg_ss), and
// the last five are exactly the frame `iretq` pops.
struct regstate {
    uint64_t reg_rax;
    uint64_t reg_rcx;
    uint64_t reg_rdx;
    uint64_t reg_rbx;
    uint64_t reg_rbp;
    uint64_t reg_rsi;
    uint64_t reg_rdi;
    uint64_t reg_r8;
    uint64_t reg_r9;
    uint64_t reg_r10;
    uint64_t reg_r11;
    uint64_t reg_r12;
    uint64_t reg_r13;
    uint64_t reg_r14;
    uint64_t reg_r15;
    uint64_t reg_intno;     // vector number, or INT_SYSCALL
    uint64_t reg_errcode;   // the processor's error code, or 0
    uint64_t reg_rip;       // ---- the interrupt frame ----
    uint64_t reg_cs;
    uint64_t reg_rflags;
    uint64_t reg_rsp;
    uint64_t reg_ss;
};

enum procstate_t {
    P_FREE = 0,     // slot unused
    P_RUNNABLE,     // may be scheduled
    P_EXITED,       // called sys_exit (or returned from process_main)
    P_BROKEN        // killed by the kernel for a fault or sys_panic
};

#define PROC_NAME_SIZE      24
#define PROC_REASON_SIZE    160

// Aligned to 16 bytes so that the end of `regs` is too: in 64-bit mode the
// processor aligns %rsp down to 16 before pushing an interrupt frame, so the
// frame lands exactly at the end of regs only if that end is aligned.
struct alignas(16) proc {
    // k-exception.S knows the offsets of the first four fields.
    x86_64_pagetable* pagetable;    // this process's page table
    int pid;                        // process ID (= slot number)
    procstate_t state;
    regstate regs;                  // registers saved at the last kernel entry

    char name[PROC_NAME_SIZE];      // program name, as in PROCS
    uint64_t arg;                   // PROCS "name:arg" argument (0 if none)
    uint64_t lives;                 // times this slot has (re)started
    uint64_t ticks;                 // timer ticks charged to it
    uint64_t syscalls;              // system calls it made
    char reason[PROC_REASON_SIZE];  // why it was killed (P_BROKEN)
};

#define NPROC (MAX_PROCS + 1)       // ptable[0] is never used
extern proc ptable[NPROC];
extern proc* current;               // the process running, or nullptr
extern x86_64_pagetable* kernel_pagetable;
extern uint64_t ticks;              // timer interrupts since boot

// Boot options: from QEMU's fw_cfg (see run-qemu), or defaults.
struct boot_options {
    char procs[128] = "alice eve";
    unsigned hz = 100;
    uint64_t ticks = 300;           // headless: power off after this many
    bool headless = false;
    unsigned respawn = 0;           // restarts allowed per killed process
};
extern boot_options bootopt;

// Entry points from k-exception.S.
extern "C" void kernel_start();
extern "C" void exception(regstate* regs);
extern "C" uint64_t syscall(regstate* regs);

// k-exception.S: return to process `p` (never returns).
extern "C" [[noreturn]] void return_to_process_iret(proc* p);
extern "C" [[noreturn]] void return_to_process_sysret(proc* p);
extern "C" void syscall_entry();
extern "C" char kernel_text_start[], kernel_text_end[];
extern "C" char kernel_rodata_start[], kernel_rodata_end[];
extern "C" char kernel_end[];

// ---- k-hardware.cc ----
void hardware_init();
void timer_init(unsigned hz);
void timer_restart();                   // a whole tick from now to the next
void lapic_eoi();
void set_kernel_stack_for(proc* p);     // where the next entry saves registers
void console_show_cursor();
int keyboard_poll();                    // -1 if no key; 'q', 3 (Ctrl-C), ...
[[noreturn]] void poweroff(int status);
uintptr_t lapic_page();                 // physical address of the local APIC
uintptr_t ioapic_page();                // and of the I/O APIC
void watchdog_init();                   // NMIs that `cli` cannot stop
void read_boot_options(boot_options& opt);
int disk_read(uint32_t sector, void* buf, size_t nsectors);

#define POWEROFF_NORMAL 0x10            // QEMU exits (0x10 << 1) | 1 = 33
#define POWEROFF_PANIC  0x11            // QEMU exits 35

// The log: QEMU's debug console (port 0xE9), to log.txt or the terminal.
void log_printf(const char* format, ...) __attribute__((format(printf, 1, 2)));
void log_vprintf(const char* format, va_list ap);

// Prints a panic message with a backtrace, then stops the machine.
[[noreturn]] void panic(const char* format, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void panic_at(const regstate* regs, const char* format, ...)
    __attribute__((format(printf, 2, 3)));
// kernel.cc: what happens after a panic message (summary, wait for 'q').
[[noreturn]] void panic_stop();

// ---- k-loader.cc ----
// Loads program `name` into process slot `p->pid`. Returns 0 or a negative
// error, having printed why.
int program_load(proc* p, const char* name);
void program_list(char* buf, size_t size);
// Names the kernel function containing `addr` (from the kernel's symbol
// table on the disk). Returns false if none.
bool kernel_symbol(uintptr_t addr, char* name, size_t size, uintptr_t* offset);

// ---- k-memory.cc ----
x86_64_pagetable* pagetable_alloc();
void pagetable_free(x86_64_pagetable* pt);
x86_64_pagetable* proc_pagetable_create();
void proc_pagetable_free(x86_64_pagetable* pt);
void kernel_pagetable_init();
bool user_range_ok(x86_64_pagetable* pt, uintptr_t addr, size_t len, bool write);
void integrity_record();
void memshow(bool on_console);          // prints the physical memory map to the log
void integrity_report(char* buf, size_t size);
#endif
