// p-eve-panic.cc: Eve calls sys_panic, hoping to stop the whole machine.
// Defense: sys_panic ends only the calling process, and the kernel copies
// her message only from memory she may read herself. With
// PROCS="eve-panic:ADDR" she passes ADDR as the message pointer instead
// (u-eve.hh: eve_target).
#include "u-eve.hh"

static const char panic_message[] = "Eve pulls the emergency brake";

void process_main() {
    eve_count(eve_warmup_lines());
    auto message = reinterpret_cast<const char*>(
        eve_target(reinterpret_cast<uintptr_t>(panic_message)));
    eve_announce("sys_panic(0x%lx)\n", reinterpret_cast<uintptr_t>(message));
    sys_panic(message);
}
