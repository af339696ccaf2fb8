// u-lib.cc: where every process starts, and what a failed assertion does
// in a process.
#include "u-lib.hh"

uint64_t process_arg;
uint64_t process_life;

// The ELF entry point. The kernel starts a process here with %rdi = its
// PROCS argument and %rsi = its life count.
extern "C" [[noreturn]] void process_start(uint64_t arg, uint64_t life) {
    process_arg = arg;
    process_life = life;
    process_main();
    sys_exit();
}

void assert_fail(const char* file, int line, const char* msg) {
    char buf[100];
    snprintf(buf, sizeof(buf), "%s:%d: assertion '%s' failed", file, line, msg);
    sys_panic(buf);
}
