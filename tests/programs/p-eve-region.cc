// p-eve-region.cc: Eve writes garbage where every process learns the
// console region's first row and the cursor (the console page, just past
// the screen): negative, huge, past the screen, the last row, between
// every line she prints. Defense: whoever reads the two values clamps
// them (lib.cc), and the kernel writes the real top row at every repaint
// (k-screen.cc): neither the kernel nor Alice ever prints outside the
// screen, and the panel comes back.
#include "u-eve.hh"

void process_main() {
    static const int garbage[] = {-1, -80000, 25, 26, 24, 2000, 2001, 1 << 30, -(1 << 30), 1999};
    for (unsigned i = 1; ; ++i) {
        int g = garbage[i % arraysize(garbage)];
        console_top_slot = g;
        console_cursor_slot = garbage[(i / 3) % arraysize(garbage)];
        if (i % 1024 == 0) {
            console_printf(CS_YELLOW "Hi, I'm Eve! #%u\n", i / 1024);
            console_top_slot = g;
        }
        sys_yield();
    }
}
