// k-hardware.cc: hardware plumbing that kernel.cc relies on but students
// rarely change: segment and interrupt descriptor tables, the task state
// segment, `syscall` MSRs, the local APIC timer, the keyboard, the CGA
// cursor, the debug log, QEMU's boot options, the disk and power-off.
#include "kernel.hh"
#include "k-ata.hh"
#include "k-vmiter.hh"

// ---- Segments and the task state segment ----

static uint64_t gdt[7];                 // null, 4 segments, 16-byte TSS
extern "C" { x86_64_taskstate kernel_tss; }
static uint8_t double_fault_stack[4096] __attribute__((aligned(16)));
static uint8_t nmi_stack[4096] __attribute__((aligned(16)));

static void segments_init() {
    const uint64_t code = X86SEG_P | X86SEG_S | X86SEG_EXECUTE | X86SEG_READABLE | X86SEG_L;
    // Data segments are "big" (D/B set), as the %ss that `sysretq` loads
    // is: a process's %ss then has the same hidden attributes whether the
    // kernel last returned to it with `sysretq` or with `iretq`, so an
    // interrupt changes nothing a process can observe. (QEMU's 32-bit
    // `iretl` uses the bit to size the stack pointer: p-eve-v86*.cc.)
    // QUIRK: vm86
    const uint64_t data = X86SEG_P | X86SEG_S | X86SEG_WRITABLE | X86SEG_DB | X86SEG_G
        | X86SEG_LIMIT_MAX;
    gdt[SEGSEL_KERN_CODE / 8] = code | X86SEG_DPL(0);
    gdt[SEGSEL_KERN_DATA / 8] = data | X86SEG_DPL(0);
    gdt[SEGSEL_APP_DATA / 8] = data | X86SEG_DPL(3);
    gdt[SEGSEL_APP_CODE / 8] = code | X86SEG_DPL(3);

    // The TSS: the kernel stack for interrupts from CPL 3 is set per
    // process (set_kernel_stack_for); a double fault gets a stack of its
    // own (IST 1), so that even a kernel stack overflow reports cleanly, and
    // so does the watchdog's NMI (IST 2), which can arrive at any
    // instruction, even in syscall_entry before it has a stack.
    memset(&kernel_tss, 0, sizeof(kernel_tss));
    kernel_tss.rsp[0] = KERNEL_STACK_TOP;
    kernel_tss.ist[0] = reinterpret_cast<uintptr_t>(double_fault_stack + sizeof(double_fault_stack));
    kernel_tss.ist[1] = reinterpret_cast<uintptr_t>(nmi_stack + sizeof(nmi_stack));
    kernel_tss.iomap_base = sizeof(kernel_tss);     // no I/O bitmap: all ports denied
    uint64_t base = reinterpret_cast<uintptr_t>(&kernel_tss);
    uint64_t limit = sizeof(kernel_tss) - 1;
    gdt[SEGSEL_TASKSTATE / 8] = X86SEG_P | X86SEG_TSS | limit
        | ((base & 0xFFFFFF) << 16) | ((base >> 24 & 0xFF) << 56);
    gdt[SEGSEL_TASKSTATE / 8 + 1] = base >> 32;

    x86_64_pseudodescriptor gdtr = {sizeof(gdt) - 1, reinterpret_cast<uintptr_t>(gdt)};
    // No local descriptor table: LDTR gets the null selector. Left as the
    // processor comes out of reset (base 0, limit 0xFFFF), it would make
    // the kernel-only bytes at 0-0xFFFF a descriptor table for any
    // selector with bit 2 set: a process could read them with `lar` and
    // `lsl`, have the processor set "accessed" bits there by loading a
    // segment register, or far-jump through whatever looks like a gate or
    // code segment (p-eve-ldt.cc). Null, every such selector faults.
    asm volatile("lgdt %0\n\t"
                 // reload %cs with a far return, then the data segments
                 "pushq %1\n\t"
                 "leaq 1f(%%rip), %%rax\n\t"
                 "pushq %%rax\n\t"
                 "lretq\n"
                 "1:\tmovw %w2, %%ds\n\t"
                 "movw %w2, %%es\n\t"
                 "movw %w2, %%ss\n\t"
                 "movw %w3, %%fs\n\t"
                 "movw %w3, %%gs\n\t"
                 "lldt %w3\n\t"
                 "ltr %w4"
                 : : "m" (gdtr), "i" (SEGSEL_KERN_CODE), "r" (SEGSEL_KERN_DATA),
                     "r" (0), "r" (SEGSEL_TASKSTATE)
                 : "rax", "memory");
}

void set_kernel_stack_for(proc* p) {
    kernel_tss.rsp[0] = reinterpret_cast<uintptr_t>(&p->regs + 1);
}

// A process's data segment registers. At CPL 3 in 64-bit mode it can load
// only the null selector or the user segments (any RPL), and their bases
// are 0; but a process that escaped into virtual-8086 mode under QEMU
// (k-quirks.cc) leaves real-mode values behind, selectors that name no
// descriptor and bases anywhere below 1.1 MB. Loading such a selector would
// fault in the kernel, so anything else becomes the null selector; a base
// is restored only if canonical (`wrmsr` would fault otherwise).
// QUIRK: vm86
static uint16_t user_selector(uint16_t sel) {
    uint16_t index = sel & ~3;
    return index == SEGSEL_APP_DATA || index == SEGSEL_APP_CODE ? sel : 0;
}

// Saves the processor's segment registers into `*out`, for the process
// leaving the CPU (null if none: one killed or exited, whose values no
// longer matter), and loads `in` for the one getting it, validated. The
// loads are skipped when they would change nothing, the usual case (all
// null, bases 0); without `out` the processor's values are unknown (they
// may be a killed escapee's) and are always replaced.
void segments_switch(segstate* out, const segstate& in) {
    segstate now;
    if (out) {
        asm volatile("movw %%ds, %0\n\t"
                     "movw %%es, %1\n\t"
                     "movw %%fs, %2\n\t"
                     "movw %%gs, %3"
                     : "=m" (now.ds), "=m" (now.es), "=m" (now.fs), "=m" (now.gs));
        now.fs_base = rdmsr(MSR_IA32_FS_BASE);
        now.gs_base = rdmsr(MSR_IA32_GS_BASE);
        *out = now;
        if (now.ds == in.ds && now.es == in.es && now.fs == in.fs && now.gs == in.gs
            && now.fs_base == in.fs_base && now.gs_base == in.gs_base) {
            return;
        }
    }
    // Selectors first: loading %fs or %gs also sets its base (from the
    // descriptor, 0), which the MSR writes then replace.
    asm volatile("movw %w0, %%ds\n\t"
                 "movw %w1, %%es\n\t"
                 "movw %w2, %%fs\n\t"
                 "movw %w3, %%gs"
                 : : "r" (user_selector(in.ds)), "r" (user_selector(in.es)),
                     "r" (user_selector(in.fs)), "r" (user_selector(in.gs)));
    wrmsr(MSR_IA32_FS_BASE, is_canonical(in.fs_base) ? in.fs_base : 0);
    wrmsr(MSR_IA32_GS_BASE, is_canonical(in.gs_base) ? in.gs_base : 0);
}

// ---- Interrupt descriptor table ----

extern "C" const uint64_t exception_entry_table[256];
static x86_64_gatedescriptor idt[256];

static void set_gate(int vector, int dpl, int ist) {
    uint64_t addr = exception_entry_table[vector];
    idt[vector].gd_low = (addr & 0xFFFF) | (SEGSEL_KERN_CODE << 16)
        | ((uint64_t) ist << 32) | X86GATE_INTERRUPT << 32
        | ((uint64_t) dpl << 45) | (1UL << 47) | ((addr >> 16) << 48);
    idt[vector].gd_high = addr >> 32;
}

static void idt_init() {
    // Every gate is an interrupt gate (IF cleared on entry) with DPL 0, so
    // a process's `int $N` raises a general protection fault instead of
    // pretending to be hardware. The one exception is `int3`, which
    // debuggers place in code: it may be used from CPL 3.
    for (int v = 0; v != 256; ++v) {
        set_gate(v, v == INT_BP ? 3 : 0, v == INT_DF ? 1 : (v == INT_NMI ? 2 : 0));
    }
    x86_64_pseudodescriptor idtr = {sizeof(idt) - 1, reinterpret_cast<uintptr_t>(idt)};
    asm volatile("lidt %0" : : "m" (idtr));
}

// Every interrupt and exception comes here from k-exception.S. One that
// arrived on a stack of its own (IST: the watchdog's NMI, a double fault)
// while a process ran is copied into current->regs, where exception()
// expects a process's registers; the watchdog's goes to watchdog().
extern "C" void exception_entry(regstate* regs) {
    bool from_process = entered_from_process(regs);
    if (from_process && regs != &current->regs) {
        current->regs = *regs;
        regs = &current->regs;
    }
    if (regs->reg_intno == INT_WATCHDOG) {
        watchdog(regs, from_process);   // k-watchdog.cc
        return;
    }
    exception(regs);
}


// ---- System call MSRs ----

static void syscall_init() {
    wrmsr(MSR_IA32_EFER, rdmsr(MSR_IA32_EFER) | EFER_SCE);
    // STAR[47:32]: %cs for `syscall` (%ss = +8); STAR[63:48] + 16 and + 8:
    // %cs and %ss for `sysretq` (RPL 3 is added by the processor).
    wrmsr(MSR_IA32_STAR, (uint64_t) SEGSEL_KERN_CODE << 32
          | (uint64_t) (SEGSEL_APP_DATA - 8) << 48);
    wrmsr(MSR_IA32_LSTAR, reinterpret_cast<uintptr_t>(syscall_entry));
    // WeensyOS has no 32-bit user code segment, so no process should reach
    // compatibility mode; but one that escapes into virtual-8086 mode under
    // QEMU's emulator executes `syscall` there through CSTAR (k-quirks.cc).
    // Left 0, that would run the kernel at address 0.
    // QUIRK: vm86
    wrmsr(MSR_IA32_CSTAR, reinterpret_cast<uintptr_t>(syscall_entry_compat));
    // Cleared on entry: interrupts stay off in the kernel, no single-step
    // trap in kernel code, string instructions run forward, no alignment
    // checks, no I/O privilege, and (for that same escapee) no
    // virtual-8086 mode.
    // QUIRK: vm86
    wrmsr(MSR_IA32_FMASK, FL_IF | FL_TF | FL_DF | FL_AC | FL_NT | FL_IOPL_MASK | FL_VM);
}


// ---- Exceptions: what the processor said ----

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

// Describes the fault in `regs`: its name, and what the processor said.
void describe_fault(const regstate* regs, char* buf, size_t size) {
    const char* name = exception_names[regs->reg_intno & 31];
    uint64_t err = regs->reg_errcode;
    if (regs->reg_intno == INT_PF) {
        const char* access = err & PFERR_FETCH ? "instruction fetch from"
            : (err & PFERR_WRITE ? "write to" : "read from");
        snprintf(buf, size, "page fault: %s 0x%lx (%s), rip=0x%lx", access, rdcr2(),
                 err & PFERR_PRESENT ? "protection violation" : "page not present",
                 regs->reg_rip);
    } else if (err != 0 && (err & SELERR_IDT)) {
        // The error code names an IDT entry: an `int $N` at a closed gate.
        // QUIRK: int-vector
        uint64_t vector = quirk_int_vector(regs);
        snprintf(buf, size, "%s (int $%lu: IDT vector %lu is not open to processes), rip=0x%lx",
                 name, vector, vector, regs->reg_rip);
    } else if (err != 0) {
        // Bits 0-1 are flags (SELERR_EXT, SELERR_IDT); bit 2 says LDT, which
        // is part of the selector: 0xc is not the kernel's code segment 0x8.
        snprintf(buf, size, "%s (selector 0x%lx), rip=0x%lx", name, err & ~SELERR_FLAGS,
                 regs->reg_rip);
    } else {
        snprintf(buf, size, "%s, rip=0x%lx", name, regs->reg_rip);
    }
}


// ---- Interrupt controllers and the timer ----

// The legacy 8259 PICs come out of the BIOS delivering to vectors 8-15,
// which are exception vectors. Move them to 48-63 and mask every line: the
// kernel uses the local APIC instead.
#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1
static void pic_disable() {
    outb(PIC1_CMD, 0x11);       // ICW1: initialize, expect ICW4
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, 48);        // ICW2: vector base
    outb(PIC2_DATA, 56);
    outb(PIC1_DATA, 4);         // ICW3: cascade on line 2
    outb(PIC2_DATA, 2);
    outb(PIC1_DATA, 1);         // ICW4: 8086 mode
    outb(PIC2_DATA, 1);
    outb(PIC1_DATA, 0xFF);      // mask all
    outb(PIC2_DATA, 0xFF);
}

// Local APIC registers (SDM vol. 3, 10.4), memory-mapped at lapic_base.
#define LAPIC_BASE_DEFAULT  0xFEE00000UL
#define LAPIC_EOI           0x0B0
#define LAPIC_SVR           0x0F0   // spurious vector; bit 8 enables
#define LAPIC_LVT_TIMER     0x320
#define LAPIC_LVT_LINT0     0x350
#define LAPIC_LVT_LINT1     0x360
#define LAPIC_LVT_ERROR     0x370
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE  0x3E0
#define LAPIC_LVT_MASKED    0x10000
#define LAPIC_TIMER_PERIODIC 0x20000
#define LAPIC_DIVIDE_1      0xB

static uintptr_t lapic_base = LAPIC_BASE_DEFAULT;
uint64_t tsc_per_tick;
uint64_t tsc_per_ms;
static uint32_t timer_count;            // local APIC timer counts per tick
static volatile uint32_t& lapic_reg(unsigned offset) {
    return *reinterpret_cast<volatile uint32_t*>(lapic_base + offset);
}

void lapic_eoi() {
    lapic_reg(LAPIC_EOI) = 0;
}

// The PIT (8254) runs at a known 1.193182 MHz; its channel 2 can be gated
// and polled through port 0x61 without interrupts. Used once, to learn how
// fast the local APIC timer and the time-stamp counter count on this
// machine (under QEMU's -icount both follow guest instructions).
static uint32_t lapic_timer_hz(uint64_t& tsc_hz) {
    const unsigned calib_hz = 100;      // measure for 1/100 s
    const unsigned count = PIT_HZ / calib_hz;
    outb(PORT_B, (inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_GATE2);
    outb(PIT_COMMAND, PIT_SELECT(2) | PIT_LOHI | PIT_MODE0);
    outb(PIT_CHANNEL2, count & 0xFF);
    outb(PIT_CHANNEL2, count >> 8);
    lapic_reg(LAPIC_TIMER_DIVIDE) = LAPIC_DIVIDE_1;
    lapic_reg(LAPIC_LVT_TIMER) = LAPIC_LVT_MASKED;
    uint8_t gate = inb(PORT_B) & ~PORT_B_GATE2;
    outb(PORT_B, gate);                 // restart the count: gate low,
    outb(PORT_B, gate | PORT_B_GATE2);  // then high
    lapic_reg(LAPIC_TIMER_INITIAL) = 0xFFFFFFFF;
    uint64_t tsc_start = rdtsc();
    while (!(inb(PORT_B) & PORT_B_OUT2)) {  // high at terminal count
        pause();
    }
    uint32_t elapsed = 0xFFFFFFFF - lapic_reg(LAPIC_TIMER_CURRENT);
    tsc_hz = (rdtsc() - tsc_start) * calib_hz;
    lapic_reg(LAPIC_TIMER_INITIAL) = 0;
    return elapsed * calib_hz;
}

void timer_init(unsigned hz) {
    lapic_reg(LAPIC_SVR) = 0x100 | INT_SPURIOUS;
    lapic_reg(LAPIC_LVT_LINT0) = LAPIC_LVT_MASKED;
    lapic_reg(LAPIC_LVT_LINT1) = LAPIC_LVT_MASKED;
    lapic_reg(LAPIC_LVT_ERROR) = LAPIC_LVT_MASKED;
    uint64_t tsc_hz;
    uint32_t freq = lapic_timer_hz(tsc_hz);
    tsc_per_tick = max<uint64_t>(tsc_hz / hz, 1);
    tsc_per_ms = max<uint64_t>(tsc_hz / 1000, 1);
    lapic_reg(LAPIC_TIMER_DIVIDE) = LAPIC_DIVIDE_1;
    lapic_reg(LAPIC_LVT_TIMER) = LAPIC_TIMER_PERIODIC | INT_TIMER;
    timer_count = max(freq / hz, 1U);
    lapic_reg(LAPIC_TIMER_INITIAL) = timer_count;
    log_printf("timer: local APIC counts %u Hz, time-stamp counter %lu Hz; "
               "interrupting %u times a second\n", freq, tsc_hz, hz);
}

void timer_restart() {
    // Writing the initial count starts the countdown over.
    lapic_reg(LAPIC_TIMER_INITIAL) = timer_count;
}

uintptr_t lapic_page() {
    return lapic_base;
}

uint32_t lapic_id() {
    return lapic_reg(0x020) >> 24;      // the local APIC ID register
}


// ---- Hardware setup ----

static void cpu_init() {
    // CR0.WP: read-only pages bind the kernel too, so no kernel bug (or
    // deputy tricked by a process) can write kernel text. CR0.EM: x87 and
    // MMX instructions fault, and CR4.OSFXSR stays clear so SSE ones do
    // too: processes get no floating-point state the kernel would have to
    // save on every switch. CR0.AM clear: a process's AC flag checks
    // nothing.
    wrcr0((rdcr0() | CR0_WP | CR0_EM | CR0_NE) & ~(CR0_TS | CR0_MP | CR0_AM));
    // EFER.NXE: PTE_NX forbids instruction fetches (W^X: kernel_page_perm,
    // k-loader.cc), and page-fault error codes say whether the access was
    // an instruction fetch (PFERR_FETCH). Every x86-64 processor QEMU
    // models has it; the page tables assume it.
    assert(cpuid(0x80000001).edx & CPUID_80000001_EDX_NX);
    wrmsr(MSR_IA32_EFER, rdmsr(MSR_IA32_EFER) | EFER_NXE);
}

bool smap_on;

// The protections the processor may have beyond paging, each turned on
// when CPUID reports it (run-qemu asks QEMU for a model with all three):
//   UMIP: `sgdt`, `sidt`, `sldt`, `smsw` and `str` fault at CPL 3, so a
//     process cannot learn where the kernel keeps its tables.
//   SMEP: the kernel faults if it ever runs code from a user-accessible
//     page (a kernel bug that jumps to process memory runs nothing).
//   SMAP: the kernel faults if it touches a user-accessible page, except
//     inside user_copy and user_zero (k-memory.cc), with AC set.
// SMEP and SMAP need the kernel's own pages to be kernel-only: the
// before-4 kernels (exercise 4's starting code) mark them PTE_U, and run
// without, saying so in the log and on the console.
// Called once the kernel runs on kernel_pagetable.
void protections_init() {
    uint32_t max_leaf = cpuid(0).eax;
    cpuid_result f7 = max_leaf >= 7 ? cpuid(7, 0) : cpuid_result{};
    bool kernel_only = !(kernel_page_perm(reinterpret_cast<uintptr_t>(kernel_text_start)) & PTE_U);
    uint64_t cr4 = rdcr4();
    if (f7.ecx & CPUID_7_ECX_UMIP) {
        cr4 |= CR4_UMIP;
    }
    if ((f7.ebx & CPUID_7_EBX_SMEP) && kernel_only) {
        cr4 |= CR4_SMEP;
    }
    if ((f7.ebx & CPUID_7_EBX_SMAP) && kernel_only) {
        cr4 |= CR4_SMAP;
    }
    wrcr4(cr4);
    smap_on = cr4 & CR4_SMAP;
    log_printf("protections: NX on, SMEP %s, SMAP %s, UMIP %s%s\n",
               cr4 & CR4_SMEP ? "on" : "off", cr4 & CR4_SMAP ? "on" : "off",
               cr4 & CR4_UMIP ? "on" : "off",
               kernel_only ? "" : " (kernel pages are user-accessible: no SMEP, SMAP)");
    // Said on screen too: solving exercise 4 turns them on, and a student
    // should see that it did.
    if (!kernel_only && (f7.ebx & (CPUID_7_EBX_SMEP | CPUID_7_EBX_SMAP))) {
        console_printf(CS_YELLOW "SMEP and SMAP stay off: kernel pages are user-accessible"
                       " (exercise 4)\n");
    }
}

void hardware_init() {
    segments_init();
    idt_init();
    syscall_init();
    cpu_init();
    pic_disable();
    lapic_base = rdmsr(MSR_IA32_APIC_BASE) & PTE_PAMASK;
}


// ---- CGA cursor ----

void console_show_cursor() {
    int pos = console_cursor();
    outb(0x3D4, 14);            // CRTC cursor location high
    outb(0x3D5, pos >> 8);
    outb(0x3D4, 15);            // and low
    outb(0x3D5, pos & 0xFF);
}


// ---- Keyboard (8042 controller, scan code set 1) ----

int keyboard_poll() {
    static bool ctrl = false;
    uint8_t status = inb(0x64);
    if (!(status & 0x01)) {
        return -1;              // output buffer empty
    }
    uint8_t code = inb(0x60);
    if (status & 0x20) {
        return -1;              // from the mouse
    }
    if (code == 0xE0) {
        return -1;              // prefix: the next code says which key
    }
    if ((code & 0x7F) == 0x1D) {
        ctrl = !(code & 0x80);  // left or right Control
        return -1;
    }
    if (code & 0x80) {
        return -1;              // key release
    }
    // Set 1 numbers the keys by rows of the keyboard: the digits from
    // 0x02, the letters from 0x10.
    static const char digits[] = "1234567890";
    if (code >= 0x02 && code < 0x02 + sizeof(digits) - 1) {
        return digits[code - 0x02];
    }
    static const char letters[] = "qwertyuiop\0\0\0\0asdfghjkl\0\0\0\0\0zxcvbnm";
    if (code >= 0x10 && code < 0x10 + sizeof(letters) - 1 && letters[code - 0x10]) {
        char c = letters[code - 0x10];
        return ctrl ? c - 'a' + 1 : c;
    }
    return -1;
}


// ---- Debug log: QEMU's debug console, port 0xE9 ----

namespace {
struct log_printer : printer {
    void putc(unsigned char c, int) override {
        outb(0xE9, c);
    }
};
}

void log_vprintf(const char* format, va_list ap) {
    log_printer lp;
    printer_vprintf(&lp, 0, format, ap);
}

void log_printf(const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    log_vprintf(format, ap);
    va_end(ap);
}


// ---- Boot options: QEMU's firmware configuration device ----
// run-qemu passes `-fw_cfg name=opt/weensyos/NAME,string=VALUE`. The device
// has a selector port and a data port; file directory entries are big
// endian. On a machine without it, the defaults in boot_options hold.

#define FW_CFG_SELECTOR     0x510
#define FW_CFG_DATA         0x511
#define FW_CFG_SIGNATURE    0x0000
#define FW_CFG_FILE_DIR     0x0019

static void fw_cfg_read(void* buf, size_t n) {
    auto p = static_cast<uint8_t*>(buf);
    for (size_t i = 0; i != n; ++i) {
        p[i] = inb(FW_CFG_DATA);
    }
}
static uint32_t be32(const uint8_t* p) {
    return (uint32_t) p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

// Reads fw_cfg file `opt/weensyos/<name>` into `buf` as a string.
// Returns false if there is no such file.
static bool fw_cfg_option(const char* name, char* buf, size_t size) {
    char sig[4];
    outw(FW_CFG_SELECTOR, FW_CFG_SIGNATURE);
    fw_cfg_read(sig, 4);
    if (memcmp(sig, "QEMU", 4) != 0) {
        return false;
    }
    char want[56];
    snprintf(want, sizeof(want), "opt/weensyos/%s", name);
    outw(FW_CFG_SELECTOR, FW_CFG_FILE_DIR);
    uint8_t count[4];
    fw_cfg_read(count, 4);
    for (uint32_t i = 0, n = be32(count); i != n; ++i) {
        uint8_t entry[64];      // size, selector, reserved, name[56]
        fw_cfg_read(entry, 64);
        auto ename = reinterpret_cast<char*>(entry + 8);
        ename[55] = '\0';
        if (strcmp(ename, want) == 0) {
            size_t len = min<size_t>(be32(entry), size - 1);
            outw(FW_CFG_SELECTOR, entry[4] << 8 | entry[5]);
            fw_cfg_read(buf, len);
            buf[len] = '\0';
            return true;
        }
    }
    return false;
}

static void number_option(const char* name, auto& value, uint64_t lo, uint64_t hi) {
    char buf[24];
    if (fw_cfg_option(name, buf, sizeof(buf))) {
        const char* end;
        uint64_t v = strtoul(buf, &end, 10);
        if (*end == '\0' && end != buf && v >= lo && v <= hi) {
            value = v;
        } else {
            log_printf("boot option %s=%s ignored: not a number in [%lu, %lu]\n",
                       name, buf, lo, hi);
        }
    }
}

void read_boot_options(boot_options& opt) {
    fw_cfg_option("procs", opt.procs, sizeof(opt.procs));
    number_option("hz", opt.hz, 1, 10000);
    number_option("ticks", opt.ticks, 1, 1UL << 40);
    number_option("respawn", opt.respawn, 0, 1000000);
    uint64_t headless = 0, switch_tables = 0;
    number_option("headless", headless, 0, 1);
    number_option("ptswitch", switch_tables, 0, 1);
    number_option("audit", opt.audit, 0, 1);
    opt.headless = headless;
    ptswitch = switch_tables;   // k-exception.S's entries and exits read it
    fw_cfg_option("view", opt.view, sizeof(opt.view));
    log_printf("WeensyOS: PROCS=\"%s\" HZ=%u%s%s%s\n", opt.procs, opt.hz,
               opt.headless ? " headless" : "",
               ptswitch ? " PTSWITCH (kernel_pagetable on every entry)" : "",
               opt.audit ? " AUDIT (the memory audit at every fork, exit and kill)" : "");
}


// ---- Disk ----

// A sector at a time: the watchdog hears that the kernel, with interrupts
// off, is reading and not stuck (k-watchdog.cc).
int disk_read(uint32_t sector, void* buf, size_t nsectors) {
    auto p = static_cast<uint8_t*>(buf);
    int r = 0;
    for (; nsectors != 0 && r == 0; ++sector, p += SECTORSIZE, --nsectors) {
        watchdog_disk(true);
        r = ata_read(sector, p, 1);
    }
    watchdog_disk(false);
    return r;
}


// ---- Power off ----

void poweroff(int status) {
    // QEMU's isa-debug-exit device (run-qemu adds it at port 0xF4) ends
    // QEMU with exit status (status << 1) | 1.
    outb(0xF4, status);
    // Without it: ACPI power-off on QEMU's PC machines, then wait.
    outw(0x604, 0x2000);
    outw(0xB004, 0x2000);
    while (true) {
        cli();
        asm volatile("hlt");
    }
}
