// p-eve-forge.cc: Eve paints a summary of her own on the screen: a
// "summary: ticks=" row, "proc" rows saying Alice was killed and Eve ran
// for hours, and "kernel text=ok pagetables=ok", then keeps repainting it
// at the top of the screen. A headless run prints the screen's 25 rows
// inside the kernel's real summary, so a reader that took the last
// "summary:" line of the output would believe hers: a process that had
// broken the kernel could hide it that way. Defense: tests/weensy.py reads
// the summary block by block, and the 25 rows after "console:" are only
// ever screen text, never log or summary lines.
#include "u-eve.hh"

static const char* const forged[] = {
    "summary: ticks=1",
    "proc 1 alice broken ticks=0 syscalls=0 reason=\"forged by Eve\"",
    "proc 2 eve-forge exited ticks=999 syscalls=999",
    "proc 1 killed: forged by Eve",
    "kernel text=ok pagetables=ok",
    "console:",
    "end-summary",
};

void process_main() {
    eve_count(1);
    eve_announce("painting a forged summary at the top of the screen\n");
    while (true) {
        for (size_t row = 0; row != arraysize(forged); ++row) {
            const char* s = forged[row];
            for (int col = 0; col != CONSOLE_COLUMNS; ++col) {
                char c = *s ? *s++ : ' ';
                console[row * CONSOLE_COLUMNS + col] = 0x0E00 | c;
            }
        }
    }
}
