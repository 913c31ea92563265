#!/usr/bin/env python3
"""Import circles between the files of src/.

Builds the file-level graph of the library crate (src/lib.rs and the modules it declares): an
edge A -> B for every `use` declaration and every `crate::`, `super::`, `self::` or child-module
path in A that names an item defined in B, re-exports followed to the file that defines the item.
Prints each group of files that reach one another, with the edges inside it.

Usage: scripts/dev/import_cycles.py [--edges] [SRC_DIR]
  SRC_DIR   the crate's source folder (default: src)
  --edges   also print every edge, `from -> to (paths)`
Exits 0 when there is no circle, 1 when there is one.
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

VIS = r"(?:pub(?:\s*\([^)]*\))?\s+)?"
ITEM = re.compile(
    r"^" + VIS + r"(?:(?:unsafe|async|const|extern\s+\"C\")\s+)*"
    r"(?:fn|struct|enum|trait|type|const|static|union)\s+([A-Za-z_]\w*)"
)
MACRO = re.compile(r"^macro_rules!\s*([A-Za-z_]\w*)")
MOD = re.compile(r"^" + VIS + r"mod\s+([A-Za-z_]\w*)\s*([;{])")
USE = re.compile(r"^(" + VIS + r")use\s+([^;]*);", re.S)
PATH = re.compile(r"(?<![\w:])(?:[A-Za-z_]\w*\s*::\s*)+[A-Za-z_]\w*")
CHAR = re.compile(r"'(?:\\u\{[0-9a-fA-F]+\}|\\x[0-9a-fA-F]{2}|\\.|[^\\'])'")


def blank(s):
    return re.sub(r"[^\n]", " ", s)


def strip(text):
    """The source with comments, strings and char literals blanked; offsets and lines kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        word_before = i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")
        raw = None if word_before else re.match(r'b?r(#*)"', text[i : i + 260])
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                step = text[j : j + 2]
                depth += {"/*": 1, "*/": -1}.get(step, 0)
                j += 2 if step in ("/*", "*/") else 1
        elif raw:
            end = text.find('"' + raw.group(1), i + raw.end())
            j = n if end < 0 else end + 1 + len(raw.group(1))
        elif text[i] == '"' or (text.startswith('b"', i) and not word_before):
            j = text.index('"', i) + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
        elif text[i] == "'" and (m := CHAR.match(text, i)):
            j = m.end()
        else:
            out.append(text[i])
            i += 1
            continue
        out.append(blank(text[i:j]))
        i = j
    return "".join(out)


def parse_use(tree):
    """The (segments, name) pairs of a `use` tree; name '*' for a glob."""
    out = []

    def walk(s, prefix):
        depth, parts, start = 0, [], 0
        for k, ch in enumerate(s):
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if ch == "," and depth == 0:
                parts.append(s[start:k])
                start = k + 1
        parts.append(s[start:])
        for part in filter(None, (p.strip() for p in parts)):
            if "{" in part:
                brace = part.index("{")
                head = [p.strip() for p in part[:brace].split("::") if p.strip()]
                walk(part[brace + 1 : part.rindex("}")], prefix + head)
                continue
            m = re.match(r"^(.*?)(?:\s+as\s+(\w+))?$", part, re.S)
            segs = prefix + [p.strip() for p in m.group(1).split("::") if p.strip()]
            if segs[-1] == "*":
                out.append((segs[:-1], "*"))
            elif segs[-1] == "self":
                out.append((segs[:-1], m.group(2) or segs[-2]))
            else:
                out.append((segs, m.group(2) or segs[-1]))

    walk(tree.strip().removeprefix("::"), [])
    return out


class Module:
    def __init__(self, path, file, parent, span):
        self.path, self.file, self.parent, self.span = path, file, parent, span
        self.children = {}  # name -> Module
        self.items = set()  # names defined here
        self.uses = []  # (segments, name): `use` declarations, re-exports included
        self.paths = []  # segments of paths written in code


def read_crate(root_file):
    modules = []

    def read(path, file, parent):
        source = file.read_text()
        text = strip(source)
        top = Module(path, file, parent, (0, len(text) + 1))
        modules.append(top)
        depth = [0] * (len(text) + 1)  # brace depth before each offset
        for k, ch in enumerate(text):
            depth[k + 1] = depth[k] + {"{": 1, "}": -1}.get(ch, 0)
        inline = [top]
        use_spans = []
        heads = [0] + [m.end() for m in re.finditer(r"[{};]", text)]
        for h in heads:
            at = h
            attributes = at
            while True:  # attributes such as #[cfg(test)] come before the item
                at += len(text[at:]) - len(text[at:].lstrip())
                if not re.match(r"#!?\[", text[at : at + 3]):
                    break
                k, d = text.index("[", at) + 1, 1
                while d:
                    d += {"[": 1, "]": -1}.get(text[k], 0)
                    k += 1
                at = k
            mod = max((m for m in inline if m.span[0] <= at < m.span[1]), key=lambda m: len(m.path))
            if depth[at] != depth[mod.span[0]] + (mod is not top):
                continue
            s = text[at : at + 4000]
            if m := MOD.match(s):
                name = m.group(1)
                mod.items.add(name)
                if m.group(2) == ";":
                    own = file.parent if file.name in ("mod.rs", "lib.rs", "main.rs") else file.with_suffix("")
                    child = own / f"{name}.rs"
                    if not child.exists():
                        child = own / name / "mod.rs"
                    # `#[path = "file.rs"]` names the file, relative to the declaring file's folder.
                    if given := re.search(r'#\[path\s*=\s*"([^"]+)"\]', source[attributes:at]):
                        child = file.parent / given.group(1)
                    mod.children[name] = read(mod.path + (name,), child, mod)
                else:
                    k, d = at + m.end(), 1
                    while d:
                        d += {"{": 1, "}": -1}.get(text[k], 0)
                        k += 1
                    child = Module(mod.path + (name,), file, mod, (at + m.end() - 1, k))
                    modules.append(child)
                    inline.append(child)
                    mod.children[name] = child
            elif m := USE.match(s):
                mod.uses.extend(parse_use(m.group(2)))
                use_spans.append((at, at + m.end()))
            elif m := ITEM.match(s) or MACRO.match(s):
                mod.items.add(m.group(1))
        for m in PATH.finditer(text):
            if any(a <= m.start() < b for a, b in use_spans):
                continue
            owner = max((x for x in inline if x.span[0] <= m.start() < x.span[1]), key=lambda x: len(x.path))
            owner.paths.append([p.strip() for p in m.group(0).split("::")])
        return top

    crate = read((), root_file, None)
    return crate, modules


def resolver(crate):
    def lookup(mod, name, seen):
        """What `name` means inside `mod`: ("mod", Module) or ("item", file), or None."""
        if name in mod.children:
            return ("mod", mod.children[name])
        if name in mod.items:
            return ("item", mod.file)
        for segs, alias in mod.uses:
            if alias == name:
                return resolve(mod, segs, seen)
        for segs, alias in mod.uses:
            if alias == "*":
                target = resolve(mod, segs, seen)
                if target and target[0] == "mod" and (found := lookup(target[1], name, seen)):
                    return found
        return None

    def resolve(mod, segs, seen=frozenset()):
        key = (mod.path, tuple(segs))
        if key in seen or not segs:
            return None
        seen = seen | {key}
        first = segs[0]
        if first == "crate":
            cur = ("mod", crate)
        elif first == "self":
            cur = ("mod", mod)
        elif first == "super":
            cur = ("mod", mod.parent)
        else:
            cur = lookup(mod, first, seen)
        for seg in segs[1:]:
            if cur is None or cur[0] == "item":
                break  # an enum variant or associated item stays in the item's file
            cur = ("mod", cur[1].parent) if seg == "super" else lookup(cur[1], seg, seen)
        return cur

    return resolve


def circles(graph):
    """Tarjan's strongly connected components of more than one file."""
    index, low, on, stack, found = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
                on.discard(comp[-1])
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def add_edges(edges, modules, resolve):
    """Adds an edge (from file, to file) -> paths for every reference that leaves its file."""
    for mod in modules:
        local = set(mod.children) | {alias for _, alias in mod.uses} | {"crate", "super", "self"}
        for segs in [s for s, _ in mod.uses if s] + mod.paths:
            if segs[0] not in local:
                continue  # another crate, a type's associated item, an enum of this file
            target = resolve(mod, segs)
            if target is None:
                continue
            to = target[1].file if target[0] == "mod" else target[1]
            # A path that stops at a module (`use super::rows;`) is an edge once it is used.
            if to != mod.file and not (target[0] == "mod" and len(segs) == 1):
                edges[(mod.file, to)].add("::".join(segs))


def main(argv):
    show_edges = "--edges" in argv
    args = [a for a in argv if a != "--edges"]
    src = Path(args[0] if args else "src")
    edges, files = defaultdict(set), set()
    for root in ("lib.rs", "main.rs"):  # the library crate and the binary's own modules
        crate, modules = read_crate(src / root)
        files |= {m.file for m in modules}
        add_edges(edges, modules, resolver(crate))
    graph = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
        graph[b]
    name = lambda f: str(f.relative_to(src))
    if show_edges:
        for (a, b), paths in sorted(edges.items()):
            print(f"{name(a)} -> {name(b)} ({', '.join(sorted(paths))})")
    found = circles(graph)
    if not found:
        print(f"no import circle in {src}: {len(files)} files, {len(edges)} file-to-file edges")
        return 0
    for comp in found:
        print("circle: " + ", ".join(name(f) for f in comp))
        for a in comp:
            for b in comp:
                if (a, b) in edges:
                    print(f"  {name(a)} -> {name(b)} ({', '.join(sorted(edges[(a, b)]))})")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
