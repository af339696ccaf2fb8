// k-screen.cc: the live screen an instructor projects. Above the console
// region where processes print: a help row naming the keys, one row per
// process (state, share of the CPU and system calls per second over the
// last second, pages, parent), and a memory map: the physical one, with
// each page's user, or one process's virtual address space as its own page
// table sees it. `v` cycles the views, down to the plain full-screen
// console; the digits restart the machine's processes with a lecture's
// program set, and a, f, e with the problem set's.
//
// The screen is the console page, which every process may write: Eve can
// paint over the panel. So the kernel repaints all of it at least ten times
// a second (every HZ/10 ticks), and a forgery lasts no longer than that.
#include "kernel.hh"
#include "k-vmiter.hh"

// ---- Layout ----
//   row 0                         the keys
//   rows 1 .. panel_procs         one per process (at most PANEL_ROWS)
//   the next row                  the map's title and legend
//   the next MAP_ROWS rows        the map, MAP_PER_ROW pages a row
//   the rest, down to row 24      the console region (lib.cc scrolls only it)

#define MAP_PAGES       (MEMSIZE_PHYSICAL / PAGESIZE)   // 512: all of memory
#define MAP_PER_ROW     64
#define MAP_ROWS        (MAP_PAGES / MAP_PER_ROW)
#define PANEL_ROWS      6               // the console keeps 9 rows

// What the screen shows: the physical map, the virtual memory of process
// 1..MAX_PROCS, or the plain console.
#define VIEW_PHYSICAL   0
#define VIEW_CONSOLE    (-1)
static int view;
static int panel_procs;         // process rows: the highest pid in use, at most PANEL_ROWS
static int shown_top;           // the console region's first row, as last drawn
static unsigned redraw_ticks;   // repaint every this many ticks (at most 1/10 s)


// ---- Colours: CGA attributes, foreground in bits 8-11, background 12-14 ----
#define CGA(fg, bg)     ((uint16_t) ((bg) << 12 | (fg) << 8))
enum { BLACK = 0, BLUE = 1, RED = 4, GRAY = 7, DARKGRAY = 8, LIGHTBLUE = 9,
       LIGHTGREEN = 10, LIGHTCYAN = 11, LIGHTRED = 12, LIGHTMAGENTA = 13,
       YELLOW = 14, WHITE = 15 };
// Process colours, four in turn (pid 0, the kernel, gray).
static uint16_t proc_color(int pid) {
    static const uint16_t colors[] = {CGA(LIGHTGREEN, BLACK), CGA(YELLOW, BLACK),
                                      CGA(LIGHTCYAN, BLACK), CGA(LIGHTMAGENTA, BLACK)};
    return pid <= 0 ? CGA(GRAY, BLACK) : colors[(pid - 1) % 4];
}
// The character of a pid on the map: its digit, A-F past 9.
static char pid_char(int pid) {
    return pid < 10 ? '0' + pid : 'A' + pid - 10;
}
static const uint16_t dim = CGA(DARKGRAY, BLACK);
static const uint16_t plain = CGA(GRAY, BLACK);
static const uint16_t bright = CGA(WHITE, BLACK);
static const uint16_t kernel_color = CGA(LIGHTBLUE, BLACK);
static const uint16_t error_color = CGA(WHITE, RED);   // "PAGE TABLE ERROR"
static const uint16_t title_color = CGA(WHITE, BLUE);


// ---- Drawing a row ----
// A row is composed in kernel memory, then copied to the screen whole.

namespace {
struct screen_row {
    uint16_t cell[CONSOLE_COLUMNS];
    int col = 0;

    explicit screen_row(uint16_t color = plain) {
        for (auto& c : cell) {
            c = color | ' ';
        }
    }
    void put(char c, uint16_t color) {
        if (col < CONSOLE_COLUMNS) {
            cell[col++] = color | (uint8_t) c;
        }
    }
    void text(uint16_t color, const char* format, ...) __attribute__((format(printf, 3, 4))) {
        char buf[CONSOLE_COLUMNS + 1];
        va_list ap;
        va_start(ap, format);
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);
        for (const char* s = buf; *s; ++s) {
            put(*s, color);
        }
    }
    void show(int row) const {
        for (int i = 0; i != CONSOLE_COLUMNS; ++i) {
            console[row * CONSOLE_COLUMNS + i] = cell[i];
        }
    }
};
}


// ---- CPU share and system calls over the last second ----

// The CPU time process `p` has had: time-stamp counter cycles, measured
// at every switch and every timer tick (kernel.cc), so a share counts the
// slices a process gives away early too, not only the ticks that struck it.
static uint64_t cpu_sample(const proc& p) {
    return p.cpu_time;
}

struct sample {
    uint64_t tick;
    uint64_t cpu[NPROC];
    uint64_t syscalls[NPROC];
};
// One sample per repaint; a second's worth (ten, at most) and one more.
#define HISTORY 11
static sample history[HISTORY];
static unsigned nsamples;       // taken since the current set started

static void take_sample() {
    sample& s = history[nsamples % HISTORY];
    s.tick = ticks;
    for (int pid = 1; pid != NPROC; ++pid) {
        s.cpu[pid] = cpu_sample(ptable[pid]);
        s.syscalls[pid] = ptable[pid].syscalls;
    }
    ++nsamples;
}

// How much a counter grew from `then` to `now`. A slot's counters start
// over from 0 when fork gives it to a new process: a count below the older
// sample's is the new one's, all of it since then. So no difference wraps,
// and a share is never more than 100%.
static uint64_t grew(uint64_t now, uint64_t then) {
    return now >= then ? now - then : now;
}

// The newest sample and the one about a second before it; false until
// there are two.
static bool last_second(const sample*& now, const sample*& then) {
    unsigned per_second = max(1U, bootopt.hz / redraw_ticks);
    unsigned back = min(min(per_second, (unsigned) HISTORY - 1), nsamples - 1);
    if (nsamples < 2 || back == 0) {
        return false;
    }
    now = &history[(nsamples - 1) % HISTORY];
    then = &history[(nsamples - 1 - back) % HISTORY];
    return now->tick != then->tick;
}


// ---- The process rows ----

// Copies a kill reason into `out`, at most `width` characters, dropping
// what a glance can do without: the details in parentheses, then, if it
// is still too long, the ", rip=..." tail.
static void shorten_reason(const char* reason, char* out, size_t width) {
    char brief[PROC_REASON_SIZE];
    size_t n = 0;
    int depth = 0;
    for (const char* s = reason; *s && n != sizeof(brief) - 1; ++s) {
        if (*s == ' ' && s[1] == '(') {
            continue;                   // the space before a detail goes too
        }
        depth += *s == '(';
        if (depth == 0) {
            brief[n++] = *s;
        }
        depth -= *s == ')' && depth > 0;
    }
    brief[n] = '\0';
    for (size_t i = 0; n > width && i + 6 <= n; ++i) {
        if (memcmp(brief + i, ", rip=", 6) == 0) {
            brief[i] = '\0';
            break;
        }
    }
    snprintf(out, width + 1, "%s", brief);
}

static void draw_proc_row(int row, int pid, const sample* now, const sample* then) {
    const proc& p = ptable[pid];
    screen_row r;
    r.text(proc_color(pid), "%2d %-12.12s", pid, p.name[0] ? p.name : "-");
    // Share of the CPU time processes had over the last second, and a bar
    // of ten cells.
    uint64_t all = 0;
    for (int i = 1; i != NPROC && now; ++i) {
        all += grew(now->cpu[i], then->cpu[i]);
    }
    if (all != 0) {
        unsigned share = (grew(now->cpu[pid], then->cpu[pid]) * 100 + all / 2) / all;
        r.text(bright, " %3u%% ", share);
        for (unsigned i = 0; i != 10; ++i) {
            r.put(i < (share + 5) / 10 ? '#' : '.', i < (share + 5) / 10 ? proc_color(pid) : dim);
        }
        uint64_t calls = grew(now->syscalls[pid], then->syscalls[pid]) * bootopt.hz
            / (now->tick - then->tick);
        r.text(bright, " %7lu/s ", calls);
    } else {
        r.text(dim, "    - ..........       -/s ");
    }
    if (p.state != P_BROKEN) {
        // (A killed process has given its pages back: its row has the
        // room for why it was killed instead.)
        unsigned pages = p.pagetable ? user_page_count(p.pagetable, user_memory_start(&p),
                                                       user_memory_end(&p)) : 0;
        r.text(plain, "%3u pg par %-2d", pages, p.parent);
    }
    // How often it was restarted (RESPAWN), once it was.
    char restarts[32] = "";
    if (p.lives > 1) {
        snprintf(restarts, sizeof(restarts), " (%lu restarts)", p.lives - 1);
    }
    if (p.state == P_BROKEN) {
        char why[CONSOLE_COLUMNS];
        shorten_reason(p.reason, why, CONSOLE_COLUMNS - r.col - 9 - strlen(restarts));
        r.text(CGA(LIGHTRED, BLACK), " killed%s: %s", restarts, why);
    } else {
        // A slot PROCS named is free only if its program failed to load.
        r.text(p.state == P_RUNNABLE ? plain : dim, " %s%s",
               p.state == P_FREE ? "not loaded" : proc_state_name(p.state), restarts);
    }
    r.show(row);
}

static void draw_help_row() {
    screen_row r(title_color);
    char help[CONSOLE_COLUMNS + 1];
    keys_help(help, sizeof(help));      // from the keys' table (k-keys.cc)
    r.text(title_color, "%s", help);
    r.show(0);
}


// ---- The memory maps ----
// A cell per page: the character, in colour (CGA attribute | character).

// The physical memory map: '.' free, 'R' reserved (the hole between 640 KB
// and 1 MB), 'C' the console, 'K' the kernel, 'P' a page of page table
// (the kernel's, or a process's in its colour), the pid of the one process
// whose page table maps the page ('A'-'F' past 9), 'S' a page several
// share, 'L' a leaked page (in use, yet in no page table), and '!' a page
// some process is granted outside its own memory: a page-table error.
static int page_owner[MAP_PAGES];

static void physical_map(uint16_t* cells) {
    uintptr_t kernel_end_pa = reinterpret_cast<uintptr_t>(kernel_end);
    memory_map_owners(page_owner);
    for (uintptr_t pa = 0; pa != MEMSIZE_PHYSICAL; pa += PAGESIZE) {
        uint16_t& c = cells[pa / PAGESIZE];
        int o = page_owner[pa / PAGESIZE];
        if (pa == CONSOLE_ADDR) {
            c = bright | 'C';
        } else if (pa >= HARDWARE_HOLE_START && pa < PROC_START_ADDR) {
            c = dim | 'R';
        } else if ((pa >= KERNEL_START_ADDR && pa < kernel_end_pa)
                   || (pa >= KERNEL_STACK_TOP - KERNEL_STACK_SIZE && pa < KERNEL_STACK_TOP)) {
            c = kernel_color | 'K';
        } else if (o >= PAGE_TABLE_OF) {
            c = (o == PAGE_TABLE_OF ? kernel_color : proc_color(o - PAGE_TABLE_OF)) | 'P';
        } else if (o == PAGE_SHARED) {
            c = bright | 'S';
        } else if (o == PAGE_LEAKED) {
            c = error_color | 'L';
        } else if (o > 0) {
            c = proc_color(o) | pid_char(o);
        } else {
            c = dim | (page_is_memory(pa) || pa == 0 ? '.' : 'R');
        }
    }
    // Processes that share the kernel's table (the lecture's kernel before
    // exercise 8) are each granted every other's pages: the map shows those
    // as errors, which they are. The problem set's own memory is the whole
    // process area, so there is nothing to look for.
    for (int pid = 1; pid != NPROC; ++pid) {
        const proc& p = ptable[pid];
        if (!p.pagetable || (user_memory_start(&p) == PROC_START_ADDR
                             && user_memory_end(&p) == MEMSIZE_VIRTUAL)) {
            continue;
        }
        for (vmiter it(p.pagetable, PROC_START_ADDR); it.va() != MEMSIZE_VIRTUAL; it.next_page()) {
            uintptr_t pa = it.pa();
            if (it.user() && pa < MEMSIZE_PHYSICAL
                && (it.va() < user_memory_start(&p) || it.va() >= user_memory_end(&p))) {
                cells[pa / PAGESIZE] = error_color | '!';
            }
        }
    }
}

// The first virtual address the map of process p shows: 0 on the lecture's
// kernels (its slot is inside the 2 MB shown), PROC_START_ADDR on the
// problem set's, whose processes end at MEMSIZE_VIRTUAL.
static uintptr_t virtual_map_start(const proc& p) {
    return user_memory_end(&p) > MAP_PAGES * PAGESIZE ? user_memory_end(&p) - MAP_PAGES * PAGESIZE : 0;
}

// Process `pid`'s virtual address space, as its own page table has it:
// '.' not present, '-' present but kernel-only, 'r' user read-only, 'w'
// user writable, 'C' the console, '!' user-accessible outside its own
// memory.
static void virtual_map(uint16_t* cells, int pid) {
    const proc& p = ptable[pid];
    x86_64_pagetable* pt = p.pagetable;
    uintptr_t start = virtual_map_start(p);
    for (uintptr_t va = start; va != start + MAP_PAGES * PAGESIZE; va += PAGESIZE) {
        uint16_t& c = cells[(va - start) / PAGESIZE];
        vmiter it(pt ? pt : kernel_pagetable, va);
        if (!pt || !it.present()) {
            c = dim | '.';
        } else if (!it.user()) {
            c = dim | '-';
        } else if (va == CONSOLE_ADDR) {
            c = bright | 'C';
        } else if (va < user_memory_start(&p) || va >= user_memory_end(&p)) {
            c = error_color | '!';
        } else {
            c = proc_color(pid) | (it.writable() ? 'w' : 'r');
        }
    }
}

static uint16_t map_cells[MAP_PAGES];

static void draw_map(int row) {
    screen_row title;
    if (view == VIEW_PHYSICAL) {
        physical_map(map_cells);
        title.text(bright, "physical memory");
        title.text(plain, " .free K R C P table 1-F pid S shared ");
        title.put('L', error_color);
        title.text(plain, " leak ");
        title.put('!', error_color);
        title.text(plain, " error");
    } else {
        const proc& p = ptable[view];
        virtual_map(map_cells, view);
        title.text(proc_color(view), "pid %d %s", view, p.name);
        title.text(bright, p.pagetable ? " virtual memory" : ": no page table (it has ended)");
        if (p.pagetable) {
            title.text(plain, "  . none  - kernel only  r read  w write  C console  ");
            title.put('!', error_color);
            title.text(plain, " not its own");
        }
    }
    title.show(row);
    uintptr_t start = view == VIEW_PHYSICAL ? 0 : virtual_map_start(ptable[view]);
    for (int i = 0; i != MAP_ROWS; ++i) {
        screen_row r;
        r.text(dim, "0x%06lx ", start + (uintptr_t) i * MAP_PER_ROW * PAGESIZE);
        for (int j = 0; j != MAP_PER_ROW; ++j) {
            uint16_t c = map_cells[i * MAP_PER_ROW + j];
            r.put(c & 0xFF, c & 0xFF00);
        }
        r.show(row + 1 + i);
    }
}


// ---- Repainting ----

// The console region's first row in the current view.
static int region_top() {
    return view == VIEW_CONSOLE ? 0 : 1 + panel_procs + 1 + MAP_ROWS;
}

// Tells processes where the console region is, whatever they wrote there,
// and keeps the cursor inside it. Rows the panel gives up are blanked.
static void set_region() {
    int top = region_top();
    for (int row = top; row < shown_top; ++row) {
        screen_row().show(row);
    }
    shown_top = top;
    console_top_slot = top;
    console_cursor_slot = console_cursor();     // clamped to the region
}

static int set_procs;           // how many programs the current set names

// The highest pid that has held a process (fork adds them as it goes).
static int highest_pid() {
    int n = set_procs;
    for (int pid = n + 1; pid != NPROC; ++pid) {
        n = ptable[pid].state != P_FREE ? pid : n;
    }
    return n;
}

static void redraw() {
    panel_procs = min(highest_pid(), PANEL_ROWS);
    set_region();
    if (view == VIEW_CONSOLE) {
        return;
    }
    const sample* now = nullptr;
    const sample* then = nullptr;
    if (!last_second(now, then)) {
        now = then = nullptr;
    }
    draw_help_row();
    for (int pid = 1; pid <= panel_procs; ++pid) {
        draw_proc_row(pid, pid, now, then);
    }
    draw_map(1 + panel_procs);
}

// How many programs `procs` names (each takes a slot, up to MAX_PROCS).
static int program_count(const char* procs) {
    int n = 0;
    for (const char* s = procs; *s; ++s) {
        n += *s != ' ' && (s == procs || s[-1] == ' ');
    }
    return min(n, MAX_PROCS);
}

void screen_init() {
    redraw_ticks = max(1U, bootopt.hz / 10);
    set_procs = panel_procs = min(program_count(bootopt.procs), PANEL_ROWS);
    // Headless runs are read by programs (the tests, bench), which need all
    // 25 rows for what processes print; VIEW=map shows them the panel.
    view = bootopt.headless ? VIEW_CONSOLE : VIEW_PHYSICAL;
    if (strcmp(bootopt.view, "map") == 0) {
        view = VIEW_PHYSICAL;
    } else if (strcmp(bootopt.view, "console") == 0) {
        view = VIEW_CONSOLE;
    } else if (bootopt.view[0]) {
        log_printf("boot option view=%s ignored: not map or console\n", bootopt.view);
    }
    set_region();
}

void screen_tick() {
    // The plain console is the screen with the display off: the kernel
    // leaves it to the processes, as it did before there was a panel.
    if (view == VIEW_CONSOLE) {
        return;
    }
    // The first tick paints at once; later ones each time the clock
    // reaches a multiple of redraw_ticks. (It may advance several ticks at
    // once: compare periods, do not test for a remainder of 0.)
    static uint64_t painted_period = ~0UL;
    uint64_t period = ticks / redraw_ticks;
    if (period != painted_period) {
        painted_period = period;
        take_sample();
        redraw();
    }
}

void screen_next_view() {
    // Physical map, then each process's virtual memory, then the plain
    // console, then around again.
    view = view == VIEW_CONSOLE ? VIEW_PHYSICAL
        : (view < highest_pid() ? view + 1 : VIEW_CONSOLE);
    log_printf("view: %s %d\n", view == VIEW_CONSOLE ? "console"
               : (view == VIEW_PHYSICAL ? "physical" : "virtual"), max(view, 0));
    redraw();
}

void screen_restart(int key, const char* procs) {
    set_procs = panel_procs = min(program_count(procs), PANEL_ROWS);
    view = view > 0 ? VIEW_PHYSICAL : view;
    nsamples = 0;
    console_clear();
    shown_top = 0;
    set_region();
    console_printf(CS_WHITE "key %c: restarting with PROCS=\"%s\"\n", key, procs);
    processes_restart(procs);           // does not return
}


// ---- The memory map as text ('m', and the log of every headless run) ----

void memshow(bool on_console) {
    physical_map(map_cells);
    if (on_console) {
        console_printf(CS_WHITE "physical memory, one character per page:\n");
    }
    log_printf("physical memory, one character per page:\n");
    for (int i = 0; i != MAP_ROWS; ++i) {
        char line[MAP_PER_ROW + 1];
        for (int j = 0; j != MAP_PER_ROW; ++j) {
            line[j] = map_cells[i * MAP_PER_ROW + j] & 0xFF;
        }
        line[MAP_PER_ROW] = '\0';
        uintptr_t addr = (uintptr_t) i * MAP_PER_ROW * PAGESIZE;
        if (on_console) {
            console_printf(CS_WHITE "0x%06lx %s\n", addr, line);
        }
        log_printf("0x%06lx %s\n", addr, line);
    }
}
