"""catalog.py: reads exercises/catalog.txt, the list of the WeensyOS
exercises (see that file for what each field means)."""
import fnmatch
import os
import re
from dataclasses import dataclass

CATALOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'catalog.txt')


@dataclass
class Exercise:
    number: int
    title: str
    file: str               # where its markers are
    attacks: list           # the attack programs that show it
    idea: str               # the lecture's idea, one line
    before: str             # what goes wrong without the defense
    outcome: str            # the grader's outcome code when the attack succeeds
    says: str               # ... and a phrase its sentence then contains
    todo: str               # what to do, for the TODO comment
    start: str = ''         # the lecture's starting code ('' for none)
    points: int = 10
    try_it: str = ''        # the command that shows the attack ('' for the usual)
    handout_says: str = ''  # OLD => NEW lines: comments the handout rewrites
    needs: str = ''         # the earlier exercises its grader relies on ("8 10")

    def prerequisites(self):
        return [int(n) for n in self.needs.split()]

    def try_command(self):
        """The command that boots this exercise's attack the way the grader
        does: beside Alice, unless the catalog says otherwise."""
        return self.try_it or f'make run PROCS="alice {self.attacks[0]}"'

    def rewrites(self):
        """[(old, new)]: the text around the exercise that describes its
        solution, and what the handout says there instead."""
        pairs = []
        for line in self.handout_says.split('\n'):
            if line.strip():
                old, new = (s.strip().replace('\\n', '\n') for s in line.split('=>', 1))
                pairs.append((old, new))
        return pairs


def read_catalog(path=CATALOG):
    """The exercises in `path`, in order, and the handout-wide rewrites (its
    [handout] block): [(file, old, new)]."""
    entries = []
    key = None
    with open(path) as f:
        for n, line in enumerate(f, start=1):
            line = line.rstrip('\n')
            if line.startswith('#') or not line.strip():
                continue
            if line.startswith('[exercise '):
                entries.append({'number': int(line[len('[exercise '):-1])})
            elif line == '[handout]':
                entries.append({'number': None, 'says': ''})
            elif line.startswith('    ') and key:
                entries[-1][key] += ('\n' if entries[-1][key] else '') + line[4:]
            elif ':' in line and entries:
                key, value = (s.strip() for s in line.split(':', 1))
                entries[-1][key] = value
            else:
                raise ValueError(f'{path}:{n}: not "field: value": {line!r}')
    exercises = []
    handout_says = []
    for e in [e for e in entries if e['number'] is None]:
        for line in e['says'].split('\n'):
            if line.strip():
                where, change = line.split(':', 1)
                old, new = (s.strip().replace('\\n', '\n') for s in change.split('=>', 1))
                handout_says.append((where.strip(), old, new))
    for e in [e for e in entries if e['number'] is not None]:
        outcome, says = (s.strip() for s in e.pop('fails-as').split(':', 1))
        e = {k.replace('-', '_'): v for k, v in e.items()}
        exercises.append(Exercise(attacks=e.pop('attacks').split(), outcome=outcome, says=says,
                                  **e))
    return exercises, handout_says


EXERCISES, HANDOUT_SAYS = read_catalog()


def by_number(n):
    return next(e for e in EXERCISES if e.number == n)


def parse_numbers(text):
    """The exercise numbers a list such as "1-3,5" or "10-16" names, in the
    catalog's order; ValueError (saying what is wrong) for any other text
    or for a number that is no exercise."""
    known = [e.number for e in EXERCISES]
    chosen = set()
    for part in text.replace(' ', ',').split(','):
        if not part:
            continue
        m = re.fullmatch(r'(\d+)(?:-(\d+))?', part)
        if not m:
            raise ValueError(f'"{part}" is not a number or a range N-M')
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        numbers = set(range(first, last + 1))
        if not numbers or not numbers <= set(known):
            raise ValueError(f'"{part}": the exercises are {describe_numbers(known)}')
        chosen |= numbers
    if not chosen:
        raise ValueError('no exercise named')
    return [n for n in known if n in chosen]


def describe_numbers(numbers):
    """The list `numbers` as text parse_numbers reads: "1-3,5"."""
    numbers = sorted(numbers)
    runs = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ','.join(f'{a}-{b}' if b > a else f'{a}' for a, b in runs)


# The files a submission supplies: the kernel (the student's to change as
# they see fit) and each exercise's file. Everything else is the course's:
# batch grading and the autograder take only these from a submission, and
# a handout's Classroom workflow checks every other file's checksum.
KERNEL_FILES = ('kernel.cc', 'kernel.hh', 'k-*.cc', 'k-*.hh', 'k-*.S')


def student_file(path):
    return '/' not in path and (any(fnmatch.fnmatch(path, p) for p in KERNEL_FILES)
                                or path in {e.file for e in EXERCISES})
