// p-eve-spin.cc: Eve stops yielding and loops forever. Defense: the timer
// interrupt takes the CPU back every tick, and Alice still runs.
#include "u-eve.hh"

void process_main() {
    eve_count(eve_warmup_lines());
    eve_announce("spinning forever, never yielding\n");
    while (true) {
    }
}
