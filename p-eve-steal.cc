// p-eve-steal.cc: Eve reads Alice's secret out of Alice's memory and
// prints it. Alice runs as pid 1 and keeps the secret behind the tag
// "SECRET!" (p-alice.cc). Against a kernel whose processes share one page
// table (before exercise 8) she succeeds; against one that gives each
// process its own table, her first read of Alice's memory page-faults and
// the kernel kills her.
#include "u-eve.hh"

void process_main() {
    // Exercise 9 (Eve steals Alice's secret)
    eve_announce("reading Alice's memory from 0x%lx\n", proc_slot_start(1));
    auto word = reinterpret_cast<volatile const uint64_t*>(proc_slot_start(1));
    const char tag[8] = "SECRET!";
    uint64_t want;
    memcpy(&want, tag, sizeof(want));
    // Alice's program and data come first in her slot, below her stack.
    for (size_t i = 0; i != (PROC_SLOT_SIZE - PAGESIZE) / 8; ++i) {
        if (word[i] == want) {
            console_printf(CS_RED "Eve: Alice's secret is %lu\n", word[i + 1]);
            break;
        }
    }
    // End of exercise 9
    // Then she keeps quiet, so that her line stays on the screen (where
    // make grade looks for the secret) while only Alice's scroll it up.
    while (true) {
        sys_yield();
    }
}
