"""catalog.py: reads exercises/catalog.txt, the list of the WeensyOS
exercises (see that file for what each field means)."""
import os
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


def read_catalog(path=CATALOG):
    """The exercises in `path`, in order."""
    entries = []
    key = None
    with open(path) as f:
        for n, line in enumerate(f, start=1):
            line = line.rstrip('\n')
            if line.startswith('#') or not line.strip():
                continue
            if line.startswith('[exercise '):
                entries.append({'number': int(line[len('[exercise '):-1])})
            elif line.startswith('    ') and key:
                entries[-1][key] += ('\n' if entries[-1][key] else '') + line[4:]
            elif ':' in line and entries:
                key, value = (s.strip() for s in line.split(':', 1))
                entries[-1][key] = value
            else:
                raise ValueError(f'{path}:{n}: not "field: value": {line!r}')
    exercises = []
    for e in entries:
        outcome, says = (s.strip() for s in e.pop('fails-as').split(':', 1))
        exercises.append(Exercise(attacks=e.pop('attacks').split(), outcome=outcome, says=says,
                                  **e))
    return exercises


EXERCISES = read_catalog()


def by_number(n):
    return next(e for e in EXERCISES if e.number == n)
