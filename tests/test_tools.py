"""The command lines of the tools around the kernel: each answers --help
with its usage and exit status 0, and a bad option with one line that
names the option and --help, exit status 2, before doing any work."""
import re

import weensy
from weensy import test

TOOLS = [
    ['python3', 'exercises/grade.py'],
    ['python3', 'exercises/grade.py', '--batch', 'no-such-folder'],
    ['python3', 'exercises/tool.py'],
    ['python3', 'exercises/tool.py', 'handout', 'no-such-folder'],
    ['python3', 'tests/bench.py'],
    ['python3', 'tests/soak.py'],
    ['python3', 'tests/run.py'],
    ['python3', 'exercises/catalog.py', 'lecture-before', 'eve-spin'],
]


@test("Every tool (grade.py, its --batch, tool.py, bench.py, soak.py, run.py, catalog.py) answers --help with a "
      "usage line and status 0, and a bad option with one line naming it and --help, status "
      "2, at once")
def _(t):
    for tool in TOOLS:
        name = ' '.join(tool[1:])
        status, out, seconds = weensy.run(tool + ['--help'], timeout=30)
        t.check(status == 0 and out.startswith('usage: '),
                f'{name} --help: status {status}:\n{out[:400]}')
        if tool[-1] == 'exercises/tool.py':
            continue                # its commands' own lines below take the bad option
        status, out, seconds = weensy.run(tool + ['--no-such-option'], timeout=30)
        lines = out.strip().splitlines()
        t.check(status == 2 and len(lines) == 1 and '--no-such-option' in lines[0]
                and re.search(r'--help lists the options\)$', lines[0]) and seconds < 10,
                f'{name} --no-such-option: status {status} after {seconds:.1f}s:\n{out[:400]}')
