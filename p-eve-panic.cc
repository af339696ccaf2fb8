// p-eve-panic.cc: Eve calls sys_panic, hoping to stop the whole machine.
// Defense: sys_panic ends only the calling process, and the kernel copies
// her message only from memory she may read herself. With
// PROCS="eve-panic:ADDR" she passes ADDR as the message pointer instead.
#include "u-eve.hh"

static const char panic_message[] = "Eve pulls the emergency brake";

void process_main() {
    eve_count(EVE_WARMUP_LINES);
    const char* message = panic_message;
    if (process_arg != 0) {
        message = reinterpret_cast<const char*>(process_arg);
    }
    eve_announce("sys_panic(0x%lx)\n", reinterpret_cast<uintptr_t>(message));
    sys_panic(message);
}
