// p-heavycrash.cc: dies at its first instruction in every life, as
// p-crasher.cc does, but carries 200 KB of initialized data: every restart
// reads all of it from the disk, with interrupts off. With RESPAWN large
// and no backoff, the round robin handed it a fresh turn after each of
// Alice's yields, which it spent in the kernel being reloaded, and Alice
// made a fifth of the calls she makes beside eve-spin. Defense: a process
// that dies again soon waits before its next life, longer each time
// (k-respawn.cc), and its reloading is charged to it.
#include "u-lib.hh"

// Not zero, so that the whole array is in the program's image on disk.
[[gnu::used]] static char ballast[200 * 1024] = {1};

void process_main() {
    asm volatile("ud2");
}
