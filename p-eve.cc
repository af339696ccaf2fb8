// p-eve.cc: Eve, before she turns to attacks: the same as Alice, in
// another colour. The p-eve-*.cc programs are Eve trying one attack each.
#include "u-lib.hh"

void process_main() {
    for (unsigned i = 1; ; ++i) {
        if (i % 1024 == 0) {
            console_printf(CS_YELLOW "Hi, I'm Eve! #%u\n", i / 1024);
        }
        sys_yield();
    }
}
