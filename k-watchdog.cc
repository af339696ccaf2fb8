// k-watchdog.cc: a second clock, which no process can turn off. The PIT
// ticks WATCHDOG_HZ times a second as a non-maskable interrupt (NMI), which
// `cli` cannot block. The kernel uses it to notice that the machine has
// stopped: when the timer interrupt has not come for a while, something
// holds interrupts off (a process the kernel let run at IOPL 3, or the
// kernel itself stuck in a loop), and the watchdog says who and where.
// It also stops a process that escaped into virtual-8086 mode (k-quirks.cc).
#include "kernel.hh"

#define IOAPIC_ADDR         0xFEC00000UL
#define IOAPIC_REGSEL       0x00
#define IOAPIC_WINDOW       0x10
#define IOAPIC_REDIRECTION(pin) (0x10 + 2 * (pin))
#define IOAPIC_DELIVER_NMI  0x400       // delivery mode NMI, edge, unmasked
#define IOAPIC_PIT_PIN      2           // ISA IRQ 0 (QEMU, most PCs: ACPI override)
#define WATCHDOG_HZ         100U
// The machine counts as stuck once no timer interrupt came for this long
// (and for at least three timer periods, for a slow HZ).
#define STUCK_MS            500U
// While the kernel waits for the disk, with interrupts off (a program's
// image, at every restart), it counts as stuck only once no sector came
// for this long. Under QEMU's -icount the guest's clock runs on while a
// busy host keeps one sector waiting.
#define DISK_STUCK_MS       30000U

uintptr_t ioapic_page() {
    return IOAPIC_ADDR;
}

static void ioapic_write(unsigned reg, uint32_t value) {
    *reinterpret_cast<volatile uint32_t*>(IOAPIC_ADDR + IOAPIC_REGSEL) = reg;
    *reinterpret_cast<volatile uint32_t*>(IOAPIC_ADDR + IOAPIC_WINDOW) = value;
}

static unsigned stuck_after;            // watchdog ticks without a timer tick

void watchdog_init(unsigned timer_hz) {
    const unsigned count = PIT_HZ / WATCHDOG_HZ;
    outb(PIT_COMMAND, PIT_SELECT(0) | PIT_LOHI | PIT_MODE2);
    outb(PIT_CHANNEL0, count & 0xFF);
    outb(PIT_CHANNEL0, count >> 8);
    ioapic_write(IOAPIC_REDIRECTION(IOAPIC_PIT_PIN) + 1, lapic_id() << 24);
    ioapic_write(IOAPIC_REDIRECTION(IOAPIC_PIT_PIN), IOAPIC_DELIVER_NMI);
    stuck_after = max(WATCHDOG_HZ * STUCK_MS / 1000, 3 * WATCHDOG_HZ / timer_hz);
}

void watchdog_stop() {
    ioapic_write(IOAPIC_REDIRECTION(IOAPIC_PIT_PIN), IOAPIC_DELIVER_NMI | 0x10000);   // masked
}

// The processor blocks further NMIs until the next `iretq`: run() returns
// with `iretq`, not `sysretq`, while this is set.
bool nmi_blocked;

// Says once that the machine is stuck, and who holds it. A headless run
// ends there (as a panic: the machine can do nothing more); on screen the
// message stays, and `q` still works.
static void report_stuck(const regstate* regs, bool from_process) {
    static bool reported;
    if (from_process && !reported) {
        char msg[160];
        snprintf(msg, sizeof(msg), "machine stuck: no timer interrupt for %u ms; "
                 "proc %d (%s) runs with interrupts off, rip=0x%lx",
                 stuck_after * 1000 / WATCHDOG_HZ, current->pid, current->name, regs->reg_rip);
        log_printf("%s\n", msg);
        console_printf(CS_RED "%s\n", msg);
        reported = true;
        if (bootopt.headless) {
            panic_at(regs, "%s", msg);
        }
    } else if (!from_process) {
        panic_at(regs, "kernel stuck: no timer interrupt for %u ms",
                 stuck_after * 1000 / WATCHDOG_HZ);
    }
}

// disk_read() says when it starts, after each sector, and when it ends.
static volatile bool disk_reading, disk_progress;

void watchdog_disk(bool reading) {
    disk_reading = reading;
    disk_progress = true;
}

void watchdog(regstate* regs, bool from_process) {
    static uint64_t last_ticks;
    static unsigned quiet;
    if (ticks != last_ticks || disk_progress) {
        last_ticks = ticks;
        disk_progress = false;
        quiet = 0;
    } else if (++quiet >= (disk_reading ? WATCHDOG_HZ * DISK_STUCK_MS / 1000 : stuck_after)) {
        report_stuck(regs, from_process);
        if (key_quits(keyboard_poll())) {
            poweroff(POWEROFF_NORMAL);
        }
    }
    if (!from_process) {
        return;                 // the kernel's own iretq unblocks NMIs
    }
    nmi_blocked = true;
    // QUIRK: vm86
    quirk_stop_vm86_escapee(regs);
    run(current);
}
