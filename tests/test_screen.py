"""The live screen (k-screen.cc): the status panel, the memory maps, the
views behind `v`, the lecture keys, repainting over Eve's forgeries, its
cost, and the panel in a real terminal. Headless runs show the plain
console unless VIEW=map, so these boots ask for the panel."""
import os
import itertools
import re
import shlex
import shutil
import subprocess

import weensy
from weensy import ROOT, STEADY_CLOCK, test

# A process row: pid, name, share of the CPU, bar, system calls a second,
# pages and parent (but for a killed process), state.
PROC_ROW = re.compile(r'^ ?(\d+) (\S+) +(\d+)% [#.]{10} +(\d+)/s +(?:(\d+) pg par (\d+) +)?(.*)$')
MAP_ROW = re.compile(r'^0x([0-9a-f]{6}) (.{64})$')


def panel(b):
    """{pid: (name, share, calls per second, state)} from boot b's screen."""
    return panel_rows(b.console)


def panel_rows(screen):
    """{pid: (name, share, calls per second, state)} from these screen rows."""
    return {pid: row[:4] for pid, row in panel_with_pages(None, screen).items()}


def panel_with_pages(b, screen=None):
    """{pid: (name, share, calls per second, state, pages, parent)} from
    boot b's screen (or these screen rows)."""
    rows = {}
    for line in b.console if screen is None else screen:
        m = PROC_ROW.match(line)
        if m:
            rows[int(m.group(1))] = (m.group(2), int(m.group(3)), int(m.group(4)), m.group(7),
                                     m.group(5) and int(m.group(5)), m.group(6) and int(m.group(6)))
    return rows


def screen_map(b):
    """The map on boot b's screen: its title row and {address: character}."""
    return screen_map_rows(b.console)


def screen_map_rows(screen):
    """The map in these screen rows: its title row and {address: character}
    (only the rows painted, if the screen was read during a repaint)."""
    for i, line in enumerate(screen):
        if MAP_ROW.match(line):
            cells = {}
            for m in itertools.takewhile(bool, map(MAP_ROW.match, screen[i:i + 8])):
                base = int(m.group(1), 16)
                for j, c in enumerate(m.group(2)):
                    cells[base + j * 4096] = c
            return screen[i - 1], cells
    return None, {}


@test("The panel names each process in its own row (state, CPU share, system calls a second) "
      "and the physical map shows each process's digit in its own slot and K at 0x40000 "
      "(the lecture's kernel)")
def _(t):
    b = t.boot_lecture('alice eve', ticks=60, view='map')
    rows = panel(b)
    t.check(sorted(rows) == [1, 2], f'process rows for pids {sorted(rows)}, expected 1 and 2:\n'
            + '\n'.join(b.console))
    for pid, name in ((1, 'alice'), (2, 'eve')):
        got, share, calls, state = rows[pid]
        t.check(got == name and state == 'runnable', f'row {pid}: {rows[pid]}')
        t.check(calls > 1000, f'{name} makes {calls} system calls a second on the panel')
        # Both yield every iteration: the panel's rate follows the summary's count.
        summary_rate = b.proc(pid).syscalls * 100 / b.ticks
        t.check(0.5 * summary_rate < calls < 2 * summary_rate,
                f'{name}: panel says {calls}/s, the summary {summary_rate:.0f}/s')
    title, cells = screen_map(b)
    t.check(title and title.startswith('physical memory'), f'map title {title!r}')
    t.check(len(cells) == 512, f'the screen map has {len(cells)} pages, expected 512')
    t.check(cells[0x40000] == 'K', f'0x40000 shows {cells[0x40000]!r}, not K')
    t.check(cells[0xB8000] == 'C', 'the console page is not C')
    t.check('P' in cells.values(), 'no page-table page marked P')
    for pid in (1, 2):
        base = 0x100000 + (pid - 1) * 0x40000
        slot = [cells[a] for a in range(base, base + 0x40000, 4096)]
        t.check(slot[0] == str(pid) and slot[-1] == str(pid),
                f'slot {pid} starts or ends without digit {pid}: {"".join(slot)}')
        t.check(set(slot) <= {str(pid), '.'}, f'slot {pid} shows {"".join(slot)}')
    t.check('!' not in cells.values(), 'a page-table error cell on a healthy machine')
    # The console region scrolls under the map: Alice's lines keep counting there.
    a = b.console_numbers('Alice')
    t.check(len(a) >= 3 and a == list(range(a[0], a[0] + len(a))),
            f"Alice's lines below the map are not consecutive: {a}")


@test("With alice and eve-spin on the steady clock, the panel gives Eve a clearly larger "
      "share of the CPU than Alice, the two summing to about 100%")
def _(t):
    b = t.boot('alice eve-spin', ticks=200, qemuextra=STEADY_CLOCK, view='map')
    rows = panel(b)
    t.check(sorted(rows) == [1, 2], f'process rows {rows}')
    alice, eve = rows[1][1], rows[2][1]
    t.check(eve >= alice + 50, f'Eve has {eve}%, Alice {alice}%: not clearly more')
    t.check(98 <= alice + eve <= 102, f'shares sum to {alice + eve}%')
    t.check(rows[2][2] == 0, f'spinning Eve makes {rows[2][2]} system calls a second')


@test("A process killed by a fault shows a shortened kill reason in its row")
def _(t):
    b = t.boot('alice eve-div0', ticks=60, view='map')
    row = next((l for l in b.console if re.match(r'^ ?2 eve-div0 ', l)), '')
    t.check(row.endswith('killed: divide error, rip=0x'
                         + b.proc(2).reason.split('rip=0x')[1]),
            f"Eve's row does not give her kill reason: {row!r}")


@test("Eve paints a forged summary over the panel: it is on screen between two repaints and "
      "gone at the next one (every tenth of a second)")
def _(t):
    # On the steady clock Eve gets her turns between two repaints however
    # busy the host is.
    forged = t.boot('alice eve-forge', ticks=35, view='map', qemuextra=STEADY_CLOCK)
    t.check(forged.console[0] == 'summary: ticks=1',
            f'the forgery is not on screen 5 ticks after a repaint: {forged.console[:3]}')
    t.check(forged.procs[2].name == 'eve-forge', 'the real summary was not read')
    clean = t.boot('alice eve-forge', ticks=40, view='map', qemuextra=STEADY_CLOCK)
    t.check(clean.console[0].startswith(' WeensyOS'),
            f'the help row is not back at the repaint: {clean.console[0]!r}')
    t.check(panel(clean).keys() == {1, 2} and 'summary: ticks=1' not in clean.console,
            'the forged rows outlived the repaint:\n' + '\n'.join(clean.console[:8]))


@test("Eve writes garbage console-region and cursor values (negative, huge, past the screen) "
      "between her lines: whoever reads them clamps them, the kernel does not fault, and the "
      "panel and Alice's lines survive")
def _(t):
    b = t.boot('alice eve-region', ticks=80, view='map')
    t.check(not any(l.startswith('PANIC') for l in b.lines), 'the kernel panicked')
    t.proc(b, 1, 'alice', 'runnable')
    t.proc(b, 2, 'eve-region', 'runnable')
    t.check(panel(b).keys() == {1, 2}, 'the panel is gone:\n' + '\n'.join(b.console))
    t.check(screen_map(b)[1].get(0x40000) == 'K', 'the map is gone')
    t.check(b.console_numbers('Alice') and b.console_numbers('Eve'),
            "Alice's and Eve's lines are not on the screen")


def whole_virtual_map(rows):
    """Whether these screen rows hold a process's whole virtual memory map
    (read during a repaint, they may not yet: the title may be the new
    one while some rows are still the physical map's, with its pids and
    letters, which a virtual map never shows)."""
    title, cells = screen_map_rows(rows)
    return ((title or '').startswith('pid ') and len(cells) == 512
            and set(cells.values()) <= set('.-Crw!'))


def plain_console(rows):
    """Whether these screen rows are the plain console: no map, no help row."""
    return screen_map_rows(rows)[0] is None and not rows[0].lstrip().startswith('WeensyOS')


@test("v switches to pid 1's virtual memory (read-only code, writable stack, the console, "
      "kernel-only pages), then pid 2's, then the plain console (the lecture's kernel)")
def _(t):
    with t.live('alice eve', view='map', image=weensy.LECTURE_IMAGE) as run:
        run.key('v')
        run.wait_for(r'^view: ')
        # The key's own repaint follows its log line.
        title, cells = screen_map_rows(run.screen_when(whole_virtual_map, 'a virtual map'))
        for key in ('v', 'v'):
            run.key(key)
            run.wait_for(r'^view: ')
        rows = run.screen_when(plain_console, 'the plain console')
        b = run.end()
    views = [l for l in b.log_lines if l.startswith('view: ')]
    t.check(views == ['view: virtual 1', 'view: virtual 2', 'view: console 0'],
            f'the views went {views}')
    t.check(title and title.startswith('pid 1 alice virtual memory'), f'map title {title!r}')
    t.check(cells[0x100000] == 'r', f"Alice's code page shows {cells[0x100000]!r}, not r")
    t.check(cells[0x13F000] == 'w', f"Alice's stack page shows {cells[0x13F000]!r}, not w")
    t.check(cells[0xB8000] == 'C' and cells[0x40000] == '-' and cells[0] == '.',
            f'console {cells[0xB8000]!r}, kernel {cells[0x40000]!r}, page 0 {cells[0]!r}')
    t.check(set(cells[a] for a in range(0x140000, 0x200000, 4096)) <= {'-', '.'},
            "Eve's slot is not kept from Alice in her page table")
    t.check(not any(row.lstrip().startswith('WeensyOS') for row in rows),
            'the plain console shows the help row:\n' + '\n'.join(rows))


@test("Lecture key 1 restarts the machine with alice and eve-spin, 3 with eve-div0, 0 with "
      "alice and eve: the old processes' pages and page tables are given back and the "
      "counters start over")
def _(t):
    fresh = t.boot('alice eve', ticks=20)
    fresh_pts = list(fresh.memory_map().values()).count('P')
    # On the steady clock: a busy host that stalls QEMU makes the kernel's
    # clock catch up several ticks at once, and the run's end drops the rest.
    with t.live('alice eve', view='map', qemuextra=STEADY_CLOCK) as run:
        for key, procs in (('1', 'alice eve-spin'), ('3', 'alice eve-div0')):
            run.key(key)
            run.wait_for(f'^restart at tick \\d+: PROCS="{procs}"$')
        run.wait_for(r'^proc 2 killed: ')      # eve-div0 ran before the next restart
        run.key('0')
        run.wait_for(r'^restart at tick \d+: PROCS="alice eve"$')
        run.screen_when(lambda rows: panel_rows(rows).keys() == {1, 2}, 'the new panel')
        b = run.end()
    restarts = [l for l in b.log_lines if l.startswith('restart at tick ')]
    t.check([r.split(': ', 1)[1] for r in restarts]
            == ['PROCS="alice eve-spin"', 'PROCS="alice eve-div0"', 'PROCS="alice eve"'],
            f'restarts: {restarts}')
    t.check([k.split(',')[0] for k in b.killed(2)] == ['divide error'],
            f'eve-div0 was not run and killed once: {b.killed(2)}')
    t.proc(b, 1, 'alice', 'runnable')
    t.proc(b, 2, 'eve', 'runnable')
    last = int(re.match(r'restart at tick (\d+)', restarts[-1]).group(1))
    charged = sum(p.ticks for p in b.procs.values())
    t.check(charged <= b.ticks - last + 1,
            f'{charged} ticks charged, but only {b.ticks - last} passed since the restart')
    mm = b.memory_map()
    t.check(list(mm.values()).count('P') == fresh_pts,
            f'{list(mm.values()).count("P")} page-table pages after three restarts, '
            f'{fresh_pts} at boot: page tables leaked')
    t.check(panel(b).keys() == {1, 2} and panel(b)[2][0] == 'eve', f'panel {panel(b)}')


@test("The live screen costs under 2% of the CPU at HZ=100 (p-tickcost under -icount, "
      "panel on against off)")
def _(t):
    stolen = {}
    for view in ('console', 'map'):
        b = t.boot('tickcost:100', ticks=100000, hz=100, qemuextra='-icount shift=0',
                   view=view, status=0)
        m = next((re.match(r'^tickcost ticks=100 stolen=(\d+) total=(\d+)$', l)
                  for l in b.console if l.startswith('tickcost')), None)
        t.check(m, f'VIEW={view}: no tickcost line on the screen')
        stolen[view] = int(m.group(1)) / int(m.group(2))
    t.check(stolen['map'] > stolen['console'], f'the panel costs nothing? {stolen}')
    cost = stolen['map'] - stolen['console']
    t.check(cost < 0.02, f'the live screen takes {100 * cost:.2f}% of the CPU')


@test("make run-console in an 80x25 terminal (tmux) shows the help row, a row per process, "
      "the map and Alice's lines below them")
def _(t):
    t.check(shutil.which('tmux'), 'tmux is missing: install it (Debian/Ubuntu: sudo apt-get install tmux)')
    # A tmux server of our own (its own socket): a user's tmux is never touched.
    server = ['tmux', '-L', f'weensy-screen-{os.getpid()}', '-f', '/dev/null']

    def tmux(*args):
        return subprocess.run(server + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, errors='replace', timeout=10).stdout
    try:
        with weensy.qemu_slots:
            tmux('new-session', '-d', '-s', 'weensy', '-x', '80', '-y', '25', '-c', ROOT,
                 shlex.join(weensy.make_command('run-console', PROCS='alice eve', VIEW='map')))
            screen = ''

            def panel_shown():
                nonlocal screen
                screen = tmux('capture-pane', '-p', '-t', 'weensy')
                return ("Hi, I'm Alice!" in screen and 'physical memory' in screen
                        and re.search(r'^ ?1 alice +\d+% ', screen, re.M)
                        and re.search(r'^ ?2 eve +\d+% ', screen, re.M))
            t.check(weensy.wait_until(panel_shown, 20),
                    'the panel, map and Alice did not all appear within 20 s; the terminal shows:\n'
                    + screen)
            t.check(screen.splitlines()[0].lstrip().startswith('WeensyOS'),
                    f'the first row is not the help row: {screen.splitlines()[0]!r}')
            tmux('send-keys', '-t', 'weensy', 'q')
            t.check(weensy.wait_until(lambda: 'physical memory' not in
                             tmux('capture-pane', '-p', '-t', 'weensy'), 5),
                    'the screen is still up 5 s after q')
    finally:
        tmux('kill-server')


@test("On the problem set's kernel the panel gives each process its pages and parent, and after "
      "p-fork the map shows shared code (S), page tables (P) and no leak (L)")
def _(t):
    b = t.boot('fork', ticks=60, qemuextra=STEADY_CLOCK, view='map')
    rows = panel_with_pages(b)
    t.check(sorted(rows) == [1, 2, 3, 4], f'process rows {sorted(rows)}:\n' + '\n'.join(b.console))
    parents = {pid: row[5] for pid, row in rows.items()}
    t.check(parents == {1: 0, 2: 1, 3: 1, 4: 2}, f'parents on the panel: {parents}')
    t.check(all(row[4] and row[4] >= 4 for row in rows.values()), f'pages on the panel: {rows}')
    title, cells = screen_map(b)
    t.check(title and 'S shared' in title, f'map title {title!r}')
    t.check('S' in cells.values() and 'P' in cells.values() and 'L' not in cells.values(),
            'the map lacks S or P, or shows L:\n' + '\n'.join(b.console))


@test("The panel's rates stay whole across slot reuse: beside forkexit, whose children exit "
      "and whose next fork takes a slot whose counters start over, every share is 0-100% and "
      "they sum to at most 100%, and no rate is larger than the calls a second can hold")
def _(t):
    # Ten boots, their panels read at ten different ticks: a repaint that
    # follows a slot's reuse is among them.
    for ticks in range(41, 141, 10):
        b = t.boot('alice forkexit', ticks=ticks, qemuextra=STEADY_CLOCK, view='map')
        rows = panel(b)
        t.check(1 in rows and 2 in rows, f'TICKS={ticks}: process rows {rows}')
        shares = [share for _, share, _, _ in rows.values()]
        t.check(all(0 <= s <= 100 for s in shares) and sum(shares) <= 100 + len(shares),
                f'TICKS={ticks}: shares {shares}:\n' + '\n'.join(b.console[:8]))
        # A system call takes at least a few dozen guest instructions: a
        # rate of ten million a second is a counter that wrapped.
        calls = {pid: c for pid, (_, _, c, _) in rows.items()}
        t.check(all(c < 10_000_000 for c in calls.values()),
                f'TICKS={ticks}: calls a second {calls}:\n' + '\n'.join(b.console[:8]))
