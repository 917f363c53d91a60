#!/usr/bin/env python3
"""Doxygen input filter for include/sr: plain `//` comments become documentation comments.

A block of `//` lines outside function bodies becomes `///` (the documentation of the declaration
below it), a `// ...` after a declaration on the same line becomes `///< ...`. Doxygen's own
commands are not used in the headers, so backslashes and at-signs are escaped to reach the page
as written. Line numbers are kept, so warnings point at the real lines.
"""
import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
out = []
depth = 0  # brace depth; function bodies are where a `{` follows a `)`
body_depths = []
for line in text.split("\n"):
    stripped = line.lstrip()
    in_body = bool(body_depths)
    if stripped.startswith("//") and not stripped.startswith("///") and not in_body:
        comment = stripped[2:]
        comment = comment.replace("\\", "\\\\").replace("@", "\\@").replace("<", "\\<").replace(">", "\\>")
        comment = comment.replace("#", "\\#").replace("%", "\\%").replace("&", "\\&").replace("$", "\\$")
        line = line[: len(line) - len(stripped)] + "///" + comment
    elif not in_body:
        m = re.match(r"^(.*?[;,{])\s*//(?!/)(.*)$", line)
        if m and '"' not in m.group(1):
            comment = m.group(2).replace("\\", "\\\\").replace("@", "\\@").replace("<", "\\<").replace(">", "\\>")
            comment = comment.replace("#", "\\#").replace("%", "\\%").replace("&", "\\&").replace("$", "\\$")
            line = m.group(1) + " ///<" + comment
    code = re.sub(r'"(\\.|[^"\\])*"', '""', line.split("//")[0])
    code = re.sub(r"'(\\.|[^'\\])*'", "''", code)
    for i, ch in enumerate(code):
        if ch == "{":
            depth += 1
            before = code[:i].rstrip()
            if body_depths or re.search(r"(\)|\bconst|\boverride|\bnoexcept|\btry|\]|\belse|\bdo|\)\s*->\s*[\w:<>, ]+)$",
                                        before):
                body_depths.append(depth)
        elif ch == "}":
            if body_depths and body_depths[-1] == depth:
                body_depths.pop()
            depth -= 1
    out.append(line)
sys.stdout.write("\n".join(out))
