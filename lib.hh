// lib.hh: what the kernel and processes share: the memory layout, the
// system call numbers, string functions, printf, and the CGA console.
#ifndef WEENSYOS_LIB_HH
#define WEENSYOS_LIB_HH
#include "types.h"

// ---- Memory layout ----
// Below PROC_START_ADDR, virtual = physical in every page table. The
// lecture's kernels (before exercise 10) put process k in slot k, mapped
// one to one (virtual = physical); the problem set's (exercises 10-16)
// give every process the same layout instead, from PROC_START_ADDR up to
// MEMSIZE_VIRTUAL (its stack in the top page), on pages from anywhere.
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
#define KERNEL_START_ADDR   0x40000UL   // kernel code and data start here
#define KERNEL_STACK_TOP    0x80000UL   // kernel stack grows down from here
#define KERNEL_STACK_SIZE   0x4000UL    // 16 KB (link/kernel.ld keeps it free)
#define HARDWARE_HOLE_START 0xA0000UL   // 640 KB: reserved for hardware up to 1 MB
#define CONSOLE_ADDR        0xB8000UL   // CGA text screen
#define PROC_START_ADDR     0x100000UL  // a process's first address (slot 1)
#define PROC_SLOT_SIZE      0x40000UL   // bytes per process slot
#define SLOT_PROCS          4           // the lecture's slots (pids 1..4)
#define MAX_PROCS           15          // processes at once (pids 1..15)
#define MEMSIZE_PHYSICAL    0x200000UL  // 2 MB of physical memory
#define MEMSIZE_VIRTUAL     0x300000UL  // the problem set's address space ends here

// Process `pid` owns [proc_slot_start(pid), proc_slot_start(pid) + PROC_SLOT_SIZE).
constexpr uintptr_t proc_slot_start(int pid) {
    return PROC_START_ADDR + (uintptr_t) (pid - 1) * PROC_SLOT_SIZE;
}
constexpr uintptr_t proc_slot_end(int pid) {
    return proc_slot_start(pid) + PROC_SLOT_SIZE;
}

// ---- System call numbers (the contract's ABI) ----
#define SYSCALL_GETPID      1
#define SYSCALL_YIELD       2
#define SYSCALL_PANIC       3
#define SYSCALL_GETSYSNAME  4
#define SYSCALL_PAGE_ALLOC  5
#define SYSCALL_EXIT        6
#define SYSCALL_FORK        7

// The name sys_getsysname writes, NUL included.
#define SYSNAME "WeensyOS"

// ---- Strings and memory ----
extern "C" {
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* s, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
size_t strnlen(const char* s, size_t maxlen);
int strcmp(const char* a, const char* b);
}
unsigned long strtoul(const char* s, const char** end, int base);

template <typename T> constexpr T min(T a, T b) { return a < b ? a : b; }
template <typename T> constexpr T max(T a, T b) { return a < b ? b : a; }
template <typename T> constexpr T round_down(T x, uint64_t m) { return x - x % m; }
#define arraysize(a) (sizeof(a) / sizeof((a)[0]))

// Pseudo-random numbers (xorshift64*): deterministic from a seed.
void rand_seed(uint64_t seed);
uint64_t rand64();
int rand(int min, int max);     // uniform in [min, max]

// ---- printf ----
// A printer receives characters one at a time with a CGA colour attribute.
struct printer {
    virtual void putc(unsigned char c, int color) = 0;
};
void printer_vprintf(printer* p, int color, const char* format, va_list ap);
int snprintf(char* buf, size_t size, const char* format, ...)
    __attribute__((format(printf, 3, 4)));
int vsnprintf(char* buf, size_t size, const char* format, va_list ap);

// ---- The CGA console: 80x25 cells of (attribute << 8 | character) ----
#define CONSOLE_COLUMNS     80
#define CONSOLE_ROWS        25
// Processes reach the screen at CONSOLE_ADDR, where it is user-accessible.
// SMAP forbids the kernel to touch user-accessible pages, so the kernel
// (built with WEENSYOS_KERNEL) reaches the same physical page at a second,
// kernel-only address that every page table maps (k-memory.cc).
#ifdef WEENSYOS_KERNEL
#define CONSOLE_VIEW        0xFFFFF000UL
#else
#define CONSOLE_VIEW        CONSOLE_ADDR
#endif
#define console ((volatile uint16_t*) CONSOLE_VIEW)
// The cursor position lives in the console page just past the visible
// screen, so that the kernel and every process print at the same place.
// Beside it, the first row of the console region: printing and scrolling
// stay in rows [top, CONSOLE_ROWS), so that the kernel's status panel and
// memory map above it (k-screen.cc) stay put. The kernel sets the top row;
// any process may write either value: whoever reads them clamps them.
#define console_cursor_slot (*(volatile int*) (CONSOLE_VIEW + 2 * CONSOLE_ROWS * CONSOLE_COLUMNS))
#define console_top_slot (*(volatile int*) (CONSOLE_VIEW + 2 * CONSOLE_ROWS * CONSOLE_COLUMNS + 4))
int console_top();              // first row of the console region
int console_cursor();           // a cell inside the region (or just past it)

// Colour escapes for console_printf format strings (ANSI SGR codes, which
// also read correctly in a terminal), and the CGA attributes they select.
#define CS_NORMAL       "\x1b[0m"
#define CS_BLACK        "\x1b[30m"
#define CS_DARKRED      "\x1b[31m"
#define CS_DARKGREEN    "\x1b[32m"
#define CS_BROWN        "\x1b[33m"
#define CS_DARKBLUE     "\x1b[34m"
#define CS_DARKMAGENTA  "\x1b[35m"
#define CS_DARKCYAN     "\x1b[36m"
#define CS_GRAY         "\x1b[37m"
#define CS_DARKGRAY     "\x1b[90m"
#define CS_RED          "\x1b[91m"
#define CS_GREEN        "\x1b[92m"
#define CS_YELLOW       "\x1b[93m"
#define CS_BLUE         "\x1b[94m"
#define CS_MAGENTA      "\x1b[95m"
#define CS_CYAN         "\x1b[96m"
#define CS_WHITE        "\x1b[97m"
#define COLOR_NORMAL    0x0700  // light gray on black

void console_printf(int color, const char* format, ...)
    __attribute__((format(printf, 2, 3)));
void console_printf(const char* format, ...)
    __attribute__((format(printf, 1, 2)));
void console_vprintf(int color, const char* format, va_list ap);
void console_clear();           // the whole screen; the region is all of it

// ---- Assertions: a failed one panics (in a process: sys_panic) ----
[[noreturn]] void assert_fail(const char* file, int line, const char* msg);
#define assert(x) \
    do { if (!(x)) assert_fail(__FILE__, __LINE__, #x); } while (0)
#endif
