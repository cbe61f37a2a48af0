"""Child of tests/test_export.py: load every exported file with byhand unimportable, then run the
registry's parity check of each block with the exported copy in the place of byhand's.

``python -I tests/_export_parity.py MANIFEST.json`` prints one JSON object: per registry name,
whether its checks passed, their failures and how many calls reached the exported code.

Phase 1 loads every file while a meta-path finder refuses ``byhand`` (and no module of byhand
is loaded yet); each file also runs with an ``__import__`` that refuses ``byhand`` for good, so
an import hidden inside a function fails when phase 2 calls it. Phase 2 imports byhand's
registry (it needs byhand to build the inputs and PyTorch's twin) and runs the checks.
"""

import ast
import builtins
import dataclasses
import importlib
import importlib.util
import json
import sys


def refuse(name):
    return name == "byhand" or name.startswith("byhand.")


class Refuse:
    def find_spec(self, name, path=None, target=None):
        if refuse(name):
            raise ImportError(f"a standalone file imported {name}")
        return None


def guarded_builtins():
    real = builtins.__import__

    def guarded(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and refuse(name):
            raise ImportError(f"a standalone file imported {name}")
        return real(name, globals, locals, fromlist, level)

    namespace = dict(vars(builtins))
    namespace["__import__"] = guarded
    return namespace


def static_imports(source):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""


def main():
    manifest = json.loads(open(sys.argv[1], encoding="utf-8").read())
    assert not any(refuse(name) for name in sys.modules), "byhand loaded before phase 1"
    finder = Refuse()
    sys.meta_path.insert(0, finder)
    loaded, report = {}, {}
    for i, (entry_name, item) in enumerate(sorted(manifest.items())):
        source = open(item["file"], encoding="utf-8").read()
        bad = [name for name in static_imports(source) if refuse(name)]
        if bad:
            report[entry_name] = {"passed": False, "failures": [f"imports {bad}"], "calls": 0}
            continue
        spec = importlib.util.spec_from_file_location(f"standalone_{i}", item["file"])
        module = importlib.util.module_from_spec(spec)
        module.__dict__["__builtins__"] = guarded_builtins()
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            report[entry_name] = {"passed": False, "failures": [repr(error)], "calls": 0}
            continue
        loaded[entry_name] = module
    assert not any(refuse(name) for name in sys.modules), "an exported file loaded byhand"
    sys.meta_path.remove(finder)

    from byhand.check import routed, substituted
    from byhand.verify.pairs import ModulePair
    from byhand.verify.registry import entry as registry_entry

    for entry_name, module in loaded.items():
        item = manifest[entry_name]
        pairs = [
            (getattr(importlib.import_module(mod), name), getattr(module, exported))
            for mod, name, exported in item["roots"]
        ]
        entry = registry_entry(item.get("entry", entry_name))
        if isinstance(entry, ModulePair):  # parity only: finite differences cost seconds
            entry = dataclasses.replace(entry, gradcheck=False)
        failures = []
        with routed(pairs, holders=(entry.ours,)) as (counters, replacement):
            checked = substituted(entry, replacement)
            cases = entry.ids() if item.get("all_cases") else entry.ids()[:1]
            for case, mode in cases:
                try:
                    result = checked.check(case, mode)
                except Exception as error:
                    failures.append(f"[{case.label}, {mode}] raised {error!r}")
                    continue
                failures += [f"[{case.label}, {mode}] {f}" for f in result.failures]
                if not result.max_abs_err:
                    failures.append(f"[{case.label}, {mode}] compared nothing")
            calls = [counters[id(new)].count for _, new in pairs]
        report[entry_name] = {
            # the block itself ran, and (classic track) one of its backward functions did
            "passed": not failures and calls[0] > 0 and (len(calls) == 1 or any(calls[1:])),
            "failures": failures,
            "calls": calls,
            "cases": len(cases),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
