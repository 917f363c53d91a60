#!/usr/bin/env python3
"""Keeps the example code shown in docs/library.md identical to examples/.

Every ```cpp block of docs/library.md whose first line is `// examples/<file>` must hold exactly
that file's text after that line. With --write the blocks are refreshed from the files instead.

    python3 docs/check_examples.py [--write] [repository root]
"""
import re
import sys
from pathlib import Path

args = [a for a in sys.argv[1:] if a != "--write"]
write = "--write" in sys.argv[1:]
root = Path(args[0] if args else Path(__file__).resolve().parent.parent)
doc_path = root / "docs" / "library.md"
doc = doc_path.read_text()
pattern = re.compile(r"```cpp\n// (examples/[\w./-]+)\n(.*?)```", re.S)
problems, shown = [], []

def replace(match):
    name, body = match.group(1), match.group(2)
    shown.append(name)
    actual = (root / name).read_text()
    if body != actual:
        problems.append(f"docs/library.md: the code shown for {name} differs from the file")
    return f"```cpp\n// {name}\n{actual}```"

refreshed = pattern.sub(replace, doc)
if write:
    doc_path.write_text(refreshed)
    problems = []
for name in sorted(p.relative_to(root).as_posix() for p in (root / "examples").glob("*.[ch]pp")):
    if name not in shown:
        problems.append(f"docs/library.md: shows no code of {name}")
for p in problems:
    print("check_examples:", p)
print(f"check_examples: {len(shown)} example file(s) shown: {'OK' if not problems else 'FAILED'}")
sys.exit(1 if problems else 0)
