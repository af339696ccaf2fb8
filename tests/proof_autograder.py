"""proof_autograder.py: Gradescope's autograder zip grades real uploads
right (slow: every upload is built and booted; `make proof`)."""
import os
import subprocess
import zipfile

import weensy
from weensy import test


@test("make autograder's zip, run against a simulated root, grades a solved kernel.cc uploaded "
      "loose 20/20, and a zipped folder with exercise 1 solved and a tampered grader and "
      "GNUmakefile 10/20, naming the files it did not use")
def _(t):
    with weensy.autograder_zip(t, '1,3') as (tmp, zip_path):
        full = weensy.read('kernel.cc')
        r, out = weensy.autograde(zip_path, os.path.join(tmp, 'solved'), lambda sub: open(
            os.path.join(sub, 'kernel.cc'), 'w').write(full))
        t.check(r['score'] == 20 and r['output_format'] == 'text', f'solved: {r}\n{out}')

        def zipped(sub):
            folder = os.path.join(tmp, 'mine', 'weensyos')
            os.makedirs(os.path.join(folder, 'exercises'))
            # Exercise 1 solved, 3 (and later) the lecture's starting code.
            subprocess.run(['python3', 'exercises/catalog.py', 'before', '2', 'kernel.cc',
                            os.path.join(folder, 'kernel.cc')], cwd=weensy.ROOT, check=True)
            open(os.path.join(folder, 'exercises', 'grade.py'), 'w').write('print("2 passed, 0 failed")\n')
            open(os.path.join(folder, 'GNUmakefile'), 'w').write('grade:\n\t@echo 2 passed, 0 failed\n')
            with zipfile.ZipFile(os.path.join(sub, 'weensyos.zip'), 'w') as z:
                for f in ('kernel.cc', 'exercises/grade.py', 'GNUmakefile'):
                    z.write(os.path.join(folder, f), 'weensyos/' + f)
        r, out = weensy.autograde(zip_path, os.path.join(tmp, 'zipped'), zipped)
        t.check(r['score'] == 10 and [x['score'] for x in r['tests']] == [10, 0]
                and 'not used' in r['output'] and 'exercises/grade.py' in r['output']
                and 'GNUmakefile' in r['output'],
                f'a zipped half-solved, tampered upload: {r}\n{out}')


@test("make autograder's zip grades the handout's own kernel.cc 0/20 with a reason per "
      "exercise, a kernel that hangs at boot 0 within the time limit, saying so, and a folder "
      "upload with a changed p-alice.cc by the course's Alice, naming the file it did not use")
def _(t):
    with weensy.autograder_zip(t, '1,3') as (tmp, zip_path):
        full = weensy.read('kernel.cc')
        subprocess.run(['python3', 'exercises/catalog.py', 'before', '1', 'kernel.cc',
                        os.path.join(tmp, 'unsolved.cc')], cwd=weensy.ROOT, check=True)
        unsolved = open(os.path.join(tmp, 'unsolved.cc')).read()
        r, out = weensy.autograde(zip_path, os.path.join(tmp, 'unsolved'), lambda sub: open(
            os.path.join(sub, 'kernel.cc'), 'w').write(unsolved))
        t.check(r['score'] == 0 and len(r['tests']) == 2
                and all(x['score'] == 0 and x['output'] for x in r['tests']),
                f'the unsolved handout: {r}\n{out}')
        hang = full.replace('void kernel_start() {\n',
                            'void kernel_start() {\n    for (;;) {\n        asm volatile("pause");\n    }\n', 1)
        t.check(hang != full, 'kernel.cc has no kernel_start to make hang')
        r, out = weensy.autograde(zip_path, os.path.join(tmp, 'hangs'), lambda sub: open(
            os.path.join(sub, 'kernel.cc'), 'w').write(hang), {'WEENSY_TIME_LIMIT': '60'})
        t.check(r['score'] == 0 and 'time limit' in r['output'], f'a kernel that hangs: {r}\n{out}')

        def folder(sub):
            os.makedirs(os.path.join(sub, 'mine'))
            open(os.path.join(sub, 'mine', 'kernel.cc'), 'w').write(full)
            open(os.path.join(sub, 'mine', 'p-alice.cc'), 'w').write(
                '#include "u-lib.hh"\nvoid process_main() {\n    sys_exit();\n}\n')
        r, out = weensy.autograde(zip_path, os.path.join(tmp, 'folder'), folder)
        t.check(r['score'] == 20 and 'p-alice.cc' in r['output'] and 'not used' in r['output'],
                f'a folder with a changed Alice: {r}\n{out}')
