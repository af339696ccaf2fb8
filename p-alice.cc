// p-alice.cc: Alice counts, prints a line every ITERATIONS_PER_LINE
// iterations (u-lib.hh), and politely yields the CPU after every
// iteration. She keeps a secret in her memory (her PROCS argument:
// PROCS="alice:1234 ..."), which no other process should be able to read;
// see p-eve-steal.cc.
#include "u-lib.hh"

// The secret sits behind a tag, so a process that can read Alice's memory
// can find it by scanning for the tag.
struct tagged_secret {
    char tag[8];
    uint64_t value;
};
volatile tagged_secret alice_secret = {"SECRET!", 0};

void process_main() {
    alice_secret.value = process_arg;
    for (unsigned i = 1; ; ++i) {
        if (i % ITERATIONS_PER_LINE == 0) {
            console_printf(CS_WHITE "Hi, I'm Alice! #%u\n", i / ITERATIONS_PER_LINE);
        }
        sys_yield();
    }
}
