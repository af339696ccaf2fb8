// p-eve-forkbomb.cc: the fork bomb. Eve and every child she makes fork for
// as long as fork succeeds, then spin. Defense (exercise 15): her family
// holds at most its share of the slots, and families share the CPU
// equally, so Alice keeps her share.
#include "u-eve.hh"

void process_main() {
    eve_count(EVE_WARMUP_LINES);
    eve_announce("forking forever\n");
    while (sys_fork() >= 0) {
    }
    while (true) {
    }
}
