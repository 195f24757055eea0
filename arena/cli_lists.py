"""List options that take several values after one flag: `--models A B` as well as `-m A -m B`.

Click options take one value per flag. Before a command parses its arguments, every
run of bare words after a repeatable option is rewritten as repeated flags
(`--models A B` -> `--models A --models B`), keeping back as many trailing words as
the command still needs for its required positional arguments. Lists of names
(`--models`, `--judge`, `--datasets`, `--stages`) also split on commas: `--models A,B`.
"""

from __future__ import annotations

import types
from typing import Any

from typer.core import TyperGroup

# list options whose values are names, never containing a comma (`--set`, `--labels` keep theirs)
COMMA_LISTS = {"--models", "--judge", "--datasets", "--stages"}


def _values(opt: Any, value: str) -> list[str]:
    if any(o in COMMA_LISTS for o in opt.opts) and "," in value:
        return [v for v in (x.strip() for x in value.split(",")) if v] or [value]
    return [value]


def _is_option(token: str) -> bool:
    if not token.startswith("-") or token == "-":
        return False
    try:
        float(token)  # a negative number is a value
        return False
    except ValueError:
        return True


# typer ships its own copy of click: parameters are told apart by duck typing
def _option_table(cmd: Any) -> dict[str, Any]:
    return {
        name: p
        for p in cmd.params
        if p.param_type_name == "option"
        for name in (*p.opts, *p.secondary_opts)
    }


def _takes_value(opt: Any) -> bool:
    return opt is not None and not opt.is_flag and not opt.count and opt.nargs == 1


def _positionals(args: list[str], table: dict[str, Any]) -> int:
    """How many bare words in `args` are positional (option values skipped)."""
    n, i = 0, 0
    while i < len(args):
        tok = args[i]
        if tok == "--":
            return n + len(args) - i - 1
        if _is_option(tok):
            i += 2 if "=" not in tok and _takes_value(table.get(tok)) else 1
            continue
        n, i = n + 1, i + 1
    return n


def expand_list_options(cmd: Any, args: list[str]) -> list[str]:
    """`--opt a b c` -> `--opt a --opt b --opt c` for every `multiple=True` option of `cmd`."""
    table = _option_table(cmd)
    required = sum(
        1 for p in cmd.params if p.param_type_name == "argument" and p.required and p.nargs == 1
    )
    out: list[str] = []
    seen, i = 0, 0
    while i < len(args):
        tok = args[i]
        if tok == "--":
            out += args[i:]
            break
        opt = table.get(tok) if _is_option(tok) else None
        if not _is_option(tok):
            seen += 1
            out.append(tok)
            i += 1
            continue
        if "=" in tok and tok.startswith("--"):  # --models=a,b
            name, _, value = tok.partition("=")
            o = table.get(name)
            out += (
                [x for v in _values(o, value) for x in (name, v)]
                if o is not None and o.multiple
                else [tok]
            )
            i += 1
            continue
        if not _takes_value(opt) or i + 1 >= len(args):
            out.append(tok)
            i += 1
            continue
        j = i + 2
        if opt is None or not opt.multiple:
            out += [tok, args[i + 1]]
        else:
            out += [x for v in _values(opt, args[i + 1]) for x in (tok, v)]
            run_end = j
            while run_end < len(args) and not _is_option(args[run_end]):
                run_end += 1
            later = _positionals(args[run_end:], table)
            keep_back = max(0, required - seen - later)
            stop = max(j, run_end - keep_back)
            for value in args[j:stop]:
                out += [x for v in _values(opt, value) for x in (tok, v)]
            j = stop
        i = j
    return out


def _resolve(self: Any, ctx: Any, args: list[str]) -> tuple[Any, Any, list[str]]:
    name, cmd, rest = TyperGroup.resolve_command(self, ctx, args)
    if hasattr(cmd, "commands"):  # a sub-group: expand at its own commands
        cmd.resolve_command = types.MethodType(_resolve, cmd)  # type: ignore[method-assign]
    elif cmd is not None:
        rest = expand_list_options(cmd, rest)
    return name, cmd, rest


class ListOptionsGroup(TyperGroup):
    """The `arena` group: its commands (and sub-groups' commands) accept `--opt A B`."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[Any, Any, list[str]]:
        return _resolve(self, ctx, args)
