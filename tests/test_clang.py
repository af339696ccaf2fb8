"""Clang: `make LLVM=1` builds a copy of the tree with Clang and the LLVM
tools, without a warning, and that image boots and defends like the GCC
one; compile_commands.json gives clangd the real flags, and clangd finds no
error in any source file."""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess

import weensy
from weensy import ROOT, test


def need(t, *tools):
    for tool in tools:
        t.check(shutil.which(tool), f'{tool} is missing: install it (./setup)')


@test("make LLVM=1 builds with Clang and ld.lld without a warning; the image boots, Alice counts and Eve's division by zero kills only Eve", proof=True)
def _(t):
    need(t, 'clang++', 'ld.lld', 'llvm-objcopy')
    copy = weensy.fresh_copy('weensyos-clang-')
    status, out, _ = weensy.run(weensy.make_command('-j2', 'LLVM=1'), copy, timeout=300)
    t.check(status == 0, f'make LLVM=1 failed:\n{out[-3000:]}')
    warnings = [l for l in out.splitlines() if 'warning' in l.lower()]
    t.check(not warnings, 'the Clang build printed warnings:\n' + '\n'.join(warnings))
    comment = subprocess.run(['llvm-objdump', '-s', '-j', '.comment', 'obj/kernel.o'], cwd=copy,
                             stdout=subprocess.PIPE, errors='replace').stdout
    t.check('clang' in comment, 'obj/kernel.o was not compiled by Clang')
    b = t.boot('alice eve-div0', ticks=50, tree=copy, qemuextra=weensy.STEADY_CLOCK)
    alice = t.proc(b, 1, 'alice', 'runnable')
    t.check(alice.ticks >= 40, f'Alice got only {alice.ticks} of 50 ticks')
    t.proc(b, 2, 'eve-div0', 'broken')
    t.check(b.killed(2) and b.killed(2)[0].startswith('divide error'),
            f'Eve was not killed for a divide error: {b.killed(2)}')
    t.check(b.console_numbers('Alice'), "no Alice line on the Clang-built kernel's screen")


@test("compile_commands.json names every source file with Clang's flags, and clangd --check finds no error in any source file or header", proof=True)
def _(t):
    need(t, 'clangd')
    with open(os.path.join(ROOT, 'compile_commands.json')) as f:
        entries = json.load(f)
    files = {e['file'] for e in entries}
    sources = {n for n in os.listdir(ROOT) if n.endswith('.cc')}
    sources |= {'tests/programs/' + n for n in os.listdir(os.path.join(ROOT, 'tests/programs'))
                if n.endswith('.cc')}
    t.check(files == sources, f'compile_commands.json lacks {sorted(sources - files)}, '
            f'has extra {sorted(files - sources)}')
    kernel = next(e for e in entries if e['file'] == 'kernel.cc')['arguments']
    t.check(kernel[0] == 'clang++' and '-ffreestanding' in kernel and '-mno-red-zone' in kernel,
            f'kernel.cc is not given the kernel flags: {kernel}')
    checked = sorted(sources) + sorted(n for n in os.listdir(ROOT) if n.endswith(('.hh', '.h')))
    checked += sorted('tests/programs/' + n for n in os.listdir(os.path.join(ROOT, 'tests/programs'))
                      if n.endswith(('.hh', '.h')))

    def check(name):
        # Diagnostics cover the whole file whatever --check-lines says; the
        # option only narrows clangd's trials of its own editor features
        # (hover, refactorings), which take most of the time, to line 1.
        r = subprocess.run(['clangd', f'--check={name}', '--check-lines=1'], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, errors='replace',
                           timeout=120)
        # A diagnostic is "E[time] [name] Line N: message". clangd also
        # logs failed trials of its refactorings ("tweak: ... FAIL") as
        # errors; those say nothing about the code.
        errors = [l for l in r.stdout.splitlines() if re.match(r'E\[[^]]*\] \[[^]]*\] Line \d+:', l)]
        done = 'All checks completed' in r.stdout
        return name, errors if done else ['clangd --check did not complete:\n' + r.stdout[-1500:]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=weensy.CORES) as pool:
        results = list(pool.map(check, checked))
    bad = [f'{name}:\n' + '\n'.join('  ' + e for e in errors) for name, errors in results if errors]
    t.check(not bad, 'clangd reports errors:\n' + '\n'.join(bad))
