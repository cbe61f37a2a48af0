"""``byhand export NAME``: one block as one standalone file that needs only torch (and NumPy).

The file is cut from ``src/`` by reading it, not kept by hand: the block's definition, then
every name it uses, followed through the package (``F.linear`` into ``byhand.nn.functional``,
``init.kaiming_uniform_`` into ``byhand.nn.init``, a base class, a module-level constant) until
only torch, NumPy and the standard library are left. Each definition is copied with its comments
and docstring; a reference such as ``F.linear`` becomes the plain name ``linear`` of the copied
function. Nothing of byhand is imported by the result.

``NAME`` is the name as PyTorch spells it (``Linear``, ``GELU``, ``AdamW``,
``CosineAnnealingLR``, ``scaled_dot_product_attention``) or a registry name (``nn.Linear``,
``classic.conv_forward_fast``).
"""

import ast
import builtins
import difflib
import importlib
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ExportError", "Export", "block_names", "export", "export_all", "resolve", "write"]

# Where a bare name is looked for, in order: ``Linear`` is ``byhand.nn.Linear``.
SEARCH = (
    "byhand.nn",
    "byhand.nn.functional",
    "byhand.optim",
    "byhand.optim.lr_scheduler",
    "byhand.classic",
)
SNIPPET_MARKER = "# --8<--"


class ExportError(ValueError):
    """A name that is no block, or source the exporter cannot cut out (one line)."""


@dataclass
class _Module:
    """One parsed source file of byhand: its top-level definitions and its imports."""

    name: str
    path: Path
    lines: list  # the file's lines as bytes (AST column offsets count UTF-8 bytes)
    top: dict  # name -> the top-level statement that binds it (def, class, assignment)
    imports: dict  # local alias -> (module, attribute or None, the statement's text)


@dataclass
class _Definition:
    """A top-level statement to copy, and the references in it to rewrite."""

    key: tuple  # (module name, name)
    node: ast.stmt
    # (node to replace, key it refers to, names bound where it stands)
    sites: list = field(default_factory=list)
    deps: list = field(default_factory=list)  # keys, in order of first use
    imports: set = field(default_factory=set)  # import statements it needs


_modules = {}


def _module(name):
    if name not in _modules:
        module = importlib.import_module(name)
        path = Path(inspect.getsourcefile(module))
        source = path.read_bytes()
        tree = ast.parse(source, filename=str(path))
        top, imports = {}, {}
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                top[stmt.name] = stmt
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    for node in ast.walk(target):
                        if isinstance(node, ast.Name) and node.id != "__all__":
                            top[node.id] = stmt
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        text = f"import {alias.name} as {alias.asname}"
                        imports[alias.asname] = (alias.name, None, text)
                    else:  # ``import torch.nn`` binds ``torch``
                        root = alias.name.split(".")[0]
                        imports[root] = (root, None, f"import {alias.name}")
            elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0:
                for alias in stmt.names:
                    if alias.name == "*":
                        continue
                    local = alias.asname or alias.name
                    text = f"from {stmt.module} import {alias.name}"
                    text += f" as {alias.asname}" if alias.asname else ""
                    imports[local] = (stmt.module, alias.name, text)
        _modules[name] = _Module(name, path, source.splitlines(keepends=True), top, imports)
    return _modules[name]


def _is_ours(module_name):
    return module_name == "byhand" or module_name.startswith("byhand.")


# --- finding a name's definition --------------------------------------------------------------
def _locate(obj, hint, via):
    """``(module, name)`` of the top-level statement in byhand's source that defines ``obj``."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(module, str) and _is_ours(module) and qualname and "." not in qualname:
        if qualname in _module(module).top:
            return module, qualname
    # A constant or an object made by a call (``partial``): the module binding ``hint`` to it.
    candidates = [via] + sorted(m for m in sys.modules if _is_ours(m) and m != via)
    for name in candidates:
        mod = sys.modules.get(name)
        if mod is None or getattr(mod, "__file__", None) is None:
            continue
        if getattr(mod, hint, _MISSING) is obj and hint in _module(name).top:
            return name, hint
    raise ExportError(f"cannot find the source of {via}.{hint}")


_MISSING = object()


def _resolve_global(module, name):
    """What a global ``name`` of ``module`` is: ``("def", key)``, ``("module", obj)``,
    ``("import", text)`` or ``("builtin", None)``."""
    if name in module.top:
        return "def", (module.name, name)
    if name in module.imports:
        source, attr, text = module.imports[name]
        if not _is_ours(source):
            return "import", text
        obj = importlib.import_module(source)
        if attr is not None:
            obj = getattr(obj, attr)
        if isinstance(obj, types.ModuleType):
            return "module", obj
        return "def", _locate(obj, attr, source)
    if hasattr(builtins, name):
        return "builtin", None
    raise ExportError(f"{module.name}: cannot resolve the global name {name!r}")


# --- scopes -----------------------------------------------------------------------------------
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _bound(nodes):
    """Names bound directly in a function body (nested scopes contribute only their name)."""
    names, declared = set(), set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            stack.extend(node.decorator_list)
            if not isinstance(node, ast.ClassDef):
                stack.extend(_defaults(node.args))
            else:
                stack.extend(node.bases)
            continue
        if isinstance(node, ast.Lambda):
            stack.extend(_defaults(node.args))
            continue
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        stack.extend(ast.iter_child_nodes(node))
    return names - declared


def _defaults(args):
    return [d for d in args.defaults + args.kw_defaults if d is not None]


def _arg_names(args):
    every = args.posonlyargs + args.args + args.kwonlyargs
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return {a.arg for a in every}


def _references(node):
    """``(expression, enclosing function locals)`` for every Name or attribute chain in
    ``node`` (a top-level statement) that reads a module-level name."""
    found = []

    def visit(item, scopes, class_locals=None):
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            outer = [*item.decorator_list] if not isinstance(item, ast.Lambda) else []
            outer += _defaults(item.args)
            for arg in ast.walk(item.args):
                if isinstance(arg, ast.arg) and arg.annotation is not None:
                    outer.append(arg.annotation)
            if getattr(item, "returns", None) is not None:
                outer.append(item.returns)
            for expr in outer:
                visit(expr, scopes, class_locals)
            body = item.body if isinstance(item.body, list) else [item.body]
            inner = scopes + [_arg_names(item.args) | _bound(body)]
            for stmt in body:
                visit(stmt, inner)
            return
        if isinstance(item, ast.ClassDef):
            for expr in [*item.decorator_list, *item.bases, *(k.value for k in item.keywords)]:
                visit(expr, scopes, class_locals)
            own = _bound(item.body)
            for stmt in item.body:
                visit(stmt, scopes, own)
            return
        if isinstance(item, ast.Attribute):
            chain = item
            while isinstance(chain, ast.Attribute):
                chain = chain.value
            if isinstance(chain, ast.Name) and not _local(chain.id, scopes, class_locals):
                found.append((item, scopes))
                return
        if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Load):
            if not _local(item.id, scopes, class_locals):
                found.append((item, scopes))
            return
        for child in ast.iter_child_nodes(item):
            visit(child, scopes, class_locals)

    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        if node.value is not None:
            visit(node.value, [])
    else:
        visit(node, [])
    return found


def _local(name, scopes, class_locals):
    return any(name in scope for scope in scopes) or bool(class_locals and name in class_locals)


# --- collecting what a block needs ------------------------------------------------------------
def _collect(roots):
    """Every definition the ``roots`` (keys) need, dependencies first."""
    definitions, order, visiting = {}, [], set()

    def need(key):
        if key in definitions or key in visiting:
            return
        visiting.add(key)
        module = _module(key[0])
        node = module.top[key[1]]
        item = _Definition(key, node)
        definitions[key] = item
        for expr, scopes in _references(node):
            names = set().union(*scopes) if scopes else set()
            target = _rewrite_target(module, expr, item)
            if target is None:
                continue
            replaced, dep = target
            item.sites.append((replaced, dep, names))
            if dep != key and dep not in item.deps:
                item.deps.append(dep)
        for dep in item.deps:
            need(dep)
        visiting.discard(key)
        order.append(item)

    for root in roots:
        need(root)
    return order


def _rewrite_target(module, expr, item):
    """``(node to replace, key)`` when ``expr`` reads a byhand definition; records imports."""
    chain = []
    root = expr
    while isinstance(root, ast.Attribute):
        chain.append(root)
        root = root.value
    chain.reverse()  # innermost attribute first: F.linear -> [F.linear]
    kind, value = _resolve_global(module, root.id)
    if kind == "builtin":
        return None
    if kind == "import":
        item.imports.add(value)
        return None
    if kind == "def":
        return root, value
    obj = value  # a byhand module: walk the attributes until the first non-module object
    for node in chain:
        child = getattr(obj, node.attr, _MISSING)
        if child is _MISSING:
            raise ExportError(f"{module.name}: {obj.__name__} has no attribute {node.attr!r}")
        if not isinstance(child, types.ModuleType):
            return node, _locate(child, node.attr, obj.__name__)
        obj = child
    raise ExportError(f"{module.name}: uses the module {obj.__name__} itself; cannot inline it")


# --- rendering --------------------------------------------------------------------------------
def _names(order):
    """The name each definition gets in the file: its own, unless that would clash."""
    taken, names = {}, {}
    for item in order:
        names[item.key] = item.key[1]
        taken.setdefault(item.key[1], []).append(item.key)
    shadowed = {dep for item in order for _, dep, bound in item.sites if dep[1] in bound}
    for item in order:
        name = item.key[1]
        if len(taken[name]) > 1 or item.key in shadowed:
            prefix = item.key[0].rsplit(".", 1)[-1]
            if ".functional" in item.key[0]:
                prefix = "functional"
            if len(taken[name]) == 1 or taken[name][0] != item.key:
                names[item.key] = f"{prefix}_{name.lstrip('_')}"
    return names


def _start(node, lines):
    """First line (1-based) of a statement: its decorators, and the comments right above."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    while first > 1:
        above = lines[first - 2].strip()
        if above.startswith(b"#") and not above.startswith(SNIPPET_MARKER.encode()):
            first -= 1
        else:
            break
    return first


def _render(item, names, modules):
    module = modules[item.key[0]]
    node = item.node
    first, last = _start(node, module.lines), node.end_lineno
    lines = module.lines[first - 1 : last]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    text = b"".join(lines)

    def at(lineno, col):
        return offsets[lineno - first] + col

    edits = []
    for replaced, dep, _ in item.sites:
        edits.append(
            (
                at(replaced.lineno, replaced.col_offset),
                at(replaced.end_lineno, replaced.end_col_offset),
                names[dep],
            )
        )
    own = names[item.key]
    if own != item.key[1]:
        edits.append(_rename_edit(item, text, at, own))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new.encode() + text[end:]
    kept = [
        line
        for line in text.decode().splitlines()
        if not line.strip().startswith(SNIPPET_MARKER)
    ]
    return "\n".join(kept).rstrip() + "\n"


def _rename_edit(item, text, at, new):
    node, name = item.node, item.key[1]
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name) and sub.id == name:
                    return (
                        at(sub.lineno, sub.col_offset),
                        at(sub.lineno, sub.end_col_offset),
                        new,
                    )
    keyword = b"class " if isinstance(node, ast.ClassDef) else b"def "
    start = text.index(keyword + name.encode(), at(node.lineno, 0)) + len(keyword)
    return start, start + len(name.encode()), new


def _import_order(text):
    """Imports sorted as ruff's isort does: standard library, then third party, by module."""
    module = text.split()[1]
    root = module.split(".")[0]
    third = root not in sys.stdlib_module_names
    return (third, text.startswith("from "), module.lower(), text)


@dataclass
class Export:
    """The standalone file of one block: ``source`` and the names it defines."""

    name: str  # the block as asked for
    qualified: str  # where it lives in byhand, e.g. "byhand.nn.Linear"
    definitions: list  # (module, name, name in the file), dependencies first
    source: str


def resolve(name):
    """The root keys (``(module, name)``) and the qualified byhand name of block ``name``."""
    candidates = _lookup_candidates(name)
    for qualified in candidates:
        parent, _, attr = qualified.rpartition(".")
        try:
            module = importlib.import_module(parent)
        except ImportError:
            continue
        obj = getattr(module, attr, _MISSING)
        if obj is _MISSING or isinstance(obj, types.ModuleType):
            continue
        key = _locate(obj, attr, parent)
        roots = [key]
        if "_forward" in key[1]:  # the classic track: a forward goes with its backward(s)
            backward = key[1].replace("_forward", "_backward", 1)
            for other in (backward, backward + "_alt"):
                if other in _module(key[0]).top:
                    roots.append((key[0], other))
        return roots, qualified
    near = difflib.get_close_matches(name, block_names(), n=5, cutoff=0.6)
    hint = f"; did you mean: {', '.join(near)}" if near else "; see byhand export --list"
    raise ExportError(f"no block named {name!r}{hint}")


def _lookup_candidates(name):
    name = name.strip()
    for prefix in ("byhand.", "torch."):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if not name or not all(part.isidentifier() for part in name.split(".")):
        return []
    if "." in name:
        return [f"byhand.{name}"]
    return [f"{package}.{name}" for package in SEARCH]


def block_names():
    """Every name ``byhand export`` takes in its short form (``Linear``, ``gelu``, ...)."""
    names = []
    for package in SEARCH:
        module = importlib.import_module(package)
        for attr in getattr(module, "__all__", None) or dir(module):
            obj = getattr(module, attr, None)
            if attr.startswith("_") or isinstance(obj, types.ModuleType) or obj is None:
                continue
            if (isinstance(obj, type) or callable(obj)) and attr not in names:
                names.append(attr)
    return names


def export(name, format=True):
    """The standalone file of block ``name`` as an ``Export`` (raises ``ExportError``).

    ``format``: pass the file through ``ruff format`` when ruff is installed.
    """
    from byhand import __version__

    roots, qualified = resolve(name)
    order = _collect(roots)
    names = _names(order)
    imports = sorted({text for item in order for text in item.imports}, key=_import_order)
    third = [t for t in imports if _import_order(t)[0]]
    stdlib = [t for t in imports if not _import_order(t)[0]]
    shown = qualified.removeprefix("byhand.")
    parts = [
        f'"""{shown}, standalone.\n\n'
        "Needs only PyTorch (NumPy for the classic track): the block and every helper it "
        "uses,\n"
        f"copied from the source of byhand {__version__} (src/byhand/) by\n\n"
        f"    byhand export {name}\n\n"
        'Paste it, import it, use it.\n"""\n',
    ]
    import_block = "\n".join(stdlib) + ("\n\n" if stdlib and third else "") + "\n".join(third)
    if import_block.strip():
        parts.append(import_block + "\n")
    previous = None
    for item in order:
        text = _render(item, names, _modules)
        if item.key[0] != previous:
            text = f"# --- from {_relative(item.key[0])} ---\n" + text
            previous = item.key[0]
        parts.append(text)
    source = parts[0] + "\n" + "\n\n".join(parts[1:])
    if import_block.strip() and isinstance(order[0].node, (ast.Assign, ast.AnnAssign)):
        # isort's rule: one blank line between the imports and a first assignment, not two
        source = source.replace(import_block + "\n\n\n", import_block + "\n\n", 1)
    source = _formatted(source) if format else source
    definitions = [(item.key[0], item.key[1], names[item.key]) for item in order]
    return Export(name, qualified, definitions, source)


def is_block(name):
    """Whether the registry entry ``name`` is a block that exports to one file; the whole
    networks of ``byhand.models`` (``models.resnet18``) are made of blocks, not blocks."""
    return not name.startswith("models.")


def export_all(folder):
    """Write every registry block's standalone file into ``folder`` as ``<registry name>.py``
    (``nn.Linear.py``), formatted by one ``ruff format`` run when ruff is installed; returns
    the file names."""
    from byhand.verify.registry import REGISTRY

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for entry in (e for e in REGISTRY if is_block(e.name)):
        write(export(entry.name, format=False).source, folder / f"{entry.name}.py")
        names.append(f"{entry.name}.py")
    ruff = _ruff()
    if ruff is not None:
        subprocess.run(
            [ruff, "format", "--quiet", "--no-cache", "--isolated", "--line-length", "96"]
            + [str(folder / name) for name in names],
            check=False,
        )
    return names


def _ruff():
    return shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))


def _formatted(source):
    """``source`` through ``ruff format`` when ruff is installed (a reference replaced by a
    shorter name can let a wrapped call fit on one line); unchanged otherwise."""
    ruff = _ruff()
    if ruff is None:
        return source
    config = ["--line-length", "96"]
    done = subprocess.run(
        [ruff, "format", "--no-cache", "--isolated", *config, "-"],
        input=source,
        capture_output=True,
        text=True,
    )
    return done.stdout if done.returncode == 0 and done.stdout else source


def _relative(module):
    path = _module(module).path
    parts = path.parts
    return "/".join(parts[parts.index("byhand") :]) if "byhand" in parts else path.name


def write(text, path):
    """Write ``text`` to ``path`` atomically: a temporary file beside it, then a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- the command ------------------------------------------------------------------------------
DESCRIPTION = (
    "Print one block as a standalone Python file that needs only torch (NumPy for the classic "
    "track): the block and exactly the helpers it uses, cut from byhand's source."
)


def add_arguments(parser):
    """``byhand export NAME [-o FILE] [--list]``."""
    parser.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="the block as PyTorch spells it (Linear, GELU, AdamW, CosineAnnealingLR, "
        "scaled_dot_product_attention) or a registry name (nn.Linear, "
        "classic.conv_forward_fast)",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the file here (atomically)"
    )
    parser.add_argument("--list", action="store_true", help="list the names it takes and exit")
    parser.add_argument(
        "--all",
        action="store_true",
        help="write every registry block into the folder given by -o, as NAME.py",
    )


def _usage(parser, message):
    print(f"{parser.prog}: error: {message} (see {parser.prog} --help)", file=sys.stderr)
    return 2


def run(args, parser):
    """The ``export`` command: 0 done, 2 bad input (one line on stderr)."""
    if args.list:
        print("\n".join(block_names()))
        return 0
    if args.all:
        if not args.output or args.name:
            return _usage(parser, "--all writes into the folder given by -o and takes no NAME")
        try:
            print("\n".join(export_all(args.output)))
        except (ExportError, OSError) as error:
            print(f"{parser.prog}: error: {error}", file=sys.stderr)
            return 2
        return 0
    if not args.name:
        return _usage(parser, "give a block NAME (e.g. Linear), or --list")
    try:
        result = export(args.name)
        if args.output:
            target = Path(args.output)
            if not target.parent.is_dir():
                raise ExportError(f"no folder {str(target.parent)!r} to write {target.name} in")
            write(result.source, target)
        else:
            sys.stdout.write(result.source)
    except ExportError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    return 0
