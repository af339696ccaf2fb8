// u-eve.hh: what every Eve program does before (or instead of) attacking:
// count like Alice, in Eve's colour, yielding after every iteration.
#ifndef WEENSYOS_U_EVE_HH
#define WEENSYOS_U_EVE_HH
#include "u-lib.hh"

// Counts `lines` lines of "Hi, I'm Eve! #N" (1024 iterations each); 0
// means forever.
inline void eve_count(unsigned lines) {
    for (unsigned i = 1; lines == 0 || i <= lines * 1024; ++i) {
        if (i % 1024 == 0) {
            console_printf(CS_YELLOW "Hi, I'm Eve! #%u\n", i / 1024);
        }
        sys_yield();
    }
}

// How long Eve behaves before her attack: long enough for Alice to be
// seen running beside her.
#define EVE_WARMUP_LINES 3

// Prints what Eve is about to try, in red, on its own line.
#define eve_announce(...) console_printf(CS_RED "Eve: " __VA_ARGS__)
#endif
