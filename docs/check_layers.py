#!/usr/bin/env python3
"""Checks that include/sr follows the layering docs/architecture.md states.

The "Layers" table of docs/architecture.md lists the layers from the bottom up; its first column
names each layer's folders (`core/`) or headers (`autograd/node.hpp`). A header belongs to the
most specific entry naming it (a header entry beats its folder's entry). The rule checked: a
header includes only headers of its own layer or of layers above it in the table (lower layers),
and the include graph of include/sr has no cycle. The umbrella headers (sr.hpp, engine.hpp) include
every layer by design and are exempt. Also checked: engine.hpp, the umbrella of the CMake target
sr::sr, reaches no header that includes an image codec's header (png.h, jpeglib.h, stb), which need
sr::image. Prints every violation; exit status 1 if any.

    python3 docs/check_layers.py [repository root]
"""
import re
import sys
from pathlib import Path

root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
include_dir = root / "include" / "sr"
doc = (root / "docs" / "architecture.md").read_text()

# The table after "## Layers": rows "| `a/`, `b/c.hpp` | ... |", bottom layer first.
section = doc.split("## Layers", 1)[1].split("\n## ", 1)[0]
layers = []  # (rank, [entries])
for line in section.splitlines():
    if not line.startswith("|") or line.startswith("| ---") or line.startswith("| folder"):
        continue
    first_cell = line.split("|")[1]
    entries = re.findall(r"`([^`]+)`", first_cell)
    if entries:
        layers.append(entries)
if not layers:
    sys.exit("check_layers: no layer table found in docs/architecture.md")

def layer_of(header):  # header: path relative to include/sr, e.g. "ops/conv2d.hpp"
    best, best_len = None, -1
    for rank, entries in enumerate(layers):
        for entry in entries:
            if entry.endswith("/"):
                match = header.startswith(entry) and "/" not in header[len(entry):]
            else:
                match = header == entry
            specificity = len(entry) + (1000 if not entry.endswith("/") else 0)
            if match and specificity > best_len:
                best, best_len = rank, specificity
    return best

headers = sorted(p.relative_to(include_dir).as_posix() for p in include_dir.rglob("*.hpp"))
headers += sorted(p.relative_to(include_dir).as_posix()[:-3] for p in include_dir.rglob("*.hpp.in"))
umbrellas = {"sr.hpp", "engine.hpp"}
codec_include = re.compile(r'^\s*#\s*include\s+<(png\.h|jpeglib\.h|jerror\.h|(stb/)?stb_[^>]*)>', re.M)
graph = {}
codec_headers = set()  # headers that include a codec library's header themselves
problems = []
for header in headers:
    path = include_dir / header
    if not path.exists():
        path = include_dir / (header + ".in")
    text = path.read_text()
    targets = re.findall(r'^\s*#\s*include\s+"sr/([^"]+)"', text, re.M)
    graph[header] = targets
    if codec_include.search(text):
        codec_headers.add(header)
    if header in umbrellas:
        continue
    rank = layer_of(header)
    if rank is None:
        problems.append(f"{header}: in no layer of the table in docs/architecture.md")
        continue
    for target in targets:
        target_rank = layer_of(target)
        if target_rank is None:
            continue  # reported as its own header
        if target_rank > rank:
            problems.append(f"{header} (layer {rank}: {', '.join(layers[rank])}) includes {target} "
                            f"(layer {target_rank}: {', '.join(layers[target_rank])}), a higher layer")

# Cycles: depth-first search over the header graph.
state = {}
def visit(node, stack):
    state[node] = "open"
    stack.append(node)
    for target in graph.get(node, []):
        if state.get(target) == "open":
            problems.append("include cycle: " + " -> ".join(stack[stack.index(target):] + [target]))
        elif target not in state and target in graph:
            visit(target, stack)
    stack.pop()
    state[node] = "done"
for header in headers:
    if header not in state:
        visit(header, [])

# engine.hpp (sr::sr) must not reach a codec: a path from it to the first codec header found.
def codec_path(node, seen):
    if node in codec_headers:
        return [node]
    seen.add(node)
    for target in graph.get(node, []):
        if target not in seen:
            path = codec_path(target, seen)
            if path:
                return [node] + path
    return None
if "engine.hpp" in graph:
    path = codec_path("engine.hpp", set())
    if path:
        problems.append("engine.hpp (sr::sr, no image codecs) reaches a codec's header: " + " -> ".join(path))
else:
    problems.append("engine.hpp, the umbrella header of sr::sr, is missing")

for p in problems:
    print("check_layers:", p)
edges = sum(len(v) for v in graph.values())
print(f"check_layers: {len(headers)} headers, {edges} includes, {len(layers)} layers, "
      f"{len(codec_headers)} codec headers: "
      f"{'OK' if not problems else str(len(problems)) + ' problem(s)'}")
sys.exit(1 if problems else 0)
