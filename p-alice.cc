// p-alice.cc: Alice counts, prints every 1024 iterations, and politely
// yields the CPU after every iteration.
#include "u-lib.hh"

void process_main() {
    for (unsigned i = 1; ; ++i) {
        if (i % 1024 == 0) {
            console_printf(CS_WHITE "Hi, I'm Alice! #%u\n", i / 1024);
        }
        sys_yield();
    }
}
