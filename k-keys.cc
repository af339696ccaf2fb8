// k-keys.cc: the keyboard's commands, all in the one table below. The live
// screen's help row is drawn from it (k-screen.cc), tests/test_keys.py
// checks the README's keys table against it, and the program-set keys come
// from exercises/catalog.txt (obj/lecture-sets.h). The keyboard is polled
// once a tick (k-cpu.cc), and by the watchdog and after a panic, where
// only quitting works.
#include "kernel.hh"
#include "lecture-sets.h"

// Key N restarts the machine's processes with program set N: 0 the
// default pair, then the attack of each lecture exercise beside Alice, in
// the lectures' order.
static const char* const lecture_sets[] = {LECTURE_SETS};
#define LECTURE_SET_KEYS ((int) arraysize(lecture_sets))

static void quit(int) {
    log_printf("quit requested from the keyboard\n");
    poweroff(POWEROFF_NORMAL);
}

static void show_map(int) {
    memshow(true);
}

static void check_integrity(int) {
    char report[INTEGRITY_REPORT_SIZE];
    integrity_report(report, sizeof(report));
    console_printf(CS_WHITE "kernel %s\n", report);
    log_printf("integrity check: kernel %s\n", report);
}

static void next_view(int) {
    screen_next_view();
}

static void program_set(int key) {
    screen_restart(key, lecture_sets[key - '0']);      // does not return
}

// The problem set's keys, as the pset has them: four allocators, fork,
// forkexit.
static void pset_set(int key) {
    const char* procs = key == 'a' ? "allocator allocator allocator allocator"
        : (key == 'f' ? "fork" : "forkexit");
    screen_restart(key, procs);         // does not return
}

struct key_command {
    int first, last;            // the keys it answers, a range for the digits
    const char* help;           // on the help row after the key; null: unlisted
    void (*act)(int key);
};

static const key_command commands[] = {
    {'q', 'q', "quit", quit},
    {KEY_CONTROL_C, KEY_CONTROL_C, nullptr, quit},
    {'v', 'v', "view", next_view},
    {'m', 'm', "map", show_map},
    {'i', 'i', "check", check_integrity},
    {'0', '0' + LECTURE_SET_KEYS - 1, "lecture", program_set},    // 0 alice eve, N attack N
    {'a', 'a', "alloc", pset_set},
    {'f', 'f', "fork", pset_set},
    {'e', 'e', "forkexit", pset_set},
};

bool key_quits(int key) {
    return key == 'q' || key == KEY_CONTROL_C;
}

void keys_poll() {
    int key = keyboard_poll();
    for (const key_command& c : commands) {
        if (key >= c.first && key <= c.last) {
            c.act(key);
            return;
        }
    }
}

void keys_help(char* buf, size_t size) {
    size_t n = snprintf(buf, size, " WeensyOS");
    for (const key_command& c : commands) {
        if (!c.help || n >= size) {
            continue;
        } else if (c.first == c.last) {
            n += snprintf(buf + n, size - n, " %c %s", c.first, c.help);
        } else {
            n += snprintf(buf + n, size - n, " %c-%c %s", c.first, c.last, c.help);
        }
    }
}
